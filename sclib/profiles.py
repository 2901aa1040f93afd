"""Profiles: the scale of every chapter at ``smoke``, ``cpu`` and ``gpu``.

A notebook's parameters cell holds ``profile`` and a ``None`` for every other knob; it calls
:func:`resolve` which fills each ``None`` from the profile and checks every value. The CLI
calls the same function before running anything, so bad input fails fast, in one line.

- ``smoke``: seconds per notebook on 2 CPU cores, embedded data (scikit-learn digits). nbval.
- ``cpu``: minutes per notebook on 2 cores, real data (Fashion-MNIST, CIFAR-10). The book.
- ``gpu``: the papers' scale, for one GPU.
"""
from __future__ import annotations

import ast
import os
import sys
from types import SimpleNamespace

from . import data, models
from .errors import ConfigError, check_choice, check_number

PROFILES = ("smoke", "cpu", "gpu")

#: Floating-point type per profile. The smoke profile computes in float64: its outputs are what
#: nbval compares on every reader's CPU, and float32 training results move in the 4th digit
#: between CPU kernel dispatches (AVX2 vs AVX-512), float64 ones in the 16th.
DTYPES = {"smoke": "float64", "cpu": "float32", "gpu": "float32"}


def _pos_int(name, v):
    check_number(name, v, lo=1, integer=True)


def _pos_float(name, v):
    check_number(name, v, lo=0, lo_open=True)


