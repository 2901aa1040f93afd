"""The Bag-of-Tricks cumulative ablation (He et al. 2019, Tables 4, 5 and 6) as one chain of arms.

Source: the "Bag of Tricks for Image Classification with Convolutional Neural Networks" pages of
``004_939797d3d90f3ccb.txt``. The paper builds its model one change at a time: Table 4 (linear
LR scaling, LR warmup, zero γ, no bias decay, FP16) at BS=256 and BS=1024, Table 5 (the
ResNet-B/C/D tweaks, on top of Table 4's last row) and Table 6 (cosine decay, label smoothing,
mixup, distillation, on top of ResNet-50-D). :func:`chain` is that sequence as
``sclib.train.fit`` overrides, each row adding one change to the row before it:

    linear scaling → + LR warmup → + zero γ → + no bias decay → + low precision
    → ResNet-C → ResNet-D → + cosine decay → + label smoothing → + mixup (→ + distillation)

- ResNet-B is not an arm: in the CIFAR ResNet's basic block there is no 1×1 stride-2 conv to
  move the stride away from, so ResNet-B is the same network as ResNet-A
  (:func:`b_is_a` checks it, weights and outputs). C is therefore compared with A (= B).
- Low precision is ``fit(precision=...)``: bf16 autocast on a CPU, FP16 autocast with a
  GradScaler on a GPU (:func:`low_precision`); weights, optimizer and evaluation stay in float32.
  Under float64 (the smoke profile) autocast leaves every op alone, so there is no such arm.
- :func:`large_batch` is the BS=1024 column: the same first rows with the batch ``scale_k`` ×
  larger and the LR scaled linearly (:func:`linear_scaled_lr`), the same epochs.
- Every arm is scored **once, after its last epoch, on every test image** (:func:`train_arm`);
  arms that draw a curve also score :data:`CURVE_N` test images after every epoch.

The paper's numbers are read by :func:`paper_rows` and :func:`paper_large_batch`; the verdicts
come from :mod:`sclib.report`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch

from . import data as D
from . import models, optim, papers, train
from .errors import ConfigError
from .experiments import sweep

#: Test images scored after every epoch by an arm that draws a curve (class-balanced, fixed).
CURVE_N = 1000
#: Declared equivalence margin for the "no change" claims, in points of accuracy: ±1 point.
MARGIN = 1.0
#: The rows of the chain that the large-batch column repeats at scale_k × the batch.
LARGE_BATCH_ROWS = ("linear scaling", "+ LR warmup")
#: The teacher is trained with the recipe of this row (a larger model, longer).
TEACHER_RECIPE = "+ label smoothing"
#: Data sets trained with augmentation (flip + pad-and-crop, ``train.AUGMENT``): CIFAR-10, as the
#: paper augments ImageNet. Fashion-MNIST and the 8×8 digits are trained without, as is usual for
#: them, which also brings a small training set to its plateau in a few epochs.
AUGMENTED = ("cifar10",)
#: What :func:`train_arm` passes on to ``train.fit`` (besides the model options).
FIT_KEYS = ("lr", "schedule", "optimizer", "precision", "label_smoothing", "mixup_alpha", "teacher",
            "distill_T")


@dataclass
class Arm:
    """One trained run and its score on the whole test set after the last epoch."""

    history: train.History
    test_acc: float     # fraction correct on every test image; nan when the run diverged
    test_loss: float
    n_test: int
    n_curve: int = 0    # test images of the per-epoch curve (0: no curve)

    @property
    def images_per_s(self) -> float:
        """Mean training throughput of the run's epochs (images per second)."""
        return float(np.mean(self.history.images_per_s)) if self.history.images_per_s else math.nan

    @property
    def images(self) -> int:
        """Training images processed (epochs × training-set size)."""
        return len(self.history.epoch) * int(self.history.config.get("n_train", 0))


def linear_scaled_lr(base_lr: float, batch_size: int) -> float:
    """Goyal et al.'s rule as Bag of Tricks uses it: LR = base_lr × b / 256."""
    return base_lr * batch_size / 256


def step_milestones(epochs: int) -> list:
    """The baseline's step decay: ×0.1 at 50% and 75% of training (at least epoch 1)."""
    ms = sorted({max(1, round(epochs * 0.5)), max(1, round(epochs * 0.75))})
    return [m for m in ms if m < epochs] or [max(1, epochs - 1)]


