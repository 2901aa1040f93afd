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
        "cpu": dict(dataset="fashion_mnist", model="simple", n_train=12000, n_test=10000, epochs=6,
                    batch_size=128, seeds=3, momentum=0.9, weight_decay=5e-4, range_iters=150,
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
