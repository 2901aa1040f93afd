"""Choosing the learning rate from the LR range test automatically, and judging the choice by
the accuracy it leads to.

003 asks to "automate selection of learning rate in LR Range Test"; the range test itself and
four automatic readings of it are :mod:`sclib.lr_finder`. This module adds what is needed to
*validate* such readings and to use one of them fairly:

- **Rules** (:data:`RULES`): lr_finder's four, plus two readings of 004's rule ("select your
  optimal LR to be approx. one order smaller [than the minimum], or 1/2 - 1/3 as a rule of
  thumb"): ``min_over_3`` (the zero-phase minimum ÷ 3) and ``causal_min10`` (÷ 10 of the minimum
  of the causal moving average that stops the test, i.e. the same rule without the lag-free
  smoothing). Every rule is read as the optimal *constant* LR, LR₀.
- **Data** (:func:`batches`): the training subset :func:`sclib.train.load_batches` uses, and as
  the evaluation set either its test subset (``eval="test"``) or images held out of the training
  split that the training subset does not contain (``eval="holdout"``): LR choices are judged on
  held-out training images, so the test set judges only the final comparison.
- **Runs** (:func:`range_test`, :func:`run`): seeded as :func:`sclib.train.run` (a run with
  ``eval="test"`` *is* ``train.run``'s run, and shares its entry in the run store).
- **Schedules** (:func:`arm`): constant, piecewise constant (÷10 at 50% and 75%), triangular CLR
  between LR₀·``clr_min_fraction`` and LR₀ (002 §4.3), and one-cycle from LR₀ to
  ``sc_max_over_min``·LR₀ and back, annihilated to LR₀·``annihilation`` in the last 10%, with
  momentum cycled between ``sc_min_momentum`` and the optimizer's momentum (002 §4.4). Every
  LR of a schedule is proportional to LR₀, so one multiplier scales a whole schedule.
- **Choices with a stated tolerance**: :func:`pick_rule` (the best mean accuracy over dataset ×
  model pairs and seeds; rules within ``tol`` of it are tied, and the tie goes to the rule whose
  worst pair falls least short of that pair's best rule) and :func:`pick_multiplier` (a tuning
  grid around the rule's LR₀: ×1 is kept unless another multiplier beats it by more than ``tol``).
- :func:`validate_rules`: the whole rule validation (range test per pair and seed, every rule's
  LR₀ trained with the same short schedule, accuracy on held-out training images).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from . import data as D
from . import lr_finder, models, schedules, train
from .errors import ConfigError, check_choice, check_number
from .experiments import sweep

RULES = lr_finder.RULES + ("min_over_3", "causal_min10")
#: How each rule is named in tables and figures.
LABELS = {"sclib": "minimum ÷ 10 (zero-phase)", "min_over_3": "minimum ÷ 3 (zero-phase)",
          "causal_min10": "minimum ÷ 10 (causal EMA)", "fastai_valley": "fastai valley",
          "fastai_steep": "fastai steep", "torch_lr_finder": "torch-lr-finder steepest"}
ARMS = ("constant", "step", "clr", "onecycle")
ARM_LABELS = {"constant": "constant", "step": "piecewise constant", "clr": "CLR (triangular)",
              "onecycle": "one-cycle"}
MULTIPLIERS = (1 / 3, 1.0, 3.0)  #: the tuning grid around a rule's LR₀
TOL = 0.005                      #: ties: accuracies within half a point are equal for a choice
TUNE_SEED = 100                  #: the tuning runs' seed, apart from the compared seeds 0, 1, ...
EVALS = ("test", "holdout")


# ---------------------------------------------------------------- rules
def suggest(rt: lr_finder.RangeTest, rule: str) -> float:
    """LR₀ read off a range test by ``rule`` (see the module docstring)."""
    check_choice("rule", rule, RULES)
    if rule in lr_finder.RULES:
        return lr_finder.suggest(rt, rule)
    if rule == "min_over_3":
        z = lr_finder.zero_phase(rt)
        return float(np.asarray(rt.lrs, dtype=float)[: len(z)][int(np.argmin(z))] / 3)
    lrs = np.asarray(rt.lrs, dtype=float)
    s = np.asarray(rt.smoothed, dtype=float)
    ok = np.isfinite(s)
    if ok.sum() < 8:
        raise ValueError(f"range test too short for a suggestion ({int(ok.sum())} finite points)")
    return float(lrs[ok][int(np.argmin(s[ok]))] / 10)


def suggest_all(rt: lr_finder.RangeTest) -> dict:
    return {r: suggest(rt, r) for r in RULES}


# ---------------------------------------------------------------- data
def subset_mask(labels: torch.Tensor, n, seed: int = 0) -> torch.Tensor:
    """The examples ``sclib.data.subset(images, labels, n, seed)`` keeps, as a boolean mask
    (the same class-balanced draw; the order it returns them in is not needed here)."""
    mask = torch.zeros(len(labels), dtype=torch.bool)
    if n is None or n >= len(labels):
        mask[:] = True
        return mask
    g = torch.Generator().manual_seed(seed)
    classes = labels.unique()
    per = n // len(classes)
    for c in classes:
        ci = (labels == c).nonzero().flatten()
        mask[ci[torch.randperm(len(ci), generator=g)[:per]]] = True
    return mask


_SPLITS: dict = {}


def _train_subset(dataset: str, n_train, root):
    key = (dataset, n_train, str(root), "train")
    if key not in _SPLITS:
        xtr, ytr = D.load(dataset, "train", root=root)
        _SPLITS[key] = D.subset(xtr, ytr, n_train, seed=0)
    return _SPLITS[key]


def split(dataset: str, *, n_train, n_eval, eval: str = "test", root=None):
    """(train images, train labels, eval images, eval labels), uint8 as loaded, memoized.

    The training subset is ``sclib.data.subset(train split, n_train, seed=0)``, as in
    :func:`sclib.train.load_batches`. ``eval="test"``: the test split's subset of ``n_eval``;
    ``eval="holdout"``: a class-balanced ``n_eval`` of the training split's *other* images."""
    check_choice("eval", eval, EVALS)
    x, y = _train_subset(dataset, n_train, root)
    key = (dataset, n_train, n_eval, eval, str(root))
    if key not in _SPLITS:
        if eval == "test":
            xe, ye = D.load(dataset, "test", root=root)
            xe, ye = D.subset(xe, ye, n_eval, seed=0)
        else:
            xtr, ytr = D.load(dataset, "train", root=root)
            rest = ~subset_mask(ytr, n_train, seed=0)
            if int(rest.sum()) == 0:
                raise ConfigError(f"a held-out set needs n_train smaller than {dataset}'s training split "
                                  f"({len(ytr)} examples), got n_train={n_train}")
            xe, ye = D.subset(xtr[rest], ytr[rest], n_eval, seed=0)
        _SPLITS[key] = (xe, ye)
    return (x, y, *_SPLITS[key])