#: How every known parameter is checked (None is allowed only where a profile sets None). A
#: parameter with no entry of its own is checked as the known name it ends with (sgdr_epochs as
#: epochs, big_n_train as n_train, res_lr as lr): :func:`check_of`.
CHECKS = {
    "dataset": lambda n, v: check_choice(n, v, data.NAMES),
    "model": lambda n, v: check_choice(n, v, models.NAMES),
    "epochs": _pos_int, "batch_size": _pos_int, "seeds": _pos_int, "range_iters": _pos_int,
    "n_train": lambda n, v: v is None or _pos_int(n, v),
    "n_test": lambda n, v: v is None or _pos_int(n, v),
    "momentum": lambda n, v: check_number(n, v, lo=0, hi=1, hi_open=True),
    "weight_decay": lambda n, v: check_number(n, v, lo=0),
    "root": lambda n, v: v is None or isinstance(v, str) or _type_error(n, v, "a path string"),
    "device": lambda n, v: v is None or check_choice(n, v, ("cpu", "cuda")),
    "channels_last": lambda n, v: isinstance(v, bool) or _type_error(n, v, "true or false"),
    # weight_decay (grid centres are in the paper's units: L2 factor or decoupled w)
    "grid": lambda n, v: check_number(n, v, lo=2, hi=15, integer=True),
    "lr_decades": _pos_float, "wd_decades": _pos_float, "sgdw_wd": _pos_float,
    "adamw_wd": _pos_float, "adam_l2": _pos_float, "norm_wd": _pos_float,
    "cycles": _pos_int,
    "n_val": _pos_int, "wd_grid": lambda n, v: check_number(n, v, lo=3, hi=15, integer=True),
    "augment": lambda n, v: isinstance(v, bool) or _type_error(n, v, "true or false"),
    "workers": lambda n, v: check_number(n, v, lo=1, hi=16, integer=True),
    # label_smoothing
    "lr": _pos_float, "ece_bins": _pos_int, "toy_steps": _pos_int,
    "toy_eps": lambda n, v: check_number(n, v, lo=0, hi=1, lo_open=True, hi_open=True),
    # quickdraw (None: every class / every drawing of the real files)
    "n_classes": lambda n, v: v is None or check_number(n, v, lo=2, integer=True),
    "per_class": lambda n, v: v is None or check_number(n, v, lo=2, integer=True),
    "val_fraction": lambda n, v: check_number(n, v, lo=0, hi=1, lo_open=True, hi_open=True),
    "image_size": lambda n, v: check_number(n, v, lo=8, hi=512, integer=True),
    "line_width": lambda n, v: check_number(n, v, lo=1, hi=32, integer=True),
    "color_by_order": lambda n, v: isinstance(v, bool) or _type_error(n, v, "true or false"),
    "label_noise": lambda n, v: check_number(n, v, lo=0, hi=1, hi_open=True),
    "timing_n": _pos_int,
    "real": lambda n, v: isinstance(v, bool) or _type_error(n, v, "true or false"),
    "real_size": lambda n, v: check_number(n, v, lo=8, hi=512, integer=True),
    # performance: measure torch.compile (a minute of compiling on CPU) / build the book twice
    "bench_compile": lambda n, v: isinstance(v, bool) or _type_error(n, v, "true or false"),
    "bench_build": lambda n, v: isinstance(v, bool) or _type_error(n, v, "true or false"),
    # clr_sgdr (clr_epochs = N of 004's CLR Table 3; N·25/70 must be whole epochs)
    "clr_epochs": lambda n, v: check_number(n, v, lo=14, integer=True) or (
        v % 14 and _type_error(n, v, "a multiple of 14 (so that N·25/70 is whole epochs)")),
    "clr_step_epochs": _pos_float,
    "sgdr_t0_scale": _pos_float,
    # one_cycle_pipeline and resnet_superconvergence
    "datasets": lambda n, v: _list(n, v, lambda k, x: check_choice(k, x, data.NAMES)),
    "fractions": lambda n, v: _list(n, v, lambda k, x: check_number(k, x, lo=0, hi=1, lo_open=True)),
    "tune_budget": lambda n, v: check_number(n, v, lo=60, integer=True),
    "hand_bn_momentum": lambda n, v: check_number(n, v, lo=0, hi=1, lo_open=True, hi_open=True),
    "budget_ratio": lambda n, v: check_number(n, v, lo=1, integer=True),
    "oc_max_lr": lambda n, v: v is None or _pos_float(n, v),
    "wd_values": lambda n, v: _list(n, v, lambda k, x: check_number(k, x, lo=0)),
    "range_evals": lambda n, v: check_number(n, v, lo=2, hi=100, integer=True),
    # one_cycle_pipeline (pair_*: one entry per [dataset, model] of pairs, pair_run false: too long
    # to run at this profile; tune_pair_*: one per pair of tune_pairs; lr_rule: sclib.lr_rules.RULES)
    "pairs": lambda n, v: _list(n, v, lambda k, x: (
        isinstance(x, (list, tuple)) and len(x) == 2 or _type_error(k, x, "a [dataset, model] pair"))
        and check_choice(k, x[0], data.NAMES) or check_choice(k, x[1], models.NAMES)),
    "pair_n_train": lambda n, v: _list(n, v, lambda k, x: x is None or _pos_int(k, x)),
    "pair_n_test": lambda n, v: _list(n, v, lambda k, x: x is None or _pos_int(k, x)),
    "pair_epochs": lambda n, v: _list(n, v, _pos_int),
    "pair_augment": lambda n, v: _list(n, v, lambda k, x: isinstance(x, bool) or _type_error(k, x, "true or false")),
    "pair_run": lambda n, v: _list(n, v, lambda k, x: isinstance(x, bool) or _type_error(k, x, "true or false")),
    "tune_pair_epochs": lambda n, v: _list(n, v, _pos_float),
    "n_holdout": _pos_int,
    "lr_rule": lambda n, v: check_choice(n, v, __import__("sclib.lr_rules", fromlist=["RULES"]).RULES),
    # large_batch (scale_k: large batch = scale_k × batch_size; tp_*: throughput runs)
    "scale_k": lambda n, v: check_number(n, v, lo=2, hi=4096, integer=True),
    "smith_epochs": lambda n, v: check_number(
        n, v, lo=3, integer=True), "smith_factor": lambda n, v: check_number(n, v, lo=2, hi=10, integer=True),
    "tp_batch": _pos_int, "tp_n": _pos_int, "tp_repeats": _pos_int,
    # kth_verification (big_*: the VGG16/MobileNetV2 runs; extra_runs: [dataset, network] pairs
    # beyond the main dataset, e.g. Oxflower17 and TinyImageNet at gpu; probe_iters: per probe)
    "networks": lambda n, v: _list(n, v, lambda k, x: check_choice(k, x, models.NAMES)),
    "small_n_train": _pos_int,
    "big_range_iters": lambda n, v: check_number(n, v, lo=8, integer=True),
    "probe_iters": lambda n, v: check_number(n, v, lo=8, integer=True),
    "big_probe_iters": lambda n, v: v is None or check_number(n, v, lo=8, integer=True),
    "mobilenet_epochs": lambda n, v: v is None or _pos_int(n, v),
    "extra_runs": lambda n, v: (isinstance(v, (list, tuple)) or _type_error(n, v, "a list")) and [
        (isinstance(x, (list, tuple)) and len(x) == 2 or _type_error(n, x, "a [dataset, network] pair"))
        and (check_choice(n, x[0], data.NAMES) or check_choice(n, x[1], models.NAMES)) for x in v],
    # mixup_fixup (res_*: the ResNet / Fixup part; depth_*: the one-epoch depth runs)
    "res_model": lambda n, v: check_choice(n, v, ("resnet8", "resnet20", "resnet56", "resnet110")),
    "max_depth": lambda n, v: check_choice(n, v, (20, 56, 110)),
    "fixup_runs": lambda n, v: isinstance(v, bool) or _type_error(n, v, "true or false"),
    "alphas": lambda n, v: _list(n, v, lambda k, x: check_number(k, x, lo=0, lo_open=True)),
    # bag_of_tricks (base_lr: LR per 256 images, scaled linearly with batch_size)
    "teacher_model": lambda n, v: check_choice(n, v, ("resnet8", "resnet20", "resnet56", "resnet110")),
    "ls_eps": lambda n, v: check_number(n, v, lo=0, hi=1, lo_open=True, hi_open=True),
    "mixup_alpha": _pos_float, "distill_T": _pos_float,
}


