"""Mixup and ZeroInit (Fixup) on CIFAR ResNets: the runs of the chapter ``mixup_fixup``.

Source: the mixup (Zhang et al. 2018) and ZeroInit/Fixup (Zhang et al. 2019) pages of source
document 004. The tools are the shared ones: mixup is ``sclib.train.fit(mixup_alpha=α)``
(torchvision's ``v2.MixUp``, one λ ~ Beta(α, α) per batch), and BatchNorm, un-normalized and
Fixup CIFAR ResNets are options of :func:`sclib.models.create` (``norm``, ``init``).

Every run is one call of :func:`train_measured`: a fixed class-balanced subset of the training
set (the same images for every seed; the seed sets the initial weights, the data order, the
augmentation and the mixing), trained by ``sclib.train.fit`` with no test set in the loop
(nothing is evaluated per epoch; the run store keeps every run without hooks), then measured
once at the end on the test subset and on the clean training images (eval mode, no augmentation): accuracy, NLL,
calibration, and the training accuracy that shows how far the network fits its data. Seed *s*
of every arm shares data order and seed, so every comparison is paired by seed.

The experiments of the page: :func:`budgets` (ERM and mixup at two budgets), :func:`alpha_sweep`,
:func:`zeroinit_arms` (Fixup with and without mixup at the long budget; the BatchNorm arms are
the long-budget runs of :func:`budgets`) and :func:`trainability` (one epoch at the BatchNorm
learning rate, per depth and initialization). :func:`paper_effects` reads the papers' effects
that the verdicts test (as accuracy fractions); the verdicts come from ``sclib.report``.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from . import data as D
from . import calibration, models, papers, train
from .errors import ConfigError
from .experiments import sweep

#: CIFAR ResNet depths of the trainability runs (those up to the profile's ``max_depth`` run).
DEPTHS = (8, 20, 56, 110)
#: The normalization / initialization variants of the trainability runs (label -> create options).
VARIANTS = {
    "BatchNorm": {},
    "no norm, standard init": {"norm": "none"},
    "no norm, Fixup": {"norm": "none", "init": "fixup"},
}
#: The variant expected to blow up: its runs stop at the first non-finite loss (saves the time of
#: an epoch of NaNs; the others would be stopped by nothing but are not expected to need it).
EXPLODES = "no norm, standard init"
#: Fixup for the table of ZeroInit against BatchNorm (same network otherwise).
FIXUP = {"norm": "none", "init": "fixup"}
#: "Trains" after one epoch: no NaN and more than this (accuracy fraction) above chance.
GATE = 0.05
#: "ZeroInit + mixup comes close to BatchNorm + mixup": the declared equivalence margin
#: (accuracy fraction, 1 point). The paper's own gaps are 0.7 (ResNet-50) and 0.6 points.
CLOSE_MARGIN = 0.01


@dataclass
class Run:
    """One trained run and what was measured on it at the end (eval mode).

    ``train_acc`` is the accuracy on the clean training images (no augmentation, no mixing);
    a run whose loss became NaN or inf (``diverged``) has no usable predictions: its accuracies
    are 0 (the convention of ``sclib.train.fit``) and its NLL and calibration nan."""

    history: train.History
    test_acc: float
    test_nll: float
    ece: float
    mean_conf: float
    train_acc: float
    diverged: bool
    n_test: int = 0

    @property
    def gap(self) -> float:
        """Clean training accuracy − test accuracy: how much the network overfits."""
        return self.train_acc - self.test_acc

    @property
    def seconds(self) -> float:
        """Training wall time (the epochs' sum, as ``fit`` measured it when the run trained)."""
        return float(sum(self.history.seconds))


@functools.lru_cache(maxsize=8)
def _subset(dataset: str, split: str, root, n):
    """The class-balanced subset every run of a size uses (``sclib.train.load_batches``'s rule:
    subset seed 0), loaded once per process."""
    x, y = D.load(dataset, split, root=root)
    return D.subset(x, y, n, seed=0)


def batches(dataset: str, *, n_train, n_test, batch_size: int, seed: int, root=None, device=None):
    """(train, test) Batches exactly as ``sclib.train.load_batches`` builds them (augmented,
    shuffled by ``seed``; the test set normalized with the training statistics)."""
    device = torch.device(device) if device else train.default_device()
    xtr, ytr = _subset(dataset, "train", root, n_train)
    xte, yte = _subset(dataset, "test", root, n_test)
    tr = D.Batches(xtr, ytr, batch_size, shuffle=True, seed=seed, device=device, **train.AUGMENT[dataset])
    te = D.Batches(xte, yte, min(1000, len(yte)), mean=tr.mean, std=tr.std, device=device)
    return tr, te


def train_measured(*, dataset: str, model: str, n_train, n_test, epochs: int, batch_size: int,
                   lr: float, momentum: float, weight_decay: float, seed: int, schedule="cosine",
                   mixup_alpha: float = 0.0, model_kwargs: dict | None = None,
                   channels_last: bool = False, stop_on_nan: bool = False, ece_bins: int = 15,
                   root=None, device=None) -> Run:
    """Train one network (``sclib.train.fit``, no test set in the loop), then measure it on the test
    set (:func:`sclib.calibration.measure`) and its accuracy on the clean training images.

    ``stop_on_nan`` ends the run at the first non-finite step loss (a hook: such runs are not
    kept in the run store). Same arguments, same numbers."""
    tr, te = batches(dataset, n_train=n_train, n_test=n_test, batch_size=batch_size, seed=seed,
                     root=root, device=device)
    train.seed_everything(seed)
    net = models.create(model, num_classes=int(tr.y.max().item()) + 1, in_channels=tr.x.shape[1],
                        **(model_kwargs or {}))
    cfg = dict(dataset=dataset, model=model, seed=seed, augment=True)
    if model_kwargs:
        cfg["model_kwargs"] = dict(model_kwargs)
    hook = (lambda step, loss, lr_: not math.isfinite(loss)) if stop_on_nan else None
    h = train.fit(net, tr, None, epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay,
                  schedule=schedule, mixup_alpha=mixup_alpha, channels_last=channels_last,
                  on_step=hook, progress=False, config=cfg)
    if not h.diverged:
        m = calibration.measure(net, te, ece_bins, channels_last=channels_last)
        fit_ = calibration.measure(net, tr, channels_last=channels_last)  # tr as Batches: clean, in order
        if m["finite"] and fit_["finite"]:
            return Run(history=h, test_acc=m["acc"], test_nll=m["nll"], ece=m["ece"], mean_conf=m["mean_conf"],
                       train_acc=fit_["acc"], diverged=False, n_test=te.num_examples)
    nan = float("nan")
    return Run(history=h, test_acc=0.0, test_nll=nan, ece=nan, mean_conf=nan, train_acc=0.0,
               diverged=True, n_test=te.num_examples)


# ------------------------------------------------------------------ the page's experiments
def _common(cfg, **over) -> dict:
    kw = dict(dataset=cfg.dataset, model=cfg.model, n_train=cfg.n_train, n_test=cfg.n_test,
              epochs=cfg.long_epochs, batch_size=cfg.batch_size, lr=cfg.lr, momentum=cfg.momentum,
              weight_decay=cfg.weight_decay, schedule="cosine", channels_last=cfg.channels_last,
              ece_bins=cfg.ece_bins, root=cfg.root, device=cfg.device)
    kw.update(over)
    return kw


def budgets(cfg, progress: bool = True) -> dict:
    """{"short": {α: [Run per seed]}, "long": {...}} for α = 0 (ERM) and ``cfg.mixup_alpha``:
    ``cfg.epochs`` and ``cfg.long_epochs`` epochs, each its own cosine schedule, seeds 0..seeds-1."""
    alphas = (0.0, float(cfg.mixup_alpha))
    return {name: sweep(lambda a, s, epochs=epochs: train_measured(**_common(cfg, epochs=epochs, seed=s, mixup_alpha=a)),
                        alphas, range(cfg.seeds), desc=f"mixup, {epochs} epochs", progress=progress)
            for name, epochs in (("short", cfg.epochs), ("long", cfg.long_epochs))}


def plateau_runs(cfg, progress: bool = True) -> list:
    """ERM with twice the long budget (its cosine stretched over 2 × ``cfg.long_epochs``), seeds
    0..seeds-1: the study's plateau check of the baseline every long-budget claim rests on."""
    return sweep(lambda a, s: train_measured(**_common(cfg, epochs=2 * cfg.long_epochs, seed=s, mixup_alpha=a)),
                 [0.0], range(cfg.seeds), desc=f"ERM, {2 * cfg.long_epochs} epochs", progress=progress)[0.0]


def _check_paired(cfg, name: str) -> None:
    """The sweep and Fixup runs are paired with the first seeds of :func:`budgets`: they need them."""
    if getattr(cfg, name) > cfg.seeds:
        raise ConfigError(f"{name}={getattr(cfg, name)} is larger than seeds={cfg.seeds}: its runs are "
                          f"paired with the first seeds of the ERM/mixup runs")


def alpha_sweep(cfg, progress: bool = True) -> dict:
    """α -> [Run per seed] at the long budget for every α of ``cfg.alphas`` (seeds
    0..sweep_seeds-1: paired with the first seeds of :func:`budgets`)."""
    _check_paired(cfg, "sweep_seeds")
    return sweep(lambda a, s: train_measured(**_common(cfg, seed=s, mixup_alpha=a)), [float(a) for a in cfg.alphas],
                 range(cfg.sweep_seeds), desc="α sweep", progress=progress)


def zeroinit_arms(cfg, progress: bool = True) -> dict:
    """{"Fixup": [Run], "Fixup + mixup": [Run]} at the long budget, seeds 0..res_seeds-1 (paired
    with the first seeds of :func:`budgets`): the same network without normalization and with
    Fixup's initialization (mixup α = ``cfg.mixup_alpha``)."""
    _check_paired(cfg, "res_seeds")
    arms = {"Fixup": 0.0, "Fixup + mixup": float(cfg.mixup_alpha)}
    return sweep(lambda label, s: train_measured(**_common(cfg, seed=s, mixup_alpha=arms[label], model_kwargs=dict(FIXUP))),
                 arms, range(cfg.res_seeds), desc="Fixup runs", progress=progress)


def depths(max_depth: int) -> list:
    """The depths of :data:`DEPTHS` up to ``max_depth``."""
    return [d for d in DEPTHS if d <= max_depth]


def trainability(cfg, progress: bool = True) -> dict:
    """(depth, variant) -> [Run per seed]: ONE epoch of ``cfg.depth_n_train`` images at the
    BatchNorm learning rate ``cfg.lr``, constant (the seed's Figure 3: test accuracy after the
    first epoch against depth), seeds 0..depth_seeds-1. The step losses are in ``history.loss``."""
    return sweep(lambda dv, s: train_measured(**_common(
        cfg, model=f"resnet{dv[0]}", epochs=1, n_train=cfg.depth_n_train, n_test=cfg.res_n_test,
        batch_size=cfg.depth_batch_size, schedule="constant", seed=s, model_kwargs=dict(VARIANTS[dv[1]]) or None,
        stop_on_nan=dv[1] == EXPLODES)), [(d, v) for d in depths(cfg.max_depth) for v in VARIANTS],
        range(cfg.depth_seeds), desc="depth runs", progress=progress)


# ------------------------------------------------------------------ the papers' effects
def paper_effects() -> dict:
    """The papers' effects the verdicts test, as accuracy fractions (the tables print errors %):

    - ``cifar10``: mixup − ERM, CIFAR-10 PreAct ResNet-18 (mixup Figure 3a table);
    - ``budget``: how much mixup's gain grows from 90 to 200 epochs (ImageNet ResNet-50,
      α = 0.2, mixup Table 1): a difference of differences;
    - ``zeroinit_trails``: ZeroInit − BatchNorm without mixup (ResNet-50, ZeroInit Table 2);
    - ``zeroinit_mixup``: mixup's gain with ZeroInit − its gain with BatchNorm (ResNet-50);
    - ``zeroinit_gap``: ZeroInit + mixup − BatchNorm + mixup (ResNet-50, negative: just behind).
    """
    P = papers.value

    def gain(erm, mix):  # accuracy gain from two errors in %
        return (P(erm) - P(mix)) / 100

    m, z = "mixup.imagenet.resnet50.", "zeroinit.table2.r50."
    return dict(
        cifar10=round(gain("mixup.cifar10.preact18.erm", "mixup.cifar10.preact18.mixup"), 6),
        budget=round(gain(m + "erm_200", m + "mixup02_200") - gain(m + "erm_90", m + "mixup02_90"), 6),
        zeroinit_trails=round(gain(z + "bn", z + "zeroinit"), 6),
        zeroinit_mixup=round(gain(z + "zeroinit", z + "zeroinit_mixup") - gain(z + "bn", z + "bn_mixup"), 6),
        zeroinit_gap=round(gain(z + "bn_mixup", z + "zeroinit_mixup"), 6))