def train_batches(dataset: str, *, batch_size: int, n_train, seed: int = 0, device=None, root=None):
    """The shuffled, augmented training :class:`sclib.data.Batches` of :func:`split`."""
    check_number("batch_size", batch_size, lo=1, integer=True)
    x, y = _train_subset(dataset, n_train, root)
    device = torch.device(device) if device else train.default_device()
    return D.Batches(x, y, batch_size, shuffle=True, seed=seed, device=device, **train.AUGMENT[dataset])


def batches(dataset: str, *, batch_size: int, n_train, n_eval, eval: str = "test", seed: int = 0,
            device=None, root=None, test_batch_size: int = 1000):
    """(train, eval) :class:`sclib.data.Batches` of :func:`split`, augmented and normalized as
    :func:`sclib.train.load_batches` does (the eval set with the training statistics)."""
    _, _, xe, ye = split(dataset, n_train=n_train, n_eval=n_eval, eval=eval, root=root)
    tr = train_batches(dataset, batch_size=batch_size, n_train=n_train, seed=seed, device=device, root=root)
    te = D.Batches(xe, ye, min(test_batch_size, len(ye)), mean=tr.mean, std=tr.std, device=tr.x.device)
    return tr, te


# ---------------------------------------------------------------- runs
def range_test(dataset: str, model: str, *, seed: int, batch_size: int, n_train, num_iter: int,
               start_lr: float, end_lr: float, momentum: float, weight_decay: float,
               channels_last: bool = False, device=None, root=None) -> lr_finder.RangeTest:
    """The LR range test of a fresh seeded model on :func:`batches`' training subset."""
    tr = train_batches(dataset, batch_size=batch_size, n_train=n_train, seed=seed, device=device, root=root)
    train.seed_everything(seed)
    net = models.create(model, num_classes=int(tr.y.max().item()) + 1, in_channels=tr.x.shape[1])
    net = net.to(tr.x.device)
    if channels_last:  # the weights' format makes every conv run channels-last
        net = net.to(memory_format=torch.channels_last)
    return lr_finder.range_test(net, tr, start_lr=start_lr, end_lr=end_lr, num_iter=num_iter,
                                momentum=momentum, weight_decay=weight_decay)