def check_of(name: str):
    """The check of parameter ``name``: its own entry in :data:`CHECKS`, else that of the longest
    known name it ends with ("sgdr_n_train" → "n_train")."""
    parts = name.split("_")
    for i in range(len(parts)):
        if "_".join(parts[i:]) in CHECKS:
            return CHECKS["_".join(parts[i:])]
    raise KeyError(f"no check for parameter {name!r}")


def _type_error(name, v, what):
    raise ConfigError(f"{name} must be {what}, got {v!r}")


def _list(name, v, check_item):
    """A non-empty list whose every item passes ``check_item(name, item)``."""
    if not isinstance(v, (list, tuple)) or not v:
        _type_error(name, v, "a non-empty list")
    for x in v:
        check_item(name, x)


def _flatten(table: dict, where: str, known: tuple = ()) -> tuple:
    """A profile written with sections (``sgdr=dict(epochs=15, ...)``) as flat parameters
    (``sgdr_epochs``: what papermill's ``-p`` and the notebook's parameters cell name), and the
    sections' keys. A flat key under the prefix of one of its sections or of ``known`` (the cpu
    profile's) is refused: ``cfg.sgdr`` would miss it."""
    flat, sections = {}, {k: tuple(v) for k, v in table.items() if isinstance(v, dict)}
    for k in (k for k, v in table.items() if not isinstance(v, dict)):
        owner = [s for s in (*sections, *known) if k.startswith(s + "_")]
        if owner:
            raise ValueError(f"{where}: {k!r} is outside section {owner[0]!r}; write it in the section")
    for k, v in table.items():
        items = v.items() if isinstance(v, dict) else [(None, v)]
        for kk, vv in items:
            if isinstance(vv, dict):
                raise ValueError(f"{where}: section {k!r} holds a section {kk!r}; one level only")
            name = k if kk is None else f"{k}_{kk}"
            if name in flat:
                raise ValueError(f"{where}: parameter {name!r} is written twice")
            flat[name] = vv
    return flat, sections


class Table(dict):
    """A chapter's three profiles as flat parameters (``{"smoke": {...}, "cpu": ..., "gpu": ...}``),
    with ``sections``: each per-experiment section's name and its keys."""
    sections: dict = {}


def profile(*, cpu: dict, smoke: dict, gpu: dict) -> Table:
    """A chapter's three profiles, each parameter written once: ``cpu`` (the book's scale) in
    full, ``smoke`` and ``gpu`` as what differs from it. A dict-valued entry is a per-experiment
    section (``sgdr=dict(dataset=..., epochs=...)``); smoke and gpu write in it only what they
    change. Parameters are flat: ``sgdr=dict(epochs=15)`` is the parameter ``sgdr_epochs``, and a
    resolved configuration reads it as ``cfg.sgdr_epochs`` or ``cfg.sgdr.epochs``."""
    base, sections = _flatten(cpu, "cpu")
    flat = {"cpu": base}
    for name, d in (("smoke", smoke), ("gpu", gpu)):
        flat[name], _ = _flatten(d, name, tuple(sections))
        if set(flat[name]) - set(base):  # a section cpu lacks lands here too
            raise ValueError(f"{name} sets parameters the cpu profile lacks: {sorted(set(flat[name]) - set(base))}")
    out = Table(smoke={**base, **flat["smoke"]}, cpu=base, gpu={**base, **flat["gpu"]})
    out.sections = sections
    return out


