"""The large-batch chapter's experiments: arms scored once on the whole test set, LR grids and
whether they bracket their optimum, and Smith et al.'s batch-growing schedules (their Figure 5).

- :func:`train_arm` / :func:`compare`: one seeded run (or arms × seeds) on the profile's subset.
  Each run is scored **once, after its last epoch, on every test image** (``n_test``), instead of
  a test pass after every epoch: on 2 CPU cores a per-epoch pass over 10,000 images would cost
  more than training the large batch, and one pass over all of them is less noisy than per-epoch
  passes over a few thousand. Arms that need a curve (``curve``) also score a fixed,
  class-balanced subset of :data:`CURVE_N` test images after every epoch.
- :func:`tune_lr`: the small batch's LR η, tuned as Goyal et al. tuned theirs before scaling it:
  a grid of multipliers around a reference, one tuning seed, scored on training images held out
  of the subset (never the test set), with the study's tie rule.
- :func:`bracket`: the best LR of a grid by mean accuracy, and whether it has a grid point on
  each side (the optimum is bracketed) or sits at an edge.
- :func:`fig5_schedules`: decay the LR by f at each milestone; grow the batch by f instead; the
  same with a larger initial LR; and also a larger momentum. The last two raise the initial batch
  so that the noise scale g = η·N / (B·(1 − m)) starts where the others start. The batch never
  exceeds a cap; a milestone that would exceed it decays the LR by f instead (Smith et al.'s
  "hybrid" rule). :func:`stretch` lengthens any of these schedules for a plateau check.

Figure 5 read as a number (parameter updates each arm needs to reach the reference arm's final
curve accuracy, seed by seed) is :func:`sclib.experiments.tta_rows` with ``cost="updates"``.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from . import data as D
from . import lr_rules, models, schedules, train
from .errors import ConfigError, check_number
from .experiments import sweep

#: Test images scored after every epoch by an arm that draws a curve (a fixed class-balanced subset).
CURVE_N = 2000
#: What an arm may set (``train.fit`` arguments); everything else comes from the profile.
ARM_KEYS = ("lr", "batch_size", "momentum", "weight_decay", "schedule", "batch_schedule")


@dataclass
class Arm:
    """One trained run: its History and its score on the whole test set after the last epoch."""

    history: train.History
    test_acc: float       # fraction correct, every test image; nan when the run diverged
    test_loss: float
    n_test: int
    n_curve: int = 0      # test images of the per-epoch curve (0: no curve)

    @property
    def updates(self) -> int:
        return self.history.updates


def train_arm(cfg, seed: int = 0, *, epochs: int | None = None, curve: bool = False, holdout: int = 0,
              **arm) -> Arm:
    """Train ``cfg.model`` on ``cfg``'s subset with the arm's overrides (:data:`ARM_KEYS`) and
    score it on all ``cfg.n_test`` test images. Seed ``s`` fixes the initial weights and the data
    order, so arms with the same seed are paired. ``curve``: also score :data:`CURVE_N` test
    images after every epoch (``history.test_acc``). ``holdout`` > 0: score ``holdout`` training
    images held out of the subset instead of the test set (for tuning). A diverged run scores nan."""
    unknown = set(arm) - set(ARM_KEYS)
    if unknown:
        raise ConfigError(f"unknown arm setting(s) {sorted(unknown)}; allowed: {', '.join(ARM_KEYS)}")
    kw = dict(lr=cfg.lr, batch_size=cfg.batch_size, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
              schedule="constant", batch_schedule=None)
    kw.update(arm)
    if holdout:  # the same training batches as below; the scored images come from the training split
        check_number("holdout", holdout, lo=1, integer=True)
        tr, te = lr_rules.batches(cfg.dataset, batch_size=kw.pop("batch_size"), n_train=cfg.n_train,
                                  n_eval=holdout, eval="holdout", seed=seed, device=cfg.device, root=cfg.root)
    else:
        tr, te = train.load_batches(cfg.dataset, batch_size=kw.pop("batch_size"), n_train=cfg.n_train,
                                    n_test=cfg.n_test, seed=seed, device=cfg.device, root=cfg.root)
    watch, n_curve = None, 0
    if curve:
        xc, yc = D.subset(te.images, te.labels, min(CURVE_N, te.num_examples), seed=0)
        watch = D.Batches(xc, yc, min(1000, len(yc)), mean=tr.mean, std=tr.std, device=tr.x.device)
        n_curve = watch.num_examples
    train.seed_everything(seed)
    net = models.create(cfg.model, num_classes=int(tr.y.max().item()) + 1, in_channels=tr.x.shape[1])
    h = train.fit(net, tr, watch, epochs=epochs or cfg.epochs, progress=False,
                  channels_last=bool(getattr(cfg, "channels_last", False)),
                  config=dict(dataset=cfg.dataset, model=cfg.model, seed=seed, n_test=te.num_examples,
                              augment=True), **kw)
    if h.diverged:
        return Arm(h, math.nan, math.nan, te.num_examples, n_curve)
    loss, acc = train.evaluate(net, te)
    return Arm(h, float(acc), float(loss), te.num_examples, n_curve)


def compare(cfg, methods: dict, seeds, *, epochs: int | None = None, curve=(), curve_seeds=None,
            progress: bool = True) -> dict:
    """Every arm (label -> overrides) for every seed: label -> list of :class:`Arm` in seed
    order. Labels in ``curve`` score the curve subset after every epoch (only for the seeds in
    ``curve_seeds``, when given)."""
    def one(label, s):
        watch = label in curve and (curve_seeds is None or s in curve_seeds)
        return train_arm(cfg, s, epochs=epochs, curve=watch, **methods[label])

    return sweep(one, methods, seeds, progress=progress)


def tune_lr(cfg, arm: dict, *, holdout: int, seed: int = lr_rules.TUNE_SEED,
            multipliers=lr_rules.MULTIPLIERS, tol: float = lr_rules.TOL, extend: int = 1) -> dict:
    """The arm's LR (its ``lr``: the reference) times the multiplier that scores best on
    ``holdout`` held-out training images, trained with the tuning ``seed`` (not a compared one).
    The study's tuning rule (:func:`sclib.pipeline_study.tune_grid`): ×1 is kept unless another
    multiplier is more than ``tol`` better; a winner at an edge of the grid extends it once.
    Returns ``lr`` (tuned), ``reference``, ``multiplier``, ``at_edge``, ``scores`` (multiplier ->
    held-out accuracy, 0 for a diverged run) and ``runs`` (multiplier -> :class:`Arm`)."""
    from .pipeline_study import tune_grid  # the tuning rule of the one-cycle chapters

    ref = float(arm["lr"])
    runs = {}

    def score(m):
        runs[m] = train_arm(cfg, seed, holdout=holdout, **dict(arm, lr=ref * m))
        return 0.0 if math.isnan(runs[m].test_acc) else runs[m].test_acc

    scores, m, edge = tune_grid(score, multipliers=multipliers, tol=tol, extend=extend)
    return dict(lr=ref * m, reference=ref, multiplier=m, at_edge=edge, scores=scores, runs=runs)


def accuracy(arms) -> np.ndarray:
    """Per-seed final test accuracy in points (nan for a diverged run)."""
    return np.array([100 * a.test_acc for a in arms], dtype=float)


def bracket(grid: dict) -> dict:
    """Where the best of an LR grid lies. ``grid``: LR -> per-seed accuracies (a run that
    diverged, nan, makes its LR the worst). Returns ``best`` (the LR with the highest mean),
    ``interior`` (True when the grid has an LR on each side of it: the optimum is bracketed),
    ``edge`` ("low", "high" or None) and ``means`` (LR -> mean, -inf when a run diverged)."""
    if len(grid) < 3:
        raise ConfigError(f"a grid needs at least 3 learning rates to bracket an optimum, got {len(grid)}")
    means = {}
    for lr, vals in grid.items():
        v = np.asarray(vals, dtype=float)
        means[lr] = float(v.mean()) if v.size and np.isfinite(v).all() else -math.inf
    lrs = sorted(means)
    best = max(lrs, key=lambda lr: (means[lr], -lr))  # ties: the smaller LR
    edge = "low" if best == lrs[0] else "high" if best == lrs[-1] else None
    return dict(best=best, interior=edge is None, edge=edge, means=means)


# ---------------------------------------------------------------- Smith et al., Figure 5
def step_decay(factor: float, milestones) -> dict:
    """The LR divided by ``factor`` at every milestone (epochs)."""
    check_number("factor", factor, lo=1, lo_open=True)
    return dict(kind="step", milestones=list(milestones), gamma=1.0 / factor)


def grow_batch(*, batch: int, lr: float, factor: int, milestones, cap: int, momentum: float | None = None) -> dict:
    """Smith et al.'s "increase the batch instead of decaying the LR" as ``train.fit`` overrides:
    at every milestone the batch grows by ``factor`` while it stays within ``cap``; a milestone
    that would take it past the cap divides the LR by ``factor`` instead."""
    check_number("batch", batch, lo=1, integer=True)
    check_number("cap", cap, lo=batch, integer=True)
    grow, decay, b = [], [], batch
    for m in milestones:
        if b * factor <= cap:
            b *= factor
            grow.append(m)
        else:
            decay.append(m)
    out = dict(batch_size=batch, lr=lr, schedule=step_decay(factor, decay) if decay else "constant")
    if grow:
        out["batch_schedule"] = dict(milestones=grow, factor=factor)
    if momentum is not None:
        out["momentum"] = momentum
    return out


def fig5_schedules(*, batch: int, lr: float, momentum: float, factor: int, milestones, lr_ratio: float,
                   momentum_to: float, cap: int | None = None) -> dict:
    """Smith et al.'s four curves of Figure 5, as ``train.fit`` overrides:

    - "decay LR": batch ``batch`` throughout, LR ÷ ``factor`` at every milestone;
    - "increasing batch": the batch × ``factor`` at every milestone instead, LR fixed;
    - "increased initial LR": LR × ``lr_ratio`` and, to start at the same noise scale
      g = η·N/(B(1 − m)), the initial batch × ``lr_ratio``;
    - "increased momentum": also momentum ``momentum_to``, and the initial batch × a further
      (1 − m)/(1 − m'). 

    ``cap`` (default: ``batch · factor^len(milestones)``, the largest batch of "increasing batch")
    bounds every batch; past it the LR decays instead (:func:`grow_batch`)."""
    check_number("lr_ratio", lr_ratio, lo=1)
    check_number("momentum_to", momentum_to, lo=momentum, hi=1, hi_open=True)
    ms = list(milestones)
    cap = int(cap or batch * factor ** len(ms))
    b_lr = int(round(batch * lr_ratio))
    b_mom = int(round(batch * lr_ratio * (1 - momentum) / (1 - momentum_to)))
    if b_mom > cap:
        raise ConfigError(f"the increased-momentum arm starts at batch {b_mom}, above the cap {cap}")
    return {
        "decay LR": dict(batch_size=batch, lr=lr, momentum=momentum, schedule=step_decay(factor, ms)),
        "increasing batch": grow_batch(batch=batch, lr=lr, factor=factor, milestones=ms, cap=cap, momentum=momentum),
        "increased initial LR": grow_batch(batch=b_lr, lr=lr * lr_ratio, factor=factor, milestones=ms, cap=cap,
                                           momentum=momentum),
        "increased momentum": grow_batch(batch=b_mom, lr=lr * lr_ratio, factor=factor, milestones=ms, cap=cap,
                                         momentum=momentum_to),
    }


def stretch(arm: dict, times: int) -> dict:
    """The same arm over ``times`` × the epochs: every milestone and the warmup scaled by ``times``
    (a plateau check: does the same recipe, run longer, still gain?)."""
    check_number("times", times, lo=1, integer=True)
    out = copy.deepcopy(arm)
    spec = schedules.normalize(out.get("schedule", "constant"))
    if "milestones" in spec:
        spec["milestones"] = [times * m for m in spec["milestones"]]
    if "warmup_epochs" in spec:
        spec["warmup_epochs"] = times * spec["warmup_epochs"]
    out["schedule"] = spec
    if out.get("batch_schedule"):
        out["batch_schedule"]["milestones"] = [times * m for m in out["batch_schedule"]["milestones"]]
    return out