def run(dataset: str, model: str, *, epochs: int, lr: float, schedule, seed: int, batch_size: int,
        n_train, n_eval, eval: str = "test", momentum: float = 0.9, weight_decay: float = 0.0,
        channels_last: bool = False, device=None, root=None, progress=False, desc: str = "") -> train.History:
    """One seeded SGD run, as :func:`sclib.train.run` (same seeding, model and configuration), on
    :func:`batches`; the History's test metrics are on the ``eval`` set."""
    tr, te = batches(dataset, batch_size=batch_size, n_train=n_train, n_eval=n_eval, eval=eval,
                     seed=seed, device=device, root=root)
    train.seed_everything(seed)
    net = models.create(model, num_classes=int(tr.y.max().item()) + 1, in_channels=tr.x.shape[1])
    cfg = dict(dataset=dataset, model=model, seed=seed, n_test=te.num_examples, augment=True)
    if eval != "test":
        cfg["eval"] = eval
    return train.fit(net, tr, te, epochs=epochs, lr=lr, optimizer="sgd", momentum=momentum,
                     weight_decay=weight_decay, schedule=schedule, channels_last=channels_last,
                     progress=progress, desc=desc, config=cfg)


# ---------------------------------------------------------------- the compared schedules
def arm(kind: str, lr0: float, epochs: int, *, momentum: float, clr_min_fraction: float,
        sc_max_over_min: float, sc_min_momentum: float, annihilation: float):
    """(base LR, schedule spec) of one compared schedule built on LR₀ = ``lr0``."""
    check_choice("arm", kind, ARMS)
    check_number("lr0", lr0, lo=0, lo_open=True)
    check_number("epochs", epochs, lo=1, integer=True)
    if kind == "constant":
        return lr0, {"kind": "constant"}
    if kind == "step":
        return lr0, {"kind": "step", "milestones": [epochs / 2, 3 * epochs / 4], "gamma": 0.1}
    if kind == "clr":
        return lr0, {"kind": "clr", "mode": "triangular", "base_lr": lr0 * clr_min_fraction, "max_lr": lr0,
                     "step_epochs": schedules.clr_step_epochs(epochs)}
    return lr0, {"kind": "onecycle", "max_lr": sc_max_over_min * lr0, "div_factor": float(sc_max_over_min),
                 "final_div_factor": 1 / annihilation, "pct_start": 0.45, "base_momentum": sc_min_momentum,
                 "max_momentum": momentum}


# ---------------------------------------------------------------- choices with a tolerance
def pick_multiplier(scores: dict, tol: float = TOL, default: float = 1.0):
    """The multiplier a tuning grid chooses: ``default`` (the rule's own LR) unless another one
    scores more than ``tol`` above it; then the best (the first listed among exact ties)."""
    if default not in scores:
        raise ConfigError(f"the default multiplier {default} is not among the scores {sorted(scores)}")
    best = max(scores.values())
    if scores[default] >= best - tol - 1e-12:
        return default
    return max(scores, key=lambda m: scores[m])