class Config(SimpleNamespace):
    """A resolved configuration: every parameter flat (``cfg.sgdr_epochs``; ``vars(cfg)`` lists
    them), and each section of its chapter's table as a namespace (``cfg.sgdr.epochs``). One
    subclass per chapter (:data:`CONFIGS`) holds the sections, so ``vars(cfg)`` is the parameters."""
    sections: dict = {}

    def __getattr__(self, name):  # only called for names that are not parameters
        keys = type(self).sections.get(name) if not name.startswith("_") else None
        if keys is None:
            raise AttributeError(f"the configuration has no parameter or section {name!r}")
        return Section(**{k: vars(self)[f"{name}_{k}"] for k in keys})


class Section(SimpleNamespace):
    """A section of a configuration (``cfg.sgdr``): a read-only view; the parameter is
    ``cfg.sgdr_epochs``."""

    def __setattr__(self, name, value):
        raise AttributeError(f"a section is a read-only view of the configuration; set its flat "
                             f"parameter (..._{name}) instead")


# Each chapter's table is a literal call of profile(): the runner fingerprints a page by its own
# table's values. A dict-valued entry is a section: one experiment of the chapter (range=dict(iters=...)
# is the parameter range_iters, cfg.range.iters).
CHAPTERS = {
    "kth_verification": profile(
        # Table 1 (the procedure) on every [dataset, network] of tune_pairs: the range test (range)
        # and the probes (probe) for the simple CNN, big.range_iters / big.probe_iters (batch
        # big.batch_size; None: momentum and weight decay not probed) for VGG16-BN and MobileNetV2.
        # Schedules: the simple CNN on dataset (n_train, n_test, epochs, seeds) and on a small_n_train
        # subset for long_epochs (less labelled data); the big networks of `networks` (big). extra.runs:
        # [dataset, network] pairs beyond the main dataset (Oxflower17 and TinyImageNet at gpu),
        # for extra.epochs, big.seeds.
        cpu=dict(dataset="cifar10", networks=["simple"], tune_pairs=[["cifar10", "simple"]], n_train=None,
                 n_test=2000, epochs=4, batch_size=128, seeds=3, small_n_train=2500, long_epochs=16,
                 big=dict(n_train=None, n_test=None, epochs=30, batch_size=64, seeds=5, range_iters=60,
                          probe_iters=None),
                 range=dict(iters=150, start_lr=1e-5, end_lr=10.0), probe=dict(iters=40, batch_size=128),
                 extra=dict(runs=[], epochs=30, batch_size=64), oxflower17_root=None, tinyimagenet_root=None,
                 channels_last=True, root=None, device=None),
        smoke=dict(dataset="digits", networks=["simple", "vgg16_bn", "mobilenet_v2"],
                   tune_pairs=[["digits", "simple"], ["digits", "vgg16_bn"], ["digits", "mobilenet_v2"]],
                   n_test=None, batch_size=64, small_n_train=300, long_epochs=8,
                   big=dict(n_train=160, epochs=2, batch_size=32, seeds=1, range_iters=16),
                   range=dict(iters=60), probe=dict(iters=20, batch_size=64),
                   extra=dict(epochs=1, batch_size=32), channels_last=False),
        gpu=dict(networks=["simple", "vgg16_bn", "mobilenet_v2"],
                 tune_pairs=[["cifar10", "simple"], ["cifar10", "vgg16_bn"], ["cifar10", "mobilenet_v2"]],
                 n_test=None, epochs=30, seeds=5, long_epochs=60,
                 big=dict(batch_size=128, range_iters=300, probe_iters=100),
                 range=dict(iters=300), probe=dict(iters=100),
                 extra=dict(runs=[["oxflower17", "simple"], ["oxflower17", "vgg16_bn"], ["oxflower17", "mobilenet_v2"],
                                  ["tinyimagenet", "mobilenet_v2"]]),
                 channels_last=False),
    ),
    "large_batch": profile(
        # lr: the reference (Goyal et al.'s 0.1 per 256, scaled to batch_size) around which the
        # small batch's LR is tuned on n_holdout held-out training images; smith: Smith et al.'s
        # Figure 5 (batch growth factor, seeds); tp: the throughput runs (batch per worker, images,
        # rounds: each round launches every worker count once; a round is one pair of the verdict)
        cpu=dict(dataset="fashion_mnist", model="simple", n_train=4000, n_test=None, n_holdout=2000, epochs=15,
                 batch_size=16, scale_k=8, lr=0.00625, momentum=0.9, weight_decay=5e-4, warmup_epochs=1,
                 seeds=5, rule_seeds=5, smith=dict(factor=5, seeds=3), workers=2,
                 tp=dict(batch=64, n=2048, repeats=5),
                 channels_last=True, root=None, device=None),
        smoke=dict(dataset="digits", n_train=480, n_holdout=200, epochs=3, scale_k=4, lr=0.05,
                   seeds=3, rule_seeds=3, tp=dict(batch=32, n=256, repeats=1), channels_last=False),
        gpu=dict(dataset="cifar10", model="resnet20", n_train=45000, n_holdout=5000, epochs=30, batch_size=128,
                 scale_k=16, lr=0.05, warmup_epochs=2, workers=1, tp=dict(batch=256, n=10000, repeats=1)),
    ),
    "lr_onecycle": profile(
        # Part 1 (the rules): tune (pairs; n_train, + n_test held-out training images),
        # suggestion_epochs, rule_seeds. Part 2 (the schedules): dataset, model, n_train, n_test,
        # epochs (N; one-cycle also at N/2 and N/4), seeds; both baselines (piecewise constant and
        # constant) also at big.epochs for big.seeds seeds (plateau check). range: every range test.
        cpu=dict(dataset="fashion_mnist", model="simple", n_train=20000, n_test=5000, epochs=4,
                 batch_size=128, seeds=5, momentum=0.9, weight_decay=5e-4,
                 range=dict(iters=100, start_lr=1e-5, end_lr=10.0), suggestion_epochs=2,
                 tune=dict(pairs=[["fashion_mnist", "simple"], ["cifar10", "simple"], ["fashion_mnist", "resnet8"]],
                           n_train=3000, n_test=2000),
                 rule_seeds=3, big=dict(epochs=8, seeds=3), channels_last=True, root=None, device=None),
        smoke=dict(dataset="digits", n_train=600, n_test=None, batch_size=64, seeds=3, range=dict(iters=50),
                   tune=dict(pairs=[["digits", "simple"], ["digits", "resnet8"]], n_train=400, n_test=200),
                   rule_seeds=2, big=dict(seeds=1), channels_last=False),
        gpu=dict(dataset="cifar10", model="resnet20", n_train=45000, n_test=None, epochs=32,
                 range=dict(iters=300), suggestion_epochs=5,
                 tune=dict(pairs=[["cifar10", "simple"], ["cifar10", "resnet20"], ["cifar10", "vgg16_bn"]],
                           n_train=10000, n_test=5000),
                 big=dict(epochs=64)),
    ),
    "one_cycle_pipeline": profile(
        # pairs: the KPI's [dataset, model] pairs; section pair: one entry per pair, its training
        # subset (n_train; n_holdout more training images judge the LR grid), test subset, N = epochs,
        # augmentation, and run (false: too long for the profile, its rows say what it would
        # cost). One-cycle is trained for every fraction of N, the step baseline for N (and 2N for
        # plateau_seeds seeds). Autotune is compared on tune_pairs (section tune_pair: one entry per
        # pair), one-cycle for tune_pair.epochs.
        cpu=dict(pairs=[["fashion_mnist", "simple"], ["cifar10", "resnet20"]],
                 pair=dict(n_train=[20000, 45000], n_test=[5000, None], epochs=[4, 40], augment=[False, True],
                           run=[True, False]),
                 fractions=[0.125, 0.25, 0.5, 1.0], batch_size=128, seeds=5,
                 plateau_seeds=3, n_holdout=2000, momentum=0.9, weight_decay=5e-4,
                 range=dict(iters=150, start_lr=1e-5, end_lr=10.0), lr_rule="causal_min10",
                 tune_pairs=[["fashion_mnist", "simple"], ["digits", "simple"]],
                 tune_pair=dict(n_train=[20000, 1000], n_test=[5000, None], epochs=[1, 16], augment=[False, False]),
                 tune_budget=600, hand_bn_momentum=0.1, channels_last=True, root=None, device=None),
        smoke=dict(pairs=[["digits", "simple"], ["digits", "resnet8"]],
                   pair=dict(n_train=[1000, 1000], n_test=[None, None], epochs=[4, 4], augment=[False, False]),
                   batch_size=32, seeds=3, n_holdout=300, range=dict(iters=60),
                   tune_pairs=[["digits", "simple"], ["digits", "resnet8"]],
                   tune_pair=dict(n_train=[1000, 1000], n_test=[None, None], epochs=[1, 2]), tune_budget=120,
                   channels_last=False),
        gpu=dict(pair=dict(n_train=[55000, 45000], n_test=[None, None], epochs=[20, 40], augment=[True, True],
                           run=[True, True]),
                 n_holdout=5000, range=dict(iters=350),
                 tune_pairs=[["fashion_mnist", "simple"], ["cifar10", "resnet20"]],
                 tune_pair=dict(n_train=[55000, 45000], n_test=[None, None], epochs=[5, 10], augment=[True, True]),
                 tune_budget=2000),
    ),
    "resnet_superconvergence": profile(
        cpu=dict(dataset="cifar10", model="resnet8", n_train=25000, n_test=5000, batch_size=128, epochs=8,
                 budget_ratio=8, seeds=3, lr=0.1, oc_max_lr=None, momentum=0.9, weight_decay=1e-4,
                 wd_values=[1e-5, 1e-4, 1e-3], range=dict(iters=150, end_lr=3.0, evals=10), root=None,
                 device=None, channels_last=True, plateau_seeds=1),
        smoke=dict(dataset="digits", model="resnet20", n_train=None, n_test=None, batch_size=64, epochs=1,
                   range=dict(iters=40, evals=8), channels_last=False, plateau_seeds=3),
        gpu=dict(model="resnet56", n_train=None, n_test=None, epochs=26, seeds=1, oc_max_lr=3.0,
                 range=dict(iters=400, evals=20)),
    ),
    "mixup_fixup": profile(
        # depth: the one-epoch depth runs (Fixup vs BatchNorm vs neither); res: the ResNet / Fixup part
        cpu=dict(dataset="cifar10", model="resnet8", n_train=500, n_test=5000, epochs=30, long_epochs=90,
                 batch_size=64, seeds=5, lr=0.1, momentum=0.9, weight_decay=5e-4, ece_bins=15,
                 mixup_alpha=1.0, alphas=[0.2], sweep_seeds=2, max_depth=56,
                 depth=dict(n_train=5120, batch_size=64, seeds=5), fixup_runs=False,
                 res=dict(seeds=5, n_test=1000), channels_last=True, root=None, device=None),
        smoke=dict(dataset="digits", n_train=600, n_test=None, epochs=3, long_epochs=6, seeds=3,
                   alphas=[0.2, 0.4], max_depth=20, depth=dict(n_train=256, batch_size=32, seeds=3),
                   fixup_runs=True, res=dict(seeds=3, n_test=None), channels_last=False),
        gpu=dict(model="resnet20", n_train=None, n_test=None, epochs=100, long_epochs=200, batch_size=128,
                 alphas=[0.1, 0.2, 0.4], sweep_seeds=3, max_depth=110, depth=dict(n_train=None, batch_size=128),
                 fixup_runs=True, res=dict(n_test=None)),
    ),
    "bag_of_tricks": profile(
        cpu=dict(dataset="fashion_mnist", model="resnet8", teacher=dict(model="resnet20", epochs=40), n_train=1000,
                 n_test=5000, epochs=20, batch_size=32, scale_k=4, seeds=5, base_lr=0.2,
                 momentum=0.9, weight_decay=5e-4, warmup_epochs=1, ls_eps=0.1, mixup_alpha=0.2,
                 distill_T=4.0, channels_last=True, root=None, device=None),
        smoke=dict(dataset="digits", n_train=400, n_test=None, epochs=4, teacher=dict(epochs=8), seeds=3,
                   base_lr=0.4, channels_last=False),
        gpu=dict(dataset="cifar10", model="resnet20", teacher=dict(model="resnet56", epochs=90), n_train=None,
                 n_test=None, epochs=90, batch_size=256, seeds=3, weight_decay=1e-4, warmup_epochs=5),
    ),
    "performance": profile(
        # bench: measure torch.compile (a minute of compiling on CPU) / build the book twice
        cpu=dict(dataset="fashion_mnist", model="simple", batch_size=128, epochs=1, n_train=8192,
                 device=None, bench=dict(compile=True, build=True)),
        smoke=dict(dataset="digits", batch_size=64, n_train=None, bench=dict(compile=False, build=False)),
        gpu=dict(dataset="cifar10", model="resnet20", batch_size=512, epochs=2, n_train=None),
    ),
    "weight_decay": profile(
        # norm: the weight-norm runs (epochs, the weight decay they track)
        cpu=dict(dataset="fashion_mnist", model="simple", n_train=1000, n_val=2000, n_test=None,
                 augment=False, epochs=16, batch_size=32, momentum=0.9, grid=3, wd_grid=4, lr_decades=1.0,
                 wd_decades=3.0, sgd_lr=0.04, sgdw_wd=3e-3, adam_lr=6e-3, adamw_wd=3e-3, adam_l2=1e-2,
                 grid_seeds=5, seeds=5, cycles=3, norm=dict(epochs=8, wd=1e-2), workers=2,
                 channels_last=True, root=None, device=None),
        smoke=dict(dataset="digits", n_train=300, n_val=300, epochs=3, wd_grid=3, wd_decades=2.0,
                   sgd_lr=0.05, sgdw_wd=1e-3, adam_lr=3e-3, adamw_wd=1e-3, grid_seeds=3, seeds=3, cycles=2,
                   norm=dict(epochs=3), workers=1, channels_last=False),
        gpu=dict(dataset="cifar10", model="resnet20", n_train=45000, n_val=5000, augment=True, epochs=100,
                 batch_size=128, sgd_lr=0.1, sgdw_wd=5e-4, adam_lr=1e-3, adamw_wd=1e-4, adam_l2=5e-4,
                 grid_seeds=3, norm=dict(epochs=30, wd=5e-4), workers=1),
    ),
    "label_smoothing": profile(
        # toy: the paper's toy model (smoothing eps, gradient steps, LR)
        cpu=dict(toy=dict(eps=0.1, steps=10000, lr=2.0), dataset="fashion_mnist", model="simple",
                 n_train=2000, n_test=2000, epochs=30, batch_size=128, seeds=5, lr=0.05, momentum=0.9,
                 weight_decay=5e-4, ece_bins=15, root=None, device=None, channels_last=True),
        smoke=dict(toy=dict(steps=2000), dataset="digits", n_train=None, n_test=None, epochs=3, batch_size=64,
                   seeds=3, channels_last=False),
        gpu=dict(toy=dict(steps=20000), dataset="cifar10", model="resnet20", n_train=None, n_test=None,
                 batch_size=256, seeds=3, lr=0.1),
    ),
    "quickdraw": profile(
        cpu=dict(root=None, real=True, real_val_fraction=0.2, real_size=64, real_line_width=2,
                 model="simple", n_classes=13, per_class=300, val_fraction=0.2, image_size=32, line_width=1,
                 color_by_order=True, label_noise=0.0, batch_size=32, lr=0.04, max_lr=0.4, momentum=0.9,
                 weight_decay=5e-4, seeds=5, budget_epochs=4, timing_n=1024, channels_last=True,
                 device=None,
                 # both schedules trained to their plateau: each fitted into `epochs` (32: the
                 # conventional schedule's MAP@3 on the real drawings is flat over its last 8
                 # epochs there), `seeds` paired seeds; seed 0 also at twice `epochs` (the check)
                 converge=dict(epochs=32, seeds=5)),
        smoke=dict(real=False, real_size=24, real_line_width=1, n_classes=10, per_class=40, image_size=24,
                   seeds=3, budget_epochs=1, timing_n=128, channels_last=False, converge=dict(epochs=2, seeds=3)),
        gpu=dict(real_val_fraction=0.02, real_size=128, real_line_width=3, model="resnet18", per_class=2000,
                 val_fraction=0.1, image_size=64, line_width=2, batch_size=256, seeds=3, budget_epochs=1,
                 timing_n=20000, converge=dict(epochs=4, seeds=3)),
    ),
    "clr_sgdr": profile(
        # Table 3 and the policies: `dataset`, no augmentation, N = clr.epochs; the fixed LR is the
        # best of `fractions` × lr_min (the range test's minimum) on a tuning seed; CLR cycles
        # between lr_min/10 and lr_min/3, stepsize clr.step_epochs. sgdr: SGDR's runs, T0 = 1 and
        # the paper's T0 = 10 × sgdr.t0_scale. beta2: the β₂ probe's runs.
        cpu=dict(dataset="fashion_mnist", model="simple", n_train=1000, n_test=5000, batch_size=64,
                 clr=dict(epochs=28, step_epochs=0.5), seeds=5, fractions=[1 / 100, 1 / 30, 1 / 10, 1 / 3],
                 momentum=0.9, weight_decay=5e-4, range=dict(iters=100, start_lr=1e-5, end_lr=10.0),
                 channels_last=True,
                 sgdr=dict(dataset="fashion_mnist", model="simple", n_train=1000, batch_size=64, epochs=15, lr=0.05,
                           t0_scale=0.5),
                 beta2=dict(n_train=400, batch_size=40, epochs=8), root=None, device=None),
        smoke=dict(dataset="digits", n_train=256, n_test=None, clr=dict(epochs=14), seeds=3,
                   fractions=[1 / 30, 1 / 10, 1 / 3], range=dict(iters=30), channels_last=False,
                   sgdr=dict(dataset="digits", n_train=200, batch_size=50, epochs=9, t0_scale=0.3),
                   beta2=dict(n_train=200, batch_size=50, epochs=3)),
        gpu=dict(dataset="cifar10", n_train=None, n_test=None, batch_size=100, clr=dict(epochs=140, step_epochs=4.0),
                 range=dict(iters=300),
                 sgdr=dict(dataset="cifar10", model="resnet20", n_train=None, batch_size=128, epochs=150, t0_scale=1.0),
                 beta2=dict(n_train=5000, batch_size=500, epochs=20)),
    ),
}


