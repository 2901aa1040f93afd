"""LR × weight-decay grids (the seed's Figure 2 for AdamW) and numbers for separability.

A grid trains one model per (LR, weight decay) cell with ``sclib.train.run`` and an optimizer
from :func:`sclib.optim.make`, so ``weight_decay`` is always in Algorithms 1-2's units.
Verdicts on these numbers are made by ``sclib.report``'s engine, not here.
"""
from __future__ import annotations

import math

import numpy as np

from . import optim, train
from .progress import bar as progress_bar
from .errors import check_number


def log_grid(center: float, decades: float, n: int) -> list:
    """``n`` log-spaced values spanning ``decades`` decades, centred (geometrically) on ``center``."""
    check_number("grid center", center, lo=0, lo_open=True)
    check_number("grid decades", decades, lo=0, lo_open=True)
    check_number("grid", n, lo=2, integer=True)
    e = np.linspace(-decades / 2, decades / 2, n)
    return [float(center * 10 ** x) for x in e]


def _set_threads(kw: dict) -> None:
    threads = kw.pop("threads", None)
    if threads:  # worker processes: one thread each, so two workers share 2 cores cleanly
        import torch

        torch.set_num_threads(threads)


def grid_cell(kw: dict) -> float:
    """Test error of one run (a module-level function: picklable for worker processes)."""
    _set_threads(kw)
    method = kw.pop("method")
    h = train.run(optimizer=optim.make(method), progress=False, **kw)
    return 0.9 if h.diverged else min(0.9, 1.0 - h.final_test_acc)


def history_run(kw: dict):
    _set_threads(kw)
    method = kw.pop("method")
    return train.run(optimizer=optim.make(method), progress=False, **kw)


def norms_run(kw: dict):
    _set_threads(kw)
    return optim.track_norms(**kw)


_POOL = {}  # workers -> executor, kept for the whole session: spawning costs seconds per process


def _executor(workers: int):
    if workers not in _POOL:
        import atexit
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        _POOL[workers] = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
        atexit.register(_POOL[workers].shutdown)
    return _POOL[workers]


def parallel(fn, jobs: list, workers: int = 1, progress: bool = True, desc: str = "runs"):
    """``[fn(job) for job in jobs]`` with one torch thread per run: in this process when
    ``workers == 1`` (the thread count is restored afterwards), else in ``workers`` spawned
    processes. One thread per run keeps the numbers independent of ``workers``' scheduling and
    avoids thread oversubscription on a shared 2-core machine. ``fn`` is one of this module's
    ``grid_cell``/``history_run``/``norms_run``."""
    import torch

    check_number("workers", workers, lo=1, integer=True)
    jobs = [dict(j, threads=1) for j in jobs]
    bar = dict(total=len(jobs), desc=desc, unit="run", disable=not progress, mininterval=5)
    if workers == 1:
        old = torch.get_num_threads()
        try:
            return [fn(j) for j in progress_bar(jobs, **bar)]
        finally:
            torch.set_num_threads(old)
    return list(progress_bar(_executor(workers).map(fn, jobs), **bar))


def run_grids(cfg, grids: dict, *, epochs: int, schedule="cosine", seed: int = 0,
              workers: int = 1, progress: bool = True) -> dict:
    """Train every cell of several grids; ``grids`` maps a label to ``(method, lrs, wds)``.

    Returns label -> ``dict(method, lrs, wds, err)`` with ``err[i, j]`` the final test error
    for ``wds[i]`` (rows) and ``lrs[j]`` (columns). A diverged run counts as error 0.9 (chance
    for 10 classes): it ranks last without stretching the colour scale. ``workers > 1`` trains
    cells in that many spawned processes with one torch thread each (on 2 cores this beats one
    process with 2 threads for small nets); a cell's number does not depend on the worker."""
    check_number("workers", workers, lo=1, integer=True)
    cells, jobs = [], []
    for label, (method, lrs, wds) in grids.items():
        optim.make(method)  # bad method names fail here, before any training
        for i, wd in enumerate(wds):
            for j, lr in enumerate(lrs):
                cells.append((label, i, j))
                jobs.append(dict(method=method, dataset=cfg.dataset, model=cfg.model, epochs=epochs,
                                 batch_size=cfg.batch_size, lr=lr, momentum=cfg.momentum,
                                 weight_decay=wd, schedule=schedule, n_train=cfg.n_train,
                                 n_test=cfg.n_test, seed=seed, device=cfg.device, root=cfg.root))
    out = {label: dict(method=m, lrs=list(lrs), wds=list(wds), err=np.zeros((len(wds), len(lrs))))
           for label, (m, lrs, wds) in grids.items()}
    for (label, i, j), e in zip(cells, parallel(grid_cell, jobs, workers, progress, "grid runs")):
        out[label]["err"][i, j] = e
    return out


def best_wd_per_lr(g: dict) -> list:
    """Index of the best weight decay in each LR column (ties: the smaller decay)."""
    return [int(np.argmin(g["err"][:, j])) for j in range(len(g["lrs"]))]


def separability(g: dict, max_err: float = 0.5) -> dict:
    """How much the best weight decay depends on the LR.

    - ``slope``: least-squares slope of log10(best wd) against log10(lr) over the LR columns
      whose best cell trains at all (error < ``max_err``). If what matters is the decay per step
      (``α·w`` for L2 with SGD, ``w`` for SGDW), a coupled space has slope -1, a separable one 0.
    - ``span``: decades between the smallest and the largest best wd over those columns.
    - ``interaction``: share of the variance of the error over the whole grid that an additive
      model ``a(lr) + b(wd)`` leaves unexplained: 0 for a perfectly separable surface.
    """
    err, lrs, wds = g["err"], np.log10(g["lrs"]), np.log10(g["wds"])
    best = best_wd_per_lr(g)
    cols = [j for j in range(len(lrs)) if err[best[j], j] < max_err]
    if len(cols) < 2:
        slope, span = math.nan, math.nan
    else:
        y = wds[[best[j] for j in cols]]
        x = lrs[cols]
        slope = float(np.polyfit(x, y, 1)[0]) if np.ptp(x) > 0 else math.nan
        span = float(np.ptp(y))
    resid = err - err.mean(0, keepdims=True) - err.mean(1, keepdims=True) + err.mean()
    total = float(((err - err.mean()) ** 2).sum())
    inter = float((resid ** 2).sum()) / total if total > 0 else 0.0
    return dict(slope=slope, span=span, interaction=inter, columns=len(cols),
                best_err=float(err.min()),
                best_lr=float(g["lrs"][int(np.argmin(err)) % len(lrs)]),
                best_wd=float(g["wds"][int(np.argmin(err)) // len(lrs)]))

