"""003's KPI with fair arms: a conventional step schedule for N epochs against 003's one-cycle for
fractions of N, each arm's learning rate found by the same procedure.

``003_4ce0f1eb6a214195.txt`` reports one-cycle "within 3% of baseline in a quarter of the number
of epochs" without describing its baseline. A comparison of schedules says something only when
both are trained as well as the procedure allows, so this module gives the two arms one recipe:

- **Data** (:class:`Scale`, :func:`train_batches`, :func:`eval_batches`): the training subset of
  :func:`sclib.lr_rules.split` (the one :func:`sclib.train.load_batches` uses), with or without
  the dataset's augmentation; evaluation on the test split (``eval="test"``) or on training images
  held out of the subset (``eval="holdout"``), which judge the LR choices so that the test set
  judges only the final comparison.
- **Arms** (:func:`schedule`): ``step`` (LR, ÷10 at 50% and 75% of the run) and ``onecycle``
  (003's schedule read literally, the ``pipeline`` kind: min = max/10 at the start, max at 50%,
  min again at 90%, min/100 at the end). Both are built on LR₀, the optimal constant LR read off
  the range test: the step schedule starts at LR₀ and one-cycle peaks at 10·LR₀ (002 §4.4), so its
  minimum is LR₀ (003's min = max/10).
- **Runs** (:func:`run`): seeded as :func:`sclib.train.run`; a budget that is a fraction of an epoch
  (one-cycle at N/8 when N/8 is not whole) stops after that share of the iterations, and 003's
  schedule spans exactly the iterations run (:func:`check_onecycle_budget`: at least 10 of them, so
  that its last 10% holds one).
- **Tuning** (:func:`tune`): the whole schedule scaled by each multiplier of
  :data:`sclib.lr_rules.MULTIPLIERS`, one tuning seed, scored on held-out images; ×1 is kept unless
  another multiplier is more than ``tol`` better (:func:`sclib.lr_rules.pick_multiplier`); a kept
  multiplier at the edge of the grid extends the grid by one more factor (``extend`` times).
- **Time to target** in epochs of data: :func:`sclib.experiments.speed` and
  :func:`~sclib.experiments.tta_rows` (an evaluation after a fraction of an epoch counts as that
  fraction).
- **Cost** (:func:`planned_images`, :func:`throughput`): the training images a design needs and the
  images/s of a model here, for a pair that is too long to run at a profile.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import data as D
from . import lr_finder, lr_rules, models, papers, report, superconv, timing, train
from .errors import ConfigError, check_choice, check_number

ARMS = ("step", "onecycle")
ARM_LABELS = {"step": "step decay", "onecycle": "one-cycle"}
#: Input shape and training-split size of each dataset, for the cost of a design that is not run
#: (no data is read for it).
SHAPES = {"digits": ((1, 8, 8), 1442), "fashion_mnist": ((1, 28, 28), 60000), "cifar10": ((3, 32, 32), 50000)}


@dataclass(frozen=True)
class Scale:
    """Where a (dataset, model) pair trains: the subset, its evaluation sets and the optimizer."""
    dataset: str
    model: str
    n_train: int | None
    n_test: int | None
    n_holdout: int
    augment: bool
    batch_size: int
    momentum: float
    weight_decay: float
    channels_last: bool = False
    device: str | None = None
    root: str | None = None

    def __post_init__(self):
        check_choice("dataset", self.dataset, D.NAMES)
        check_choice("model", self.model, models.NAMES)
        check_number("batch_size", self.batch_size, lo=1, integer=True)
        check_number("n_holdout", self.n_holdout, lo=1, integer=True)

    @property
    def label(self) -> str:
        return f"{self.model} on {self.dataset}"

    def describe(self) -> str:
        """'simple, fashion_mnist (20,000 train, 5,000 test), batch 128, no augmentation'."""
        n_tr = "all" if self.n_train is None else f"{self.n_train:,}"
        n_te = "all" if self.n_test is None else f"{self.n_test:,}"
        aug = "augmented" if self.augment and train.AUGMENT[self.dataset] else "no augmentation"
        return f"{self.model}, {self.dataset} ({n_tr} train, {n_te} test), batch {self.batch_size}, {aug}"


def check_pairs(pairs, **lists) -> None:
    """Every per-pair list (name -> list) has one entry per pair; a ``pair_run`` list runs at
    least one pair."""
    for name, v in lists.items():
        if len(v) != len(pairs):
            raise ConfigError(f"{name} needs one entry per pair ({len(pairs)} pairs), got {len(v)}: {v!r}")
    if "pair_run" in lists and not any(lists["pair_run"]):
        raise ConfigError("pair_run: at least one pair must run")


# ---------------------------------------------------------------- data
_TRAIN: dict = {}
_EVAL: dict = {}


def _device(sc: Scale) -> torch.device:
    return torch.device(sc.device) if sc.device else train.default_device()


def train_batches(sc: Scale, seed: int) -> D.Batches:
    """The shuffled training :class:`sclib.data.Batches` of ``sc`` for ``seed`` (memoized)."""
    key = (sc, seed, str(torch.get_default_dtype()))
    if key not in _TRAIN:
        x, y, _, _ = lr_rules.split(sc.dataset, n_train=sc.n_train, n_eval=sc.n_test, eval="test", root=sc.root)
        aug = train.AUGMENT[sc.dataset] if sc.augment else {}
        _TRAIN[key] = D.Batches(x, y, sc.batch_size, shuffle=True, seed=seed, device=_device(sc), **aug)
    return _TRAIN[key]


def eval_batches(sc: Scale, eval: str = "test") -> D.Batches:
    """The test subset (``eval="test"``, ``n_test`` images) or ``n_holdout`` training images held
    out of the training subset (``eval="holdout"``), normalized with the training statistics."""
    check_choice("eval", eval, lr_rules.EVALS)
    key = (sc, eval, str(torch.get_default_dtype()))
    if key not in _EVAL:
        n_eval = sc.n_test if eval == "test" else sc.n_holdout
        _, _, xe, ye = lr_rules.split(sc.dataset, n_train=sc.n_train, n_eval=n_eval, eval=eval, root=sc.root)
        tr = train_batches(sc, 0)
        _EVAL[key] = D.Batches(xe, ye, min(1000, len(ye)), mean=tr.mean, std=tr.std, device=tr.x.device)
    return _EVAL[key]


# ---------------------------------------------------------------- the arms
def schedule(kind: str, epochs: float) -> dict:
    """The schedule spec of an arm trained for ``epochs`` (base LR: the step schedule's first
    LR, or one-cycle's maximum)."""
    check_choice("arm", kind, ARMS)
    check_number("epochs", epochs, lo=0, lo_open=True)
    if kind == "step":
        return {"kind": "step", "milestones": [epochs / 2, 3 * epochs / 4], "gamma": 0.1}
    P = papers.value
    return {"kind": "pipeline", "min_ratio": P("pipeline.min_over_max"), "final_ratio": P("pipeline.annihilation"),
            "peak": P("pipeline.peak_at"), "tail": P("pipeline.annihilation_tail")}


def anchor(kind: str, lr0: float) -> float:
    """An arm's LR at multiplier ×1: LR₀ for the step schedule, 10·LR₀ (002 §4.4) as one-cycle's
    maximum, so that one-cycle's minimum (max/10, 003) is LR₀."""
    check_choice("arm", kind, ARMS)
    check_number("lr0", lr0, lo=0, lo_open=True)
    return lr0 if kind == "step" else papers.value("kth.sc.max_over_min") * lr0


def plan_epochs(epochs: float, steps_per_epoch: int) -> tuple:
    """(epochs to start, max_steps or None) of a run of ``epochs`` epochs, possibly fractional:
    a fraction of an epoch is that share of its iterations (at least one)."""
    check_number("epochs", epochs, lo=0, lo_open=True)
    check_number("steps_per_epoch", steps_per_epoch, lo=1, integer=True)
    if abs(epochs - round(epochs)) < 1e-9:
        return int(round(epochs)), None
    return math.ceil(epochs), max(1, round(epochs * steps_per_epoch))


def run(sc: Scale, kind: str, lr: float, epochs: float, *, seed: int, eval: str = "test",
        weight_decay: float | None = None, bn_momentum: float | None = None) -> train.History:
    """One seeded SGD run of arm ``kind`` (LR ``lr`` at ×1 of its schedule) for ``epochs`` epochs
    on ``sc``; the History's test metrics are on the ``eval`` set. ``weight_decay`` None: the
    scale's; ``bn_momentum`` None: PyTorch's default."""
    tr = train_batches(sc, seed)
    te = eval_batches(sc, eval)
    whole, max_steps = plan_epochs(epochs, len(tr))
    train.seed_everything(seed)
    net = models.create(sc.model, num_classes=int(tr.y.max().item()) + 1, in_channels=tr.x.shape[1])
    if bn_momentum is not None:
        superconv.set_bn_momentum(net, bn_momentum)
    cfg = dict(dataset=sc.dataset, model=sc.model, seed=seed, n_test=te.num_examples, augment=sc.augment,
               eval=eval, bn_momentum=bn_momentum, planned_epochs=float(epochs))
    return train.fit(net, tr, te, epochs=whole, lr=lr, optimizer="sgd", momentum=sc.momentum,
                     weight_decay=sc.weight_decay if weight_decay is None else weight_decay,
                     schedule=schedule(kind, epochs), channels_last=sc.channels_last, max_steps=max_steps,
                     progress=False, config=cfg)


def planned_steps(sc: Scale, epochs: float) -> int:
    """Optimizer steps of a run of ``epochs`` on ``sc`` at full size (from the design, not the
    data: the training split's size when ``n_train`` is None)."""
    n = sc.n_train or SHAPES[sc.dataset][1]
    whole, max_steps = plan_epochs(epochs, math.ceil(n / sc.batch_size))
    return whole * math.ceil(n / sc.batch_size) if max_steps is None else max_steps


def check_onecycle_budget(sc: Scale, epochs: float) -> None:
    """003's schedule anneals over its last 10% of iterations: a run needs at least 10 of them
    (fewer would leave the annihilation no iteration)."""
    tail = papers.value("pipeline.annihilation_tail")
    steps = planned_steps(sc, epochs)
    if steps * tail < 1:
        raise ConfigError(f"one-cycle of {epochs:g} epochs on {sc.label} at batch {sc.batch_size} has {steps} "
                          f"iterations; 003's schedule needs at least {math.ceil(1 / tail)} (its last {tail:.0%} "
                          f"anneal): raise the fraction, the data or the epochs, or lower the batch size")


_RANGE: dict = {}


def range_test(sc: Scale, *, seed: int, num_iter: int, start_lr: float, end_lr: float) -> lr_finder.RangeTest:
    """The LR range test of a fresh seeded model on ``sc``'s training subset (memoized: a range
    test has hooks, so the run store does not keep it)."""
    key = (sc, seed, num_iter, start_lr, end_lr, str(torch.get_default_dtype()))
    if key not in _RANGE:
        tr = train_batches(sc, seed)
        train.seed_everything(seed)
        net = models.create(sc.model, num_classes=int(tr.y.max().item()) + 1, in_channels=tr.x.shape[1])
        net = net.to(tr.x.device)
        if sc.channels_last:  # the weights' format makes every conv run channels-last
            net = net.to(memory_format=torch.channels_last)
        _RANGE[key] = lr_finder.range_test(net, tr, start_lr=start_lr, end_lr=end_lr, num_iter=num_iter,
                                           momentum=sc.momentum, weight_decay=sc.weight_decay)
    return _RANGE[key]


# ---------------------------------------------------------------- tuning with a tolerance
@dataclass
class Tuned:
    """A tuning grid's result: ``scores`` multiplier -> held-out accuracy; ``multiplier`` kept;
    ``lr`` = anchor × multiplier; ``at_edge``: the kept multiplier is the grid's smallest or
    largest (the best may lie beyond); ``runs`` multiplier -> History."""
    kind: str
    anchor: float
    scores: dict
    multiplier: float
    at_edge: bool
    runs: dict

    @property
    def lr(self) -> float:
        return self.anchor * self.multiplier


def choose(scores: dict, *, tol: float = lr_rules.TOL, default: float = 1.0) -> tuple:
    """(kept multiplier, at the edge of the grid?) by :func:`sclib.lr_rules.pick_multiplier`."""
    m = lr_rules.pick_multiplier(scores, tol=tol, default=default)
    edge = len(scores) > 1 and m != default and m in (min(scores), max(scores))
    return m, edge


def tune_grid(score, *, multipliers=lr_rules.MULTIPLIERS, tol: float = lr_rules.TOL, extend: int = 1,
              factor: float = 3.0) -> tuple:
    """Score every multiplier with ``score(m)``; while the kept one is at an edge of the grid,
    score one more, ``factor`` beyond it (at most ``extend`` times). Returns (scores, kept
    multiplier, at the edge)."""
    check_number("extend", extend, lo=0, integer=True)
    check_number("factor", factor, lo=1, lo_open=True)
    scores = {float(m): float(score(float(m))) for m in multipliers}
    m, edge = choose(scores, tol=tol)
    for _ in range(extend):
        if not edge:
            break
        new = m * factor if m == max(scores) else m / factor
        scores[new] = float(score(new))
        m, edge = choose(scores, tol=tol)
    return dict(sorted(scores.items())), m, edge


def tune(sc: Scale, kind: str, lr0: float, epochs: float, *, seed: int = lr_rules.TUNE_SEED,
         bn_momentum: float | None = None, multipliers=lr_rules.MULTIPLIERS, tol: float = lr_rules.TOL,
         extend: int = 1) -> Tuned:
    """The arm's multiplier on its anchor (:func:`anchor`), each trained for ``epochs`` with the
    tuning ``seed`` (and ``bn_momentum``, as the compared runs) and scored by the final accuracy on
    the held-out images."""
    base = anchor(kind, lr0)
    runs = {}

    def score(m):
        h = run(sc, kind, base * m, epochs, seed=seed, eval="holdout", bn_momentum=bn_momentum)
        runs[m] = h
        return 0.0 if h.diverged else h.final_test_acc

    scores, m, edge = tune_grid(score, multipliers=multipliers, tol=tol, extend=extend)
    return Tuned(kind=kind, anchor=base, scores=scores, multiplier=m, at_edge=edge, runs=runs)


# ---------------------------------------------------------------- smallest fraction
def smallest(fractions, labels: dict, wanted: str = report.REPRODUCED):
    """The smallest fraction whose label is ``wanted`` (None when none is)."""
    ok = [f for f in sorted(fractions) if labels.get(f) == wanted]
    return ok[0] if ok else None


# ---------------------------------------------------------------- cost of a design
def planned_images(n_train: int, epochs: int, *, seeds: int, fractions, plateau_seeds: int,
                   claim_fraction: float, range_iters: int, batch_size: int,
                   multipliers=lr_rules.MULTIPLIERS) -> int:
    """Training images of this page's design for one pair: the range test; the tuning grid of
    both arms (the step schedule at N epochs, one-cycle at ``claim_fraction``·N; without grid
    extensions); ``seeds`` × (the step schedule at N + one-cycle at every fraction of N); and the
    plateau check (the step schedule at 2N for ``plateau_seeds`` seeds)."""
    for name, v in (("n_train", n_train), ("epochs", epochs), ("seeds", seeds), ("range_iters", range_iters),
                    ("batch_size", batch_size)):
        check_number(name, v, lo=1, integer=True)
    check_number("plateau_seeds", plateau_seeds, lo=0, integer=True)
    runs_in_n = (seeds * (1 + sum(fractions)) + 2 * plateau_seeds + len(multipliers) * (1 + claim_fraction))
    return int(round(n_train * epochs * runs_in_n + range_iters * batch_size))


def throughput(model: str, dataset: str, *, batch_size: int, steps: int = 8, channels_last: bool = False,
               device=None) -> float:
    """Training images/s of ``model`` (SGD steps on one fixed batch of random inputs of
    ``dataset``'s shape, after a warm-up step; :mod:`sclib.timing`): what a design
    that is not run here would train at."""
    check_choice("dataset", dataset, tuple(SHAPES))
    check_number("steps", steps, lo=1, integer=True)
    shape, _ = SHAPES[dataset]
    dev = torch.device(device) if device else train.default_device()
    torch.manual_seed(0)
    net = models.create(model, num_classes=10, in_channels=shape[0]).to(dev)
    x = torch.randn(batch_size, *shape, device=dev)
    y = torch.randint(0, 10, (batch_size,), device=dev)
    return timing.train_steps(net, x, y, steps, channels_last=channels_last)