#: each chapter's Config subclass, module-level (a configuration pickles: it reaches worker processes)
CONFIGS = {}
for _chapter, _table in CHAPTERS.items():
    _cls = f"Config_{_chapter}"
    CONFIGS[_chapter] = globals()[_cls] = type(_cls, (Config,), {"sections": dict(_table.sections),
                                                                "__module__": __name__})


def chapter_params(chapter: str) -> tuple:
    check_choice("notebook", chapter, tuple(CHAPTERS))
    return tuple(CHAPTERS[chapter]["cpu"])


def resolve(chapter: str, profile: str, **overrides) -> Config:
    """Profile defaults for ``chapter`` with every non-None override applied, all checked."""
    check_choice("notebook", chapter, tuple(CHAPTERS))
    check_choice("profile", profile, PROFILES)
    cfg = dict(CHAPTERS[chapter][profile])
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise ConfigError(f"unknown parameter(s) {sorted(unknown)} for {chapter}; "
                          f"allowed: profile, {', '.join(sorted(cfg))}")
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    for k, v in cfg.items():
        check_of(k)(k, v)
    return CONFIGS[chapter](profile=profile, **cfg)


def use_dtype(name: str) -> None:
    """Make ``name`` torch's default dtype here and in every process started from here (the
    environment variable ``SCLIB_DTYPE`` is read when sclib is imported: torchrun workers)."""
    import torch

    check_choice("dtype", name, ("float32", "float64"))
    os.environ["SCLIB_DTYPE"] = name
    torch.set_default_dtype(getattr(torch, name))