def low_precision(device=None) -> str | None:
    """The low-precision mode of this device: ``"fp16"`` on CUDA (the paper's FP16, with a loss
    scaler), ``"bf16"`` on a CPU; None when torch's default dtype is float64, where autocast
    changes nothing (float64 ops are never cast)."""
    if torch.get_default_dtype() == torch.float64:
        return None
    dev = torch.device(device) if device else train.default_device()
    return "fp16" if dev.type == "cuda" else "bf16"


def _cfg_with(cfg, **over):
    return SimpleNamespace(**{**vars(cfg), **over})


def chain(cfg, precision: str | None = None) -> list:
    """The cumulative ablation: [(label, overrides)], each row the row before plus one change.

    Every LR comes from one rule, the paper's linear scaling: ``base_lr`` × batch / 256. The
    baseline's step decay divides it by 10 at 50% and 75% of the epochs
    (:func:`step_milestones`); warmup rises linearly from 0.1× over ``warmup_epochs``. The
    "+ low precision" row is left out when ``precision`` is None."""
    lr = linear_scaled_lr(cfg.base_lr, cfg.batch_size)
    step = {"kind": "step", "milestones": step_milestones(cfg.epochs), "gamma": 0.1}
    warm = dict(warmup_epochs=cfg.warmup_epochs, warmup_start_factor=0.1)
    kw = dict(lr=lr, schedule=step, optimizer="sgd", precision="fp32", model_kwargs={})
    rows = []

    def add(label, **change):
        kw.update(change)
        rows.append((label, dict(kw)))

    add("linear scaling")
    add("+ LR warmup", schedule={**step, **warm})
    add("+ zero γ", model_kwargs={"zero_gamma": True})
    add("+ no bias decay", optimizer=optim.make("torch_sgd", no_bias_decay=True))
    if precision is not None:
        add("+ low precision", precision=precision)
    add("ResNet-C", model_kwargs={"zero_gamma": True, "variant": "C"})
    add("ResNet-D", model_kwargs={"zero_gamma": True, "variant": "D"})
    add("+ cosine decay", schedule={"kind": "cosine", **warm})
    add("+ label smoothing", label_smoothing=cfg.ls_eps)
    add("+ mixup", mixup_alpha=cfg.mixup_alpha)
    return rows


def with_distillation(rows: list, teacher, distill_T: float) -> list:
    """``rows`` plus "+ distillation": the last row with the teacher's soft targets added."""
    label, kw = rows[-1]
    return [*rows, ("+ distillation", dict(kw, teacher=teacher, distill_T=distill_T))]


def large_batch(cfg, rows: list) -> dict:
    """The large-batch column: each of :data:`LARGE_BATCH_ROWS` at ``cfg.scale_k`` × the batch,
    the LR scaled linearly with it, the same epochs (so ``scale_k`` × fewer updates)."""
    big = cfg.batch_size * cfg.scale_k
    r = dict(rows)
    return {label: dict(r[label], batch_size=big, lr=linear_scaled_lr(cfg.base_lr, big))
            for label in LARGE_BATCH_ROWS}


def longer(cfg, arm: dict, times: int = 2) -> tuple:
    """(epochs, overrides): ``arm`` trained for ``times`` × the epochs with its step milestones
    moved to the same fractions of the run (the plateau check: what more training still buys)."""
    out = dict(arm)
    sched = out.get("schedule")
    if isinstance(sched, dict) and sched.get("kind") == "step":
        out["schedule"] = dict(sched, milestones=step_milestones(times * cfg.epochs))
    return times * cfg.epochs, out