def rule_table(acc: dict, tol: float = TOL) -> tuple:
    """(chosen rule, per-rule summary) from ``acc``: rule -> array (pairs × seeds) of accuracies.

    Mean over all pairs and seeds; per pair, the shortfall of the rule's mean from the best
    rule's mean on that pair. Rules within ``tol`` of the best mean are tied; among them the one
    with the smallest worst-pair shortfall is chosen (then the first in :data:`RULES` order)."""
    if not acc:
        raise ConfigError("no rules to choose from")
    rules = [r for r in RULES if r in acc] + [r for r in acc if r not in RULES]
    arr = {r: np.asarray(acc[r], dtype=float) for r in rules}
    shapes = {a.shape for a in arr.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ConfigError(f"accuracies must be (pairs × seeds) arrays of one shape, got {sorted(shapes)}")
    pair_mean = {r: a.mean(axis=1) for r, a in arr.items()}
    best_pair = np.max(np.stack(list(pair_mean.values())), axis=0)
    mean = {r: float(a.mean()) for r, a in arr.items()}
    worst = {r: float(np.max(best_pair - pair_mean[r])) for r in rules}
    top = max(mean.values())
    tied = [r for r in rules if mean[r] >= top - tol - 1e-12]
    chosen = min(tied, key=lambda r: (worst[r], rules.index(r)))
    summary = [dict(rule=r, mean=mean[r], worst_shortfall=worst[r], tied=r in tied, chosen=r == chosen)
               for r in rules]
    return chosen, summary


# ---------------------------------------------------------------- the rule validation
@dataclass
class RuleStudy:
    """What :func:`validate_rules` measured. ``acc[rule]``: (pairs × seeds) held-out accuracy;
    ``lr[rule]``: the LR₀ each (pair, seed) range test gave; ``runs[rule]``: the Histories."""
    pairs: list
    seeds: list
    acc: dict = field(default_factory=dict)
    lr: dict = field(default_factory=dict)
    diverged: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)
    range_tests: dict = field(default_factory=dict)  # (pair index, seed) -> RangeTest


def validate_rules(pairs, seeds, *, epochs: int, batch_size: int, n_train, n_eval, num_iter: int,
                   start_lr: float, end_lr: float, momentum: float, weight_decay: float,
                   schedule_kind: str = "step", shape: dict, channels_last: bool = False,
                   device=None, roots: dict | None = None, rules=RULES, progress: bool = True) -> RuleStudy:
    """For every (dataset, model) pair and seed: one range test on the pair's training subset,
    every rule's LR₀ from it, and a short run of ``schedule_kind`` (see :func:`arm`, whose paper
    constants ``shape`` holds) at that LR₀ from the same initial weights and data order; the
    final accuracy on held-out training images (``n_eval``) is the rule's score."""
    pairs = [tuple(p) for p in pairs]
    seeds = list(seeds)
    roots = roots or {}
    st = RuleStudy(pairs=pairs, seeds=seeds)
    for r in rules:
        st.acc[r] = np.zeros((len(pairs), len(seeds)))
        st.lr[r] = np.zeros((len(pairs), len(seeds)))
        st.diverged[r] = 0
        st.runs[r] = {}
    def one(i, s):
        ds, net = pairs[i]
        common = dict(batch_size=batch_size, n_train=n_train, device=device, root=roots.get(ds))
        rt = range_test(ds, net, seed=s, num_iter=num_iter, start_lr=start_lr, end_lr=end_lr,
                        momentum=momentum, weight_decay=weight_decay, channels_last=channels_last, **common)
        st.range_tests[(i, s)] = rt
        for r in rules:
            lr0 = suggest(rt, r)
            lr, spec = arm(schedule_kind, lr0, epochs, momentum=momentum, **shape)
            h = run(ds, net, epochs=epochs, lr=lr, schedule=spec, seed=s, n_eval=n_eval, eval="holdout",
                    momentum=momentum, weight_decay=weight_decay, channels_last=channels_last, **common)
            j = seeds.index(s)
            st.acc[r][i, j] = h.final_test_acc
            st.lr[r][i, j] = lr0
            st.diverged[r] += int(h.diverged)
            st.runs[r][(i, s)] = h

    sweep(one, range(len(pairs)), seeds, desc="rules", unit="range test", progress=progress)
    order = [(i, s) for i in range(len(pairs)) for s in seeds]  # keyed pair by pair, as the tables read them
    st.range_tests = {k: st.range_tests[k] for k in order}
    for r in rules:
        st.runs[r] = {k: st.runs[r][k] for k in order}
    return st