def _injected_names(namespace: dict) -> list:
    """Names papermill assigned in its injected cell (source starting "# Parameters"), read from
    IPython's input history; [] when the notebook was not run by papermill with parameters."""
    names = []
    for src in namespace.get("In", []) or []:
        if isinstance(src, str) and src.lstrip().startswith("# Parameters"):
            try:
                tree = ast.parse(src)
            except SyntaxError:
                continue
            names += [t.id for node in tree.body if isinstance(node, ast.Assign)
                      for t in node.targets if isinstance(t, ast.Name)]
    return names


def _one_line_errors() -> None:
    """In a notebook kernel, show a ConfigError or DataMissingError as one line (the message),
    not a traceback: papermill then prints that line, as ``sclib run`` does."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None:
        return
    from .errors import DataMissingError

    def one_line(shell, etype, value, tb, tb_offset=None):
        stb = [f"sclib: error: {value}"]
        shell._showtraceback(etype, value, stb)  # IPython shows nothing of a custom handler's own
        return stb

    ip.set_custom_exc((ConfigError, DataMissingError), one_line)


def configure(chapter: str, namespace: dict) -> Config:
    """A notebook's configuration in one line: ``cfg = profiles.configure("x", globals())``.

    Reads ``profile`` and every parameter from the notebook's namespace (its parameters cell and
    papermill's injected cell), rejects injected names that are not parameters of the chapter
    and bad values with the same one-line error as ``sclib run``, and sets the profile's dtype."""
    _one_line_errors()
    check_choice("notebook", chapter, tuple(CHAPTERS))
    profile = namespace.get("profile", "smoke")
    known = set(CHAPTERS[chapter]["cpu"])
    given = {k: namespace[k] for k in known if k in namespace}
    given.update({k: namespace[k] for k in _injected_names(namespace) if k != "profile"})
    cfg = resolve(chapter, profile, **given)
    use_dtype(DTYPES[profile])
    return cfg
