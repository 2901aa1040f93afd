"""Profiles: the scale of every chapter at ``smoke``, ``cpu`` and ``gpu``.

A notebook's parameters cell holds ``profile`` and a ``None`` for every other knob; it calls
:func:`resolve` which fills each ``None`` from the profile and checks every value. The CLI
calls the same function before running anything, so bad input fails fast, in one line.

- ``smoke``: seconds per notebook on 2 CPU cores, embedded data (scikit-learn digits). nbval.
- ``cpu``: minutes per notebook on 2 cores, real data (Fashion-MNIST, CIFAR-10). The book.
- ``gpu``: the papers' scale, for one GPU.
"""
from __future__ import annotations

from types import SimpleNamespace

from . import data, models
from .errors import ConfigError, check_choice, check_number

PROFILES = ("smoke", "cpu", "gpu")


def _pos_int(name, v):
    check_number(name, v, lo=1, integer=True)


def _pos_float(name, v):
    check_number(name, v, lo=0, lo_open=True)


#: How every known parameter is checked (None is allowed only where a profile sets None).
CHECKS = {
    "dataset": lambda n, v: check_choice(n, v, data.NAMES),
    "model": lambda n, v: check_choice(n, v, models.NAMES),
    "epochs": _pos_int, "batch_size": _pos_int, "seeds": _pos_int, "range_iters": _pos_int,
    "suggestion_epochs": _pos_int,
    "n_train": lambda n, v: v is None or _pos_int(n, v),
    "n_test": lambda n, v: v is None or _pos_int(n, v),
    "momentum": lambda n, v: check_number(n, v, lo=0, hi=1, hi_open=True),
    "weight_decay": lambda n, v: check_number(n, v, lo=0),
    "range_start_lr": _pos_float, "range_end_lr": _pos_float,
    "root": lambda n, v: v is None or isinstance(v, str) or _type_error(n, v, "a path string"),
    "device": lambda n, v: v is None or check_choice(n, v, ("cpu", "cuda")),
    # weight_decay (grid centres are in the paper's units: L2 factor or decoupled w)
    "grid": lambda n, v: check_number(n, v, lo=2, hi=15, integer=True),
    "lr_decades": _pos_float, "wd_decades": _pos_float, "sgd_lr": _pos_float, "sgdw_wd": _pos_float,
    "adam_lr": _pos_float, "adamw_wd": _pos_float, "adam_l2": _pos_float, "norm_wd": _pos_float,
    "t0_epochs": _pos_int, "cycles": _pos_int, "norm_epochs": _pos_int,
    "workers": lambda n, v: check_number(n, v, lo=1, hi=16, integer=True),
    # label_smoothing
    "lr": _pos_float, "ece_bins": _pos_int, "toy_steps": _pos_int, "toy_lr": _pos_float,
    "toy_eps": lambda n, v: check_number(n, v, lo=0, hi=1, lo_open=True, hi_open=True),
    # quickdraw (None: every class / every drawing of the real files)
    "n_classes": lambda n, v: v is None or check_number(n, v, lo=2, integer=True),
    "per_class": lambda n, v: v is None or check_number(n, v, lo=2, integer=True),
    "val_fraction": lambda n, v: check_number(n, v, lo=0, hi=1, lo_open=True, hi_open=True),
    "image_size": lambda n, v: check_number(n, v, lo=8, hi=512, integer=True),
    "line_width": lambda n, v: check_number(n, v, lo=1, hi=32, integer=True),
    "color_by_order": lambda n, v: isinstance(v, bool) or _type_error(n, v, "true or false"),
    "label_noise": lambda n, v: check_number(n, v, lo=0, hi=1, hi_open=True),
    "max_lr": _pos_float, "timing_n": _pos_int,
}


def _type_error(name, v, what):
    raise ConfigError(f"{name} must be {what}, got {v!r}")