def train_arm(cfg, seed: int = 0, *, model: str | None = None, epochs: int | None = None,
              batch_size: int | None = None, model_kwargs: dict | None = None, curve: bool = False,
              return_model: bool = False, **fit_kw):
    """Train one arm on ``cfg``'s data (``n_train`` / ``n_test`` of ``dataset``) and score it on
    every test image. Seed ``s`` fixes the initial weights, the data order and the augmentation,
    so arms with the same seed are paired. Returns an :class:`Arm` (and the model with
    ``return_model``). A diverged run scores nan."""
    unknown = set(fit_kw) - set(FIT_KEYS)
    if unknown:
        raise ConfigError(f"unknown arm setting(s) {sorted(unknown)}; allowed: {', '.join(FIT_KEYS)}")
    model = model or cfg.model
    aug = cfg.dataset in AUGMENTED
    tr, te = train.load_batches(cfg.dataset, batch_size=batch_size or cfg.batch_size, n_train=cfg.n_train,
                                n_test=cfg.n_test, seed=seed, augment=aug, device=cfg.device, root=cfg.root)
    watch, n_curve = None, 0
    if curve:
        xc, yc = D.subset(te.images, te.labels, min(CURVE_N, te.num_examples), seed=0)
        watch = D.Batches(xc, yc, min(1000, len(yc)), mean=tr.mean, std=tr.std, device=tr.x.device)
        n_curve = watch.num_examples
    train.seed_everything(seed)
    opts = dict(model_kwargs or {})
    net = models.create(model, num_classes=int(tr.y.max().item()) + 1, in_channels=tr.x.shape[1], **opts)
    config = dict(dataset=cfg.dataset, model=model, seed=seed, n_test=te.num_examples, augment=aug)
    if opts:
        config["model_kwargs"] = opts
    h = train.fit(net, tr, watch, epochs=epochs or cfg.epochs, momentum=cfg.momentum,
                  weight_decay=cfg.weight_decay, channels_last=bool(getattr(cfg, "channels_last", False)),
                  progress=False, config=config, **fit_kw)
    if h.diverged:
        arm = Arm(h, math.nan, math.nan, te.num_examples, n_curve)
    else:
        loss, acc = train.evaluate(net, te)
        arm = Arm(h, float(acc), float(loss), te.num_examples, n_curve)
    return (arm, net) if return_model else arm


def run_arms(cfg, arms: dict, seeds, *, curve: dict | None = None, progress: bool = True) -> dict:
    """Every arm (label -> overrides) for every seed: label -> [Arm] in seed order. ``curve``:
    label -> the seeds of that arm that also score the curve subset after every epoch."""
    curve = curve or {}
    return sweep(lambda label, s: train_arm(cfg, s, curve=s in curve.get(label, ()), **arms[label]), arms, seeds,
                 desc="ablation runs", progress=progress)


def train_teacher(cfg, rows: list):
    """The teacher: ``cfg.teacher_model`` trained for ``cfg.teacher_epochs`` with the recipe of
    :data:`TEACHER_RECIPE`, seed 0, then frozen. Returns (Arm, model)."""
    recipe = dict(rows)[TEACHER_RECIPE]
    arm, net = train_arm(cfg, 0, model=cfg.teacher_model, epochs=cfg.teacher_epochs, return_model=True,
                         **recipe)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return arm, net


def accuracy(arms) -> np.ndarray:
    """Per-seed final test accuracy in points (percent; nan for a diverged run)."""
    return np.array([100 * a.test_acc for a in arms], dtype=float)


