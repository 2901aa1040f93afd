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

This module runs the chapters' experiments, measures the trained models (accuracy, NLL,
calibration) and reads the papers' effects that the verdicts test (:func:`paper_mixup`,
:func:`paper_ablation`, :func:`paper_tweaks`; the verdicts themselves come from
:func:`sclib.report.verdict`); the notebooks only lay out tables and figures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import metrics, optim, papers, report, train
from .experiments import sweep

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
    return sweep(lambda a, s: run_measured(cfg.ece_bins, **_common(cfg, seed=s, schedule="cosine", mixup_alpha=a)),
                 alphas, range(cfg.seeds), desc="mixup runs", progress=progress)


def mixup_long(cfg, alphas, progress: bool = True) -> dict:
    """α -> [Trained per seed] trained for ``cfg.long_epochs`` (the "mixup needs longer" check);
    the same seeds as :func:`mixup_sweep`, so each seed's gain at both budgets can be paired."""
    return sweep(lambda a, s: run_measured(cfg.ece_bins, **_common(cfg, seed=s, epochs=cfg.long_epochs,
                                                                   schedule="cosine", mixup_alpha=a)),
                 alphas, range(cfg.seeds), desc="long runs", progress=progress)


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
    runs = sweep(lambda dl, s: run_measured(cfg.ece_bins, **_res(
        cfg, model=f"resnet{dl[0]}", epochs=1, n_train=cfg.depth_n_train,
        batch_size=cfg.depth_batch_size, schedule="constant", seed=s,
        model_kwargs=variants[dl[1]] or None)), [(d, label) for d in depths for label in variants], [0],
        desc="depth runs", progress=progress)
    return {key: r[0] for key, r in runs.items()}


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
    spec = {label: (kw, mix) for label, kw, mix in rows}
    return sweep(lambda label, s: run_measured(cfg.ece_bins, **_res(
        cfg, seed=s, schedule="cosine", model_kwargs=spec[label][0] or None,
        mixup_alpha=cfg.res_mixup_alpha if spec[label][1] else 0.0)), spec, range(cfg.res_seeds),
        desc="ZeroInit table", progress=progress)


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
    spec = dict(rows)
    return sweep(lambda label, s: run_measured(15, **_bot(cfg, **spec[label], seed=s)), spec, range(cfg.seeds),
                 desc="ablation runs", progress=progress)


# ------------------------------------------------------------------ paper effects and display


#: "ZeroInit + mixup comes close to BatchNorm + mixup": the declared equivalence margin, in
#: accuracy (1 point). The paper's own gaps are 0.7 (ResNet-50) and 0.6 points (ResNet-101).
CLOSE_MARGIN = 0.01


def paper_mixup() -> dict:
    """The mixup / ZeroInit papers' effects, as accuracy fractions (their tables print errors %):

    - ``cifar10``: mixup − ERM, CIFAR-10 PreAct ResNet-18;
    - ``budget``: how much mixup's gain grows from 90 to 200 epochs (ImageNet ResNet-50, α = 0.2),
      a difference of differences;
    - ``zeroinit_mixup``: how much more mixup helps ZeroInit than BatchNorm (ResNet-50);
    - ``zeroinit_gap``: ZeroInit + mixup − BatchNorm + mixup (ResNet-50, negative: just behind).
    """
    P = papers.value

    def gain(erm, mix):  # mixup's accuracy gain from two errors in %
        return (P(erm) - P(mix)) / 100

    m = "mixup.imagenet.resnet50."
    z = "zeroinit.table2.r50."
    return dict(
        cifar10=round(gain("mixup.cifar10.preact18.erm", "mixup.cifar10.preact18.mixup"), 6),
        budget=round(gain(m + "erm_200", m + "mixup02_200") - gain(m + "erm_90", m + "mixup02_90"), 6),
        zeroinit_mixup=round(gain(z + "zeroinit", z + "zeroinit_mixup") - gain(z + "bn", z + "bn_mixup"), 6),
        zeroinit_gap=round((P(z + "bn_mixup") - P(z + "zeroinit_mixup")) / 100, 6))


def paper_ablation(batch_size: int) -> dict:
    """The paper's cumulative ablation as our rows see it: row -> dict(top1=ImageNet top-1 %,
    before=the top-1 of the row before, effect=the change, as an accuracy *fraction* (nan for the
    first row), table=where it is printed, source=). Table 4 at the paper's batch closest to ours
    (256 or 1024), then Table 6 (ResNet-50-D), whose "efficient" row is where cosine decay starts."""
    key4 = "bot.table4.bs1024" if batch_size >= 1024 else "bot.table4.bs256"
    t4, t6 = papers.value(key4), papers.value("bot.table6.resnet50d")
    where4 = f"Table 4 ({'BS=1024' if batch_size >= 1024 else 'BS=256'})"
    tab4, tab6 = (key4, where4), ("bot.table6.resnet50d", "Table 6 (ResNet-50-D)")
    # (our row, paper top-1, paper top-1 of the row before, which table)
    pairs = [(k, t4[k], t4[prev] if prev else math.nan, tab4)
             for prev, k in zip([None, *list(t4)[:-1]], t4)]
    pairs += [(ours, t6[k], t6[prev], tab6) for ours, k, prev in (
        ("+ cosine decay", "+ cosine decay", "efficient"),
        ("+ label smoothing", "+ label smoothing", "+ cosine decay"),
        ("+ mixup", "+ mixup w/o distill", "+ label smoothing"),
        ("+ distillation", "+ distill w/ mixup", "+ mixup w/o distill"))]
    return {label: dict(top1=now, before=prev, effect=round((now - prev) / 100, 6), table=where,
                        source=papers.get(key).source)
            for label, now, prev, (key, where) in pairs}


def paper_tweaks() -> dict:
    """ResNet-C and -D against the variant each is compared with (C vs A, D vs C), from Table 5:
    variant -> dict(against=, effect=accuracy fraction, top1=, before=, source=). Our B is A
    (basic blocks), so C's effect is the paper's C − B: what the stem alone adds."""
    t5 = papers.value("bot.table5")
    return {v: dict(against=ours, effect=round((t5[v] - t5[theirs]) / 100, 6), top1=t5[v],
                    before=t5[theirs], source=papers.get("bot.table5").source)
            for v, ours, theirs in (("C", "A", "B"), ("D", "C", "C"))}


def trick_verdict(now, before, paper_effect: float, chance: float | None = None) -> report.Verdict:
    """One added trick: accuracy with it (``now``) against without it (``before``), per seed and
    paired by seed, tested in the direction the paper measured; its effect (accuracy fraction)
    sets the resolution the comparison must reach (:func:`sclib.report.verdict`)."""
    return report.verdict(now, before, claim="greater" if paper_effect > 0 else "less",
                          paper_effect=paper_effect, chance=chance)