# Each chapter's table is a plain literal: the runner fingerprints a page by its own table.
CHAPTERS = {
    "lr_onecycle": {
        "smoke": dict(dataset="digits", model="simple", n_train=None, n_test=None, epochs=4,
                      batch_size=64, seeds=2, momentum=0.9, weight_decay=5e-4, range_iters=60,
                      range_start_lr=1e-5, range_end_lr=10.0, suggestion_epochs=2, root=None,
                      device=None),
        "cpu": dict(dataset="fashion_mnist", model="simple", n_train=10000, n_test=5000, epochs=6,
                    batch_size=128, seeds=3, momentum=0.9, weight_decay=5e-4, range_iters=200,
                    range_start_lr=1e-5, range_end_lr=10.0, suggestion_epochs=2, root=None,
                    device=None),
        "gpu": dict(dataset="cifar10", model="resnet20", n_train=None, n_test=None, epochs=30,
                    batch_size=256, seeds=3, momentum=0.9, weight_decay=5e-4, range_iters=300,
                    range_start_lr=1e-5, range_end_lr=10.0, suggestion_epochs=5, root=None,
                    device=None),
    },
    "performance": {
        "smoke": dict(dataset="digits", model="simple", batch_size=64, epochs=1, n_train=None, device=None),
        "cpu": dict(dataset="fashion_mnist", model="simple", batch_size=128, epochs=1, n_train=8192,
                    device=None),
        "gpu": dict(dataset="cifar10", model="resnet20", batch_size=512, epochs=2, n_train=None,
                    device=None),
    },
    "weight_decay": {
        "smoke": dict(dataset="digits", model="simple", n_train=None, n_test=None, epochs=2,
                      batch_size=64, momentum=0.9, grid=3, lr_decades=2.0, wd_decades=2.0,
                      sgd_lr=0.05, sgdw_wd=5e-3, adam_lr=2e-3, adamw_wd=5e-3, adam_l2=3e-3,
                      seeds=1, t0_epochs=1, cycles=2, norm_epochs=4, norm_wd=1e-2, workers=1,
                      root=None, device=None),
        "cpu": dict(dataset="fashion_mnist", model="simple", n_train=2400, n_test=2000, epochs=2,
                    batch_size=64, momentum=0.9, grid=5, lr_decades=2.0, wd_decades=3.0,
                    sgd_lr=0.05, sgdw_wd=5e-3, adam_lr=2e-3, adamw_wd=5e-3, adam_l2=3e-3,
                    seeds=2, t0_epochs=1, cycles=3, norm_epochs=6, norm_wd=1e-2, workers=2,
                    root=None, device=None),
        "gpu": dict(dataset="cifar10", model="resnet20", n_train=None, n_test=None, epochs=100,
                    batch_size=128, momentum=0.9, grid=5, lr_decades=2.0, wd_decades=3.0,
                    sgd_lr=0.05, sgdw_wd=5e-4, adam_lr=1e-3, adamw_wd=5e-4, adam_l2=5e-4,
                    seeds=2, t0_epochs=10, cycles=3, norm_epochs=30, norm_wd=5e-4, workers=1,
                    root=None, device=None),
    },
    "label_smoothing": {
        "smoke": dict(toy_eps=0.1, toy_steps=2000, toy_lr=2.0, dataset="digits", model="simple",
                      n_train=None, n_test=None, epochs=3, batch_size=64, seeds=2, lr=0.05,
                      momentum=0.9, weight_decay=5e-4, ece_bins=15, root=None, device=None),
        "cpu": dict(toy_eps=0.1, toy_steps=10000, toy_lr=2.0, dataset="fashion_mnist",
                    model="simple", n_train=6000, n_test=3000, epochs=4, batch_size=128, seeds=3,
                    lr=0.05, momentum=0.9, weight_decay=5e-4, ece_bins=15, root=None, device=None),
        "gpu": dict(toy_eps=0.1, toy_steps=20000, toy_lr=2.0, dataset="cifar10", model="resnet20",
                    n_train=None, n_test=None, epochs=30, batch_size=256, seeds=3, lr=0.1,
                    momentum=0.9, weight_decay=5e-4, ece_bins=15, root=None, device=None),
    },
    "quickdraw": {
        "smoke": dict(root=None, model="resnet18", n_classes=10, per_class=40, val_fraction=0.2,
                      image_size=24, line_width=1, color_by_order=True, label_noise=0.05,
                      batch_size=32, lr=0.04, max_lr=0.4, momentum=0.9, weight_decay=5e-4,
                      timing_n=128, device=None),
        "cpu": dict(root=None, model="resnet18", n_classes=12, per_class=1000, val_fraction=0.1,
                    image_size=32, line_width=1, color_by_order=True, label_noise=0.05,
                    batch_size=128, lr=0.04, max_lr=0.4, momentum=0.9, weight_decay=5e-4,
                    timing_n=1024, device=None),
        "gpu": dict(root=None, model="resnet18", n_classes=None, per_class=2000, val_fraction=0.02,
                    image_size=128, line_width=3, color_by_order=True, label_noise=0.0,
                    batch_size=256, lr=0.04, max_lr=0.4, momentum=0.9, weight_decay=5e-4,
                    timing_n=20000, device=None),
    },
}


def chapter_params(chapter: str) -> tuple:
    check_choice("notebook", chapter, tuple(CHAPTERS))
    return tuple(CHAPTERS[chapter]["cpu"])


def resolve(chapter: str, profile: str, **overrides) -> SimpleNamespace:
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
        CHECKS[k](k, v)
    return SimpleNamespace(profile=profile, **cfg)