# ------------------------------------------------------------------ deterministic checks
def b_is_a(model: str, num_classes: int, in_channels: int, seed: int = 0, **options) -> dict:
    """ResNet-B against ResNet-A built from the same seed: same parameter names and shapes, same
    initial weights, and the same outputs on a random batch (eval mode)."""
    nets = {}
    for v in ("A", "B"):
        torch.manual_seed(seed)
        nets[v] = models.create(model, num_classes, in_channels, variant=v, **options).eval()
    sa, sb = nets["A"].state_dict(), nets["B"].state_dict()
    same_shapes = list(sa) == list(sb) and all(sa[k].shape == sb[k].shape for k in sa)
    same_weights = same_shapes and all(torch.equal(sa[k], sb[k]) for k in sa)
    x = torch.randn(4, in_channels, 16, 16, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        diff = float((nets["A"](x) - nets["B"](x)).abs().max())
    return dict(same_shapes=same_shapes, same_weights=same_weights, max_output_diff=diff,
                n_params=sum(p.numel() for p in nets["B"].parameters()))


def precision_dtypes(net, x, precision: str | None) -> dict:
    """What ``fit(precision=...)`` computes in: the dtype of the logits of a forward pass under
    the same autocast as ``train.fit``, of the weights, and of the weights' gradients."""
    low = None if precision in (None, "fp32") else {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    dev = next(net.parameters()).device
    net.train()
    with torch.autocast(dev.type, dtype=low, enabled=low is not None):
        out = net(x.to(dev))
    out.float().sum().backward()
    w = next(p for p in net.parameters() if p.ndim > 1)
    dt = dict(activations=str(out.dtype).replace("torch.", ""), weights=str(w.dtype).replace("torch.", ""),
              gradients=str(w.grad.dtype).replace("torch.", ""))
    net.zero_grad(set_to_none=True)
    return dt


# ------------------------------------------------------------------ the paper's rows
def paper_rows() -> dict:
    """The paper's change for every row of :func:`chain` (and "+ distillation"), as our rows see
    it: label -> dict(top1=the row's ImageNet top-1 %, before=the previous row's, effect=the
    change in points of top-1 (nan for the first row), table=, source=).

    Table 4's BS=256 column for the first rows, its "+ FP16" row for low precision, Table 5 for
    the tweaks (B against A; C against B, which is our A) and Table 6 (ResNet-50-D, whose
    "efficient" row is Table 5's ResNet-50-D) for the rest."""
    t4, t5, t6 = papers.value("bot.table4.bs256"), papers.value("bot.table5"), papers.value("bot.table6.resnet50d")
    fp16 = papers.value("bot.table4.fp16")
    where4, where5, where6 = "Table 4 (BS=256)", "Table 5", "Table 6 (ResNet-50-D)"
    rows = [("linear scaling", t4["linear scaling"], math.nan, where4, "bot.table4.bs256"),
            ("+ LR warmup", t4["+ LR warmup"], t4["linear scaling"], where4, "bot.table4.bs256"),
            ("+ zero γ", t4["+ zero γ"], t4["+ LR warmup"], where4, "bot.table4.bs256"),
            ("+ no bias decay", t4["+ no bias decay"], t4["+ zero γ"], where4, "bot.table4.bs256"),
            ("+ low precision", fp16["BS=256"], t4["+ no bias decay"], "Table 4 (BS=256, + FP16)",
             "bot.table4.fp16"),
            ("ResNet-B", t5["B"], t5["A"], where5, "bot.table5"),
            ("ResNet-C", t5["C"], t5["B"], where5, "bot.table5"),
            ("ResNet-D", t5["D"], t5["C"], where5, "bot.table5"),
            ("+ cosine decay", t6["+ cosine decay"], t6["efficient"], where6, "bot.table6.resnet50d"),
            ("+ label smoothing", t6["+ label smoothing"], t6["+ cosine decay"], where6, "bot.table6.resnet50d"),
            ("+ mixup", t6["+ mixup w/o distill"], t6["+ label smoothing"], where6, "bot.table6.resnet50d"),
            ("+ distillation", t6["+ distill w/ mixup"], t6["+ mixup w/o distill"], where6, "bot.table6.resnet50d")]
    return {label: dict(top1=now, before=prev, effect=round(now - prev, 4), table=where,
                        source=papers.get(key).source)
            for label, now, prev, where, key in rows}


def paper_large_batch() -> dict:
    """Table 4's BS=1024 column against its BS=256 column, in points of top-1:

    - ``warmup``: + LR warmup − linear scaling, at BS=1024;
    - ``gap_linear``: BS=1024 − BS=256, linear scaling alone (negative: the large batch loses);
    - ``gap_warmup``: BS=1024 − BS=256, both with warmup;
    - ``top1``: {(column, row): top-1 %}; ``source``."""
    t256, t1024 = papers.value("bot.table4.bs256"), papers.value("bot.table4.bs1024")
    ls, wu = "linear scaling", "+ LR warmup"
    return dict(warmup=round(t1024[wu] - t1024[ls], 4),
                gap_linear=round(t1024[ls] - t256[ls], 4),
                gap_warmup=round(t1024[wu] - t256[wu], 4),
                top1={("BS=256", ls): t256[ls], ("BS=256", wu): t256[wu],
                      ("BS=1024", ls): t1024[ls], ("BS=1024", wu): t1024[wu]},
                source=papers.get("bot.table4.bs1024").source)
