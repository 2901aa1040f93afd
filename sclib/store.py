"""The run store: every finished training run kept on disk, keyed by what determines it.

:func:`sclib.train.fit` asks the store before it trains. The key (:func:`sclib.train.run_key`)
hashes the run's configuration, a fingerprint of its data (train and test batches, their
augmentation and order), the model's architecture and initial weights, a teacher's, the random
state at the start, the default dtype, the torch version and the training code itself; a stored
run is returned (History, final weights, the random state at its end) only when all of them
match, so a hit gives exactly what training would have given. A chapter re-executed with
nothing changed retrains nothing, and chapters that train the same run share it.

While a run trains, ``fit`` checkpoints it after every epoch under the same key: a run killed
(even with SIGKILL) resumes from its last epoch and ends bit-identical to an uninterrupted run.

Where: ``$SCLIB_RUNS``, else ``~/.cache/sclib/runs`` (``$SCLIB_CACHE/runs``); ``SCLIB_RUNS=off``
turns the store off. Entries are written to a temporary file and renamed (atomic): a reader
never sees half an entry, and two writers of one key write the same bytes. An entry that cannot
be read, or whose key does not match, is deleted and the run retrained: never trusted.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import torch

FORMAT = 1


def root() -> Path | None:
    """The store's folder, or None when ``SCLIB_RUNS=off``."""
    where = os.environ.get("SCLIB_RUNS", "")
    if where.lower() in ("off", "0", "none"):
        return None
    if where:
        return Path(where)
    from .data import cache_dir

    return cache_dir() / "runs"


def path(key: str, kind: str = "run") -> Path | None:
    r = root()
    return None if r is None else r / key[:2] / f"{key}.{kind}.pt"


def load(key: str) -> dict | None:
    """The stored run for ``key``, or None (missing, unreadable or not this key: then removed)."""
    p = path(key)
    if p is None or not p.exists():
        return None
    try:
        entry = torch.load(p, weights_only=True)
        if entry.get("format") != FORMAT or entry.get("key") != key:
            raise ValueError("not this key")
        return entry
    except Exception:  # truncated, corrupt, or another format: retrain, never trust it
        p.unlink(missing_ok=True)
        return None


def save(key: str, entry: dict) -> Path | None:
    p = path(key)
    if p is None:
        return None
    from .data import atomic_torch_save

    atomic_torch_save(dict(entry, key=key, format=FORMAT), p)
    return p


def clear() -> int:
    """Delete every stored run and checkpoint; returns how many files went."""
    r = root()
    if r is None or not r.exists():
        return 0
    n = 0
    for p in r.glob("*/*.pt"):
        p.unlink(missing_ok=True)
        n += 1
    return n


@contextmanager
def off():
    """No store inside (benchmarks time real training)."""
    old = os.environ.get("SCLIB_RUNS")
    os.environ["SCLIB_RUNS"] = "off"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SCLIB_RUNS", None)
        else:
            os.environ["SCLIB_RUNS"] = old
