"""Mixup, ZeroInit/Fixup and the Bag-of-Tricks ablation: the experiments of two chapters.

Source: the mixup, ZeroInit ("Residual Learning Without Normalization via Better
Initialization"), Shake-Shake and "Bag of Tricks for Image Classification" pages of
``004_939797d3d90f3ccb.txt``.

- Mixup is ``sclib.train.fit(mixup_alpha=α)``: torchvision's ``transforms.v2.MixUp`` on every
  training batch (λ ~ Beta(α, α); the partner of example i is example i-1 of the same
  shuffled batch, which is the seed's "two examples drawn at random"; targets become the mixed
  one-hot vectors). One λ per batch, as in the seed's pseudo-code.
- Fixup / zero-γ / ResNet-B/C/D are options of :func:`sclib.models.create` for the CIFAR
  ResNets (``norm``, ``init``, ``zero_gamma``, ``variant``).
- Knowledge distillation is ``fit(teacher=, distill_T=)`` with the seed's loss
  (:func:`sclib.train.distill_loss`).

This module runs the chapters' experiments and measures the trained models (accuracy, NLL,
calibration); the notebooks only lay out tables and figures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import metrics, optim, train

#: mixup strengths of the issue (0 = plain ERM, the baseline).
ALPHAS = (0.0, 0.2, 0.4, 1.0)
#: CIFAR ResNet depths of the ZeroInit experiments (the gpu profile runs all three).
DEPTHS = (20, 56, 110)
#: The normalization / initialization variants (label -> models.create options).
INIT_VARIANTS = {
    "BatchNorm": dict(),
    "BatchNorm + zero-γ": dict(zero_gamma=True),
    "no norm, standard init": dict(norm="none"),
    "no norm, Fixup": dict(norm="none", init="fixup"),
}


@dataclass
class Trained:
    """One trained run and the measurements on its test set (eval mode)."""

    history: train.History
    test_acc: float
    test_nll: float
    ece: float
    mean_conf: float
    diverged: bool


@torch.no_grad()
def measure(net, test, n_bins: int = 15) -> dict:
    """Accuracy, NLL, expected calibration error and mean max-softmax confidence on ``test``."""
    net.eval()
    logits, ys = [], []
    for x, y in test:
        logits.append(net(x).float())
        ys.append(y)
    z, y = torch.cat(logits), torch.cat(ys)
    if not torch.isfinite(z).all():
        nan = float("nan")
        return dict(test_acc=float((z.argmax(1) == y).float().mean()), test_nll=nan, ece=nan, mean_conf=nan)
    p = F.softmax(z, dim=1)
    return dict(test_acc=float((z.argmax(1) == y).float().mean()),
                test_nll=float(F.cross_entropy(z, y)),
                ece=float(metrics.expected_calibration_error(p.cpu(), y.cpu(), n_bins)),
                mean_conf=float(p.max(1).values.mean()))


def run_measured(n_bins: int = 15, **run_kw) -> Trained:
    """``train.run`` and :func:`measure` on the trained model."""
    h, net, test = train.run(return_model=True, **run_kw)
    m = measure(net, test, n_bins)
    return Trained(history=h, diverged=h.diverged, **m)


def _common(cfg, **over) -> dict:
    kw = dict(dataset=cfg.dataset, model=cfg.model, epochs=cfg.epochs, batch_size=cfg.batch_size,
              lr=getattr(cfg, "lr", None), momentum=cfg.momentum, weight_decay=cfg.weight_decay, n_train=cfg.n_train,
              n_test=cfg.n_test, device=cfg.device, root=cfg.root, progress=False)
    kw.update(over)
    return kw


# ------------------------------------------------------------------ chapter mixup_fixup, part A
def mixup_sweep(cfg, alphas=ALPHAS, progress: bool = True) -> dict:
    """α -> [Trained per seed]: the same network, cosine LR decay, mixup with each α."""
    out = {a: [] for a in alphas}
    jobs = [(a, s) for s in range(cfg.seeds) for a in alphas]
    for a, s in tqdm(jobs, desc="mixup runs", unit="run", disable=not progress, mininterval=5):
        out[a].append(run_measured(cfg.ece_bins, **_common(cfg, seed=s, schedule="cosine", mixup_alpha=a)))
    return out


def mixup_long(cfg, alphas, progress: bool = True) -> dict:
    """α -> Trained: seed 0 trained for ``cfg.long_epochs`` (the "mixup needs longer" check)."""
    out = {}
    for a in tqdm(alphas, desc="long runs", unit="run", disable=not progress, mininterval=5):
        out[a] = run_measured(cfg.ece_bins, **_common(cfg, seed=0, epochs=cfg.long_epochs,
                                                     schedule="cosine", mixup_alpha=a))
    return out


# ------------------------------------------------------------------ chapter mixup_fixup, part B
def _res(cfg, **over) -> dict:
    kw = _common(cfg, dataset=cfg.res_dataset, model=cfg.res_model, epochs=cfg.res_epochs,
                 batch_size=cfg.res_batch_size, lr=cfg.res_lr, n_train=cfg.res_n_train,
                 n_test=cfg.res_n_test)
    kw.update(over)
    return kw


def trainability(cfg, depths, variants=None, progress: bool = True) -> dict:
    """(depth, label) -> Trained: ONE epoch at the BatchNorm learning rate ``cfg.res_lr``,
    constant LR (the seed's Figure 3: test accuracy after the first epoch against depth).
    The per-step training loss is in ``history.loss``."""
    variants = variants or INIT_VARIANTS
    out = {}
    jobs = [(d, label) for d in depths for label in variants]
    for d, label in tqdm(jobs, desc="depth runs", unit="run", disable=not progress, mininterval=5):
        out[(d, label)] = run_measured(cfg.ece_bins, **_res(
            cfg, model=f"resnet{d}", epochs=1, n_train=cfg.depth_n_train,
            batch_size=cfg.depth_batch_size, schedule="constant", seed=0,
            model_kwargs=variants[label] or None))
    return out


#: The rows of the ZeroInit table (label, models.create options, mixup on?).
ZEROINIT_ROWS = (
    ("BatchNorm", dict(), False),
    ("BatchNorm + mixup", dict(), True),
    ("BatchNorm zero-γ", dict(zero_gamma=True), False),
    ("BatchNorm zero-γ + mixup", dict(zero_gamma=True), True),
    ("no norm, standard init", dict(norm="none"), False),
    ("no norm, standard init + mixup", dict(norm="none"), True),
    ("Fixup", dict(norm="none", init="fixup"), False),
    ("Fixup + mixup", dict(norm="none", init="fixup"), True),
)


def zeroinit_table(cfg, rows=ZEROINIT_ROWS, progress: bool = True) -> dict:
    """label -> [Trained per seed] for the ZeroInit table's rows, cosine LR decay."""
    out = {label: [] for label, _, _ in rows}
    jobs = [(r, s) for s in range(cfg.res_seeds) for r in rows]
    for (label, kw, mix), s in tqdm(jobs, desc="ZeroInit table", unit="run", disable=not progress,
                                    mininterval=5):
        out[label].append(run_measured(cfg.ece_bins, **_res(
            cfg, seed=s, schedule="cosine", model_kwargs=kw or None,
            mixup_alpha=cfg.res_mixup_alpha if mix else 0.0)))
    return out


# ------------------------------------------------------------------ chapter bag_of_tricks
def linear_scaled_lr(base_lr: float, batch_size: int) -> float:
    """Goyal et al.'s rule as Bag of Tricks uses it: LR = base_lr × b / 256."""
    return base_lr * batch_size / 256


def step_milestones(epochs: int) -> list:
    """The baseline's step decay: ×0.1 at 50% and 75% of training (at least epoch 1)."""
    ms = sorted({max(1, round(epochs * 0.5)), max(1, round(epochs * 0.75))})
    return [m for m in ms if m < epochs] or [max(1, epochs - 1)]


def recipes(cfg, teacher=None) -> list:
    """The cumulative ablation: [(label, train.run overrides)], each row adding one trick."""
    lr = linear_scaled_lr(cfg.base_lr, cfg.batch_size)
    step = {"kind": "step", "milestones": step_milestones(cfg.epochs), "gamma": 0.1}
    warm = dict(warmup_epochs=cfg.warmup_epochs, warmup_start_factor=0.1)
    rows, kw = [], dict(lr=lr, schedule=step, optimizer="sgd", model_kwargs=None)

    def add(label, **change):
        kw.update(change)
        rows.append((label, dict(kw)))

    add("linear scaling")
    add("+ LR warmup", schedule={**step, **warm})
    add("+ zero γ", model_kwargs=dict(zero_gamma=True))
    add("+ no bias decay", optimizer=optim.make("torch_sgd", no_bias_decay=True))
    add("+ cosine decay", schedule={"kind": "cosine", **warm})
    add("+ label smoothing", label_smoothing=cfg.ls_eps)
    add("+ mixup", mixup_alpha=cfg.mixup_alpha)
    if teacher is not None:
        add("+ distillation", teacher=teacher, distill_T=cfg.distill_T)
    return rows


#: ResNet-B/C/D, trained with the "efficient" recipe (the ablation's "+ no bias decay" row).
#: B is the same network as A for basic blocks (see sclib.models.CifarResNet), so not retrained.
TWEAKS = ("C", "D")
EFFICIENT_ROW = "+ no bias decay"


def _bot(cfg, **over) -> dict:
    kw = _common(cfg, lr=linear_scaled_lr(cfg.base_lr, cfg.batch_size))
    kw.update(over)
    return kw


def train_teacher(cfg, progress: bool = True):
    """The larger teacher: ``cfg.teacher_model`` with the "+ cosine decay" recipe, seed 0.
    Returns (Trained, model)."""
    rec = dict(recipes(cfg))["+ cosine decay"]
    h, net, test = train.run(return_model=True, **_bot(cfg, **rec, model=cfg.teacher_model,
                                                       epochs=cfg.teacher_epochs, seed=0))
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    m = measure(net, test, 15)
    return Trained(history=h, diverged=h.diverged, **m), net


def ablation(cfg, teacher=None, progress: bool = True) -> dict:
    """label -> [Trained per seed] for every cumulative row and the ResNet-C/D tweaks."""
    rows = recipes(cfg, teacher)
    eff = dict(rows)[EFFICIENT_ROW]
    rows += [(f"ResNet-{v}", {**eff, "model_kwargs": {**(eff["model_kwargs"] or {}), "variant": v}})
             for v in TWEAKS]
    out = {label: [] for label, _ in rows}
    jobs = [(r, s) for s in range(cfg.seeds) for r in rows]
    for (label, kw), s in tqdm(jobs, desc="ablation runs", unit="run", disable=not progress, mininterval=5):
        out[label].append(run_measured(15, **_bot(cfg, **kw, seed=s)))
    return out


# ------------------------------------------------------------------ verdicts
def delta_verdict(ours_prev, ours_now, paper_delta: float) -> str:
    """Verdict for one added trick: our mean change (accuracy, fractions, per seed) against the
    seed spread, in the direction the paper measured."""
    a, b = np.asarray(ours_prev, float), np.asarray(ours_now, float)
    d = float(b.mean() - a.mean())
    if math.isnan(d):
        return "not measured (diverged)"
    noise = float(max(a.std(), b.std(), 0.005)) if len(a) > 1 else 0.01
    if abs(paper_delta) < 1e-9:
        return "paper: no change"
    same = d * paper_delta > 0
    if abs(d) <= noise:
        return "not significant at this scale"
    return "reproduced (same direction)" if same else "contradicted at this scale"


def tta_rows(runs: dict, baseline: str, experiment: str) -> list:
    """Rows of the time-to-accuracy table: every method against the baseline's best accuracy
    (paired by seed, see :func:`sclib.experiments.time_to_baseline`)."""
    from .experiments import time_to_baseline

    hs = {k: [t.history if isinstance(t, Trained) else t for t in v] for k, v in runs.items()}
    ttb = time_to_baseline(hs, baseline)
    target = float(np.mean([h.best_test_acc for h in hs[baseline]]))
    base_e = ttb[baseline]["epochs"]
    rows = []
    for k, r in ttb.items():
        e, s = r["epochs"], r["seconds"]
        rows.append(dict(experiment=experiment, method=str(k), target=round(100 * target, 2),
                         epochs_to_target=(round(e, 2) if math.isfinite(e) else "never"),
                         seconds_to_target=(round(s, 1) if math.isfinite(s) else "never"),
                         speedup_vs_baseline=(round(base_e / e, 2) if math.isfinite(e) else "never")))
    return rows
