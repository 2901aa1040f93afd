"""LR × weight-decay grids (the seed's Figure 2 for SGDW and AdamW) and their separability,
measured per seed with an uncertainty; the best cell of each grid re-run on fresh seeds.

A cell trains one model with :func:`sclib.train.fit` and an optimizer from
:func:`sclib.optim.make`, so ``weight_decay`` is always in Algorithms 1-2's units (the L2 factor
for the coupled variants, the per-step decay at η_t = 1 for SGDW/AdamW). Cells are selected on
a **validation split** held out of the training set (:func:`split`); the test set is only used by
the re-runs of the selected cells, on seeds the grid never saw (:data:`FRESH_SEED`), so neither
the choice of a cell nor its luck on the grid's seeds leaks into the test numbers.

Separability (:func:`slope`): one number per LR column, then the least-squares slope of its
log10 against log10 α over the columns whose best cell trains. A coupled space (only α·w
matters) has slope −1, a separable one 0. Two column statistics:

- ``"edge"`` (:func:`column_edge`): the *tolerated decay*, the largest w whose error stays within
  :data:`TOL` of the column's best, log-interpolated between the rows that bracket it: the upper
  edge of the band of good decays. It is well defined where the error is flat in w below a
  threshold and rises steeply above it, which is what short runs of a BatchNorm network show.
- ``"best"`` (:func:`column_best`): the vertex of the parabola through the best cell and its two
  neighbours in (log10 w, error), within half a grid step of the best row. In a flat column it is
  set by noise.

Either is *censored* when it sits on the edge of the grid (the true value may lie beyond). Slopes
are computed per seed (one grid per seed: the paired test) and on the seed-mean grid with a
bootstrap over seeds (:func:`pair_bootstrap`). Verdicts on these numbers are made by
``sclib.report``, not here.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from . import data as D
from . import models as M
from . import experiments, optim
from . import train as T
from .errors import ConfigError, check_number

BOOT = 2000          #: bootstrap resamples of the seeds
BOOT_SEED = 0        #: numpy RNG seed of the bootstrap (the output is deterministic)
FRESH_SEED = 100     #: first seed of the re-runs; the grid's seeds are 0, 1, ..., grid_seeds − 1
MAX_ERR = 0.5        #: an LR column whose best cell has a higher error did not train: left out of the slope
TOL = 0.03           #: the tolerated decay of a column: its error stays within TOL of the column's best
STATS = ("edge", "best")


def log_grid(center: float, decades: float, n: int) -> list:
    """``n`` log-spaced values spanning ``decades`` decades, centred (geometrically) on ``center``."""
    check_number("grid center", center, lo=0, lo_open=True)
    check_number("grid decades", decades, lo=0, lo_open=True)
    check_number("grid", n, lo=2, integer=True)
    e = np.linspace(-decades / 2, decades / 2, n)
    return [float(center * 10 ** x) for x in e]


# ---------------------------------------------------------------- data
@functools.lru_cache(maxsize=4)
def split(dataset: str, n_train: int, n_val: int, n_test=None, root=None):
    """Training and validation images from the dataset's training set, both class-balanced,
    disjoint and fixed (seed 0: every run sees the same images; the run's seed varies the order
    and the initial weights), and the test subset.

    The training images are the ones ``sclib.train.load_batches(n_train=...)`` uses
    (``sclib.data.subset`` with seed 0); the validation images a class-balanced subset of the
    rest; the test images ``load_batches``' too. Returns ``(x_train, y_train, x_val, y_val,
    x_test, y_test)``. Cached per process: grid workers load each dataset once."""
    import torch

    check_number("n_train", n_train, lo=1, integer=True)
    check_number("n_val", n_val, lo=1, integer=True)
    x, y = D.load(dataset, "train", root=root)
    every = torch.arange(len(y))
    tr, ytr = D.subset(every, y, n_train, seed=0)  # indices: the images of load_batches' subset
    rest = torch.ones(len(y), dtype=torch.bool)
    rest[tr] = False
    if not rest.any():
        raise ConfigError(f"n_val={n_val}: n_train={n_train} leaves no training image for validation")
    va, yva = D.subset(every[rest], y[rest], n_val, seed=0)
    if len(va) == 0:
        raise ConfigError(f"n_val={n_val} gives no validation images (a class-balanced subset of the rest)")
    xte, yte = D.load(dataset, "test", root=root)
    xte, yte = D.subset(xte, yte, n_test, seed=0)
    return x[tr], ytr, x[va], yva, xte, yte


def _batches(job: dict, evaluate=("val",)):
    """(train, {split name: eval Batches}) for a job: the eval splits normalized with the
    training images' statistics, built only for the splits in ``evaluate``."""
    xtr, ytr, xva, yva, xte, yte = split(job["dataset"], job["n_train"], job["n_val"], job.get("n_test"),
                                         job.get("root"))
    dev = job.get("device") or T.default_device()
    aug = T.AUGMENT[job["dataset"]] if job.get("augment") else {}
    tr = D.Batches(xtr, ytr, job["batch_size"], shuffle=True, seed=job["seed"], device=dev, **aug)
    ev = {name: D.Batches(x, y, min(1000, len(y)), mean=tr.mean, std=tr.std, device=dev)
          for name, (x, y) in (("val", (xva, yva)), ("test", (xte, yte))) if name in evaluate}
    return tr, ev


# ---------------------------------------------------------------- one run
JOB_KEYS = {"method", "dataset", "model", "n_train", "n_val", "n_test", "augment", "epochs", "batch_size",
            "lr", "momentum", "weight_decay", "schedule", "seed", "channels_last", "device", "root",
            "evaluate", "keep_lr"}


def cell(job: dict) -> dict:
    """Train one model (a module-level function: picklable for worker processes) and evaluate it
    once at the end on the splits named in ``job["evaluate"]`` ("val", "test").

    Returns ``dict(val_acc=, test_acc=, diverged=, train_loss=, steps=)`` (the accuracy of a split
    not evaluated is nan; a diverged run scores chance, 1/classes) and the LR of every step under
    ``"lr"`` when ``job["keep_lr"]``. The training itself goes through the run store."""
    job = dict(job)
    unknown = set(job) - JOB_KEYS
    if unknown:
        raise ConfigError(f"unknown job keys {sorted(unknown)}")
    evaluate = tuple(job.get("evaluate", ("val",)))
    if set(evaluate) - {"val", "test"}:
        raise ConfigError(f"evaluate must name 'val' and/or 'test', got {evaluate!r}")
    tr, ev = _batches(job, evaluate)
    T.seed_everything(job["seed"])
    k = int(tr.y.max().item()) + 1
    net = M.create(job["model"], num_classes=k, in_channels=tr.x.shape[1])
    cfg = dict(dataset=job["dataset"], model=job["model"], seed=job["seed"], split="wdgrid",
               n_val=job["n_val"], augment=bool(job.get("augment")))
    h = T.fit(net, tr, None, epochs=job["epochs"], lr=job["lr"], optimizer=optim.make(job["method"]),
              momentum=job["momentum"], weight_decay=job["weight_decay"], schedule=job["schedule"],
              channels_last=bool(job.get("channels_last")), progress=False, config=cfg)
    out = dict(diverged=bool(h.diverged), train_loss=float(h.train_loss[-1]), steps=h.updates,
               num_classes=k, val_acc=math.nan, test_acc=math.nan)
    for name, b in ev.items():
        out[f"{name}_acc"] = 1.0 / k if h.diverged else float(T.evaluate(net, b)[1])
    if job.get("keep_lr"):
        out["lr"] = list(h.lr)
        out["steps_per_epoch"] = h.steps_per_epoch
    return out


def norms_run(kw: dict):
    return optim.track_norms(**kw)


def seeded(fn, jobs: dict, arm, seed: int):
    """``fn(jobs[arm] with seed=seed)``: a sweep's run (module-level, so that
    ``functools.partial(seeded, cell, jobs)`` reaches worker processes)."""
    return fn(dict(jobs[arm], seed=seed))


def sweep(fn, jobs: dict, seeds, *, workers: int = 1, progress: bool = True, desc: str = "runs") -> dict:
    """:func:`sclib.experiments.sweep` of ``fn`` (:func:`cell` or :func:`norms_run`) over the
    jobs (label -> job without its seed) and ``seeds``, with one torch thread per run: in this
    process when ``workers == 1``, else in ``workers`` processes. One thread per run keeps the
    numbers independent of the scheduling and avoids oversubscribing a shared 2-core machine.
    Returns label -> [result per seed]."""
    check_number("workers", workers, lo=1, integer=True)
    return experiments.sweep(functools.partial(seeded, fn, jobs), jobs, seeds, progress=progress, desc=desc,
                             executor="serial" if workers == 1 else "processes", workers=workers, threads=1)


def base_job(cfg, **kw) -> dict:
    """A job with the data, model and training settings of profile ``cfg`` (``kw`` overrides)."""
    job = dict(dataset=cfg.dataset, model=cfg.model, n_train=cfg.n_train, n_val=cfg.n_val, n_test=cfg.n_test,
               augment=cfg.augment, epochs=cfg.epochs, batch_size=cfg.batch_size, momentum=cfg.momentum,
               schedule="cosine", channels_last=cfg.channels_last, device=cfg.device, root=cfg.root)
    job.update(kw)
    return job


def run_grids(cfg, grids: dict, *, seeds, workers: int = 1, progress: bool = True) -> dict:
    """Train every cell of several grids for every seed; ``grids`` maps a label to
    ``(method, lrs, wds)``. Returns label -> ``dict(method, lrs, wds, seeds, err, k)`` with
    ``err[s, i, j]`` the validation error of seed ``seeds[s]`` at ``wds[i]`` (rows) and
    ``lrs[j]`` (columns); a diverged run counts as chance (error 1 − 1/k)."""
    seeds = list(seeds)
    jobs = {}
    for label, (method, lrs, wds) in grids.items():
        optim.make(method)  # bad method names fail here, before any training
        for i, wd in enumerate(wds):
            for j, lr in enumerate(lrs):
                jobs[(label, i, j)] = base_job(cfg, method=method, lr=lr, weight_decay=wd, evaluate=("val",))
    out = {label: dict(method=m, lrs=list(lrs), wds=list(wds), seeds=seeds,
                       err=np.zeros((len(seeds), len(wds), len(lrs))))
           for label, (m, lrs, wds) in grids.items()}
    for (label, i, j), results in sweep(cell, jobs, seeds, workers=workers, progress=progress,
                                        desc="grid runs").items():
        for s, r in enumerate(results):
            out[label]["err"][s, i, j] = 1.0 - r["val_acc"]
            out[label]["k"] = r["num_classes"]
    return out


# ---------------------------------------------------------------- separability
def _mean_err(g) -> np.ndarray:
    err = np.asarray(g["err"], dtype=float)
    return err.mean(0) if err.ndim == 3 else err


def column_best(err_col, log_wds) -> tuple:
    """(best log10 w, censored) of one LR column: the vertex of the parabola through the best
    row and its two neighbours (within half a grid step of the best row; the best row when the
    three are equal), or the best row itself when it is the first or last (censored = True).
    Ties go to the smaller decay."""
    y = np.asarray(err_col, dtype=float)
    x = np.asarray(log_wds, dtype=float)
    i = int(np.argmin(y))
    if i == 0 or i == len(y) - 1:
        return float(x[i]), True
    (x0, x1, x2), (y0, y1, y2) = x[i - 1:i + 2], y[i - 1:i + 2]
    den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    if den == 0:
        return float(x1), False
    num = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
    v = x1 - 0.5 * num / den
    return float(min(max(v, (x0 + x1) / 2), (x1 + x2) / 2)), False


def column_edge(err_col, log_wds, tol: float = TOL) -> tuple:
    """(log10 tolerated w, censored) of one LR column: going up from the best row, the first row
    whose error exceeds the column's best + ``tol``; the crossing of best + ``tol`` is
    interpolated linearly in log10 w between it and the row below. When no row above the best
    exceeds it, the top row (censored = True)."""
    y = np.asarray(err_col, dtype=float)
    x = np.asarray(log_wds, dtype=float)
    i = int(np.argmin(y))
    level = y[i] + tol
    for k in range(i + 1, len(y)):
        if y[k] > level:
            f = (level - y[k - 1]) / (y[k] - y[k - 1])  # y[k-1] <= level < y[k]
            return float(x[k - 1] + f * (x[k] - x[k - 1])), False
    return float(x[-1]), True


def _columns(err2d, wds, stat: str = "best", tol: float = TOL) -> tuple:
    if stat not in STATS:
        raise ConfigError(f"stat must be one of {STATS}, got {stat!r}")
    err2d = np.asarray(err2d, dtype=float)
    lw = np.log10(np.asarray(wds, dtype=float))
    res = [column_best(err2d[:, j], lw) if stat == "best" else column_edge(err2d[:, j], lw, tol)
           for j in range(err2d.shape[1])]
    return np.array([r[0] for r in res]), np.array([r[1] for r in res], dtype=bool)


def best_log_wd(err2d, wds) -> tuple:
    """Per LR column: best log10 w (:func:`column_best`) and whether it is censored."""
    return _columns(err2d, wds, "best")


def edge_log_wd(err2d, wds, tol: float = TOL) -> tuple:
    """Per LR column: log10 of the tolerated w (:func:`column_edge`) and whether it is censored."""
    return _columns(err2d, wds, "edge", tol)


def slope(err2d, lrs, wds, max_err: float = MAX_ERR, stat: str = "best", tol: float = TOL) -> float:
    """Least-squares slope of the column statistic ``stat`` ("best": log10 best w; "edge": log10
    tolerated w) against log10 α over the LR columns whose best cell trains (error <
    ``max_err``); nan with fewer than two such columns."""
    err2d = np.asarray(err2d, dtype=float)
    v, _ = _columns(err2d, wds, stat, tol)
    cols = np.flatnonzero(err2d.min(0) < max_err)
    x = np.log10(np.asarray(lrs, dtype=float))[cols]
    if len(cols) < 2 or np.ptp(x) == 0:
        return math.nan
    return float(np.polyfit(x, v[cols], 1)[0]) + 0.0


def seed_slopes(g, stat: str = "edge", tol: float = TOL) -> np.ndarray:
    """The slope of each seed's own grid (``g["err"][s]``): the paired per-seed values."""
    err = np.asarray(g["err"], dtype=float)
    if err.ndim != 3:
        raise ConfigError(f"seed_slopes needs err[seed, wd, lr], got shape {err.shape}")
    return np.array([slope(e, g["lrs"], g["wds"], stat=stat, tol=tol) for e in err])


def interaction(err2d) -> float:
    """Share of the variance of the error over the grid that an additive model ``a(lr) + b(wd)``
    leaves unexplained: 0 for a perfectly separable surface."""
    err = np.asarray(err2d, dtype=float)
    resid = err - err.mean(0, keepdims=True) - err.mean(1, keepdims=True) + err.mean()
    total = float(((err - err.mean()) ** 2).sum())
    return float((resid ** 2).sum()) / total if total > 0 else 0.0


def best_cell(g) -> tuple:
    """(i, j) of the lowest seed-mean error: ``wds[i]``, ``lrs[j]`` (ties: the first)."""
    err = _mean_err(g)
    i, j = np.unravel_index(int(np.argmin(err)), err.shape)
    return int(i), int(j)


def separability(g: dict, max_err: float = MAX_ERR) -> dict:
    """The seed-mean grid's numbers (``g["err"]`` is err[wd, lr] or err[seed, wd, lr]):

    - ``slope``: :func:`slope` of the best w; ``span``: decades between the smallest and largest
      best w over the columns that train; ``censored``: columns whose best w is at an edge of the
      range; ``edge_slope`` and ``edge_censored``: the same for the tolerated decay;
    - ``interaction``: :func:`interaction`;
    - the best cell: ``best_err``, ``best_lr``, ``best_wd`` (and its indices ``best_i``, ``best_j``).
    """
    err = _mean_err(g)
    best, cens = best_log_wd(err, g["wds"])
    _, ecens = edge_log_wd(err, g["wds"])
    cols = np.flatnonzero(err.min(0) < max_err)
    i, j = best_cell(g)
    return dict(slope=slope(err, g["lrs"], g["wds"], max_err),
                span=float(np.ptp(best[cols])) if len(cols) >= 2 else math.nan,
                censored=int(cens[cols].sum()),
                edge_slope=slope(err, g["lrs"], g["wds"], max_err, stat="edge"),
                edge_censored=int(ecens[cols].sum()), interaction=interaction(err), columns=len(cols),
                best_err=float(err[i, j]), best_lr=float(g["lrs"][j]), best_wd=float(g["wds"][i]),
                best_i=i, best_j=j)


def best_wd_per_lr(g: dict) -> list:
    """Index of the best weight decay in each LR column of the seed-mean grid (ties: the smaller)."""
    err = _mean_err(g)
    return [int(np.argmin(err[:, j])) for j in range(err.shape[1])]


def pair_bootstrap(coupled: dict, decoupled: dict, n_boot: int = BOOT, seed: int = BOOT_SEED,
                   level: float = 0.95, stat: str = "edge", tol: float = TOL) -> dict:
    """Bootstrap over seeds of the seed-mean slopes (of ``stat``) of two grids trained on the same seeds:
    each resample draws ``len(seeds)`` seed indices with replacement (numpy
    ``default_rng(seed)``), shared by both grids (seed *s* of both shares the initial weights and
    the data order), averages each grid over them and computes both slopes.

    Returns the point slopes (``coupled``, ``decoupled``), their percentile intervals
    (``ci_coupled``, ``ci_decoupled``) and those of ``gap`` = |slope coupled| − |slope decoupled|
    (> 0: the decoupled best decay moves less), and ``distinct``: how many different resamples
    there are (few with 3 seeds: the interval is coarse)."""
    check_number("n_boot", n_boot, lo=100, integer=True)
    a, b = np.asarray(coupled["err"], dtype=float), np.asarray(decoupled["err"], dtype=float)
    if a.ndim != 3 or a.shape[0] != b.shape[0] or list(coupled["seeds"]) != list(decoupled["seeds"]):
        raise ConfigError("pair_bootstrap needs two grids err[seed, wd, lr] on the same seeds")
    n = a.shape[0]
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    kw = dict(stat=stat, tol=tol)
    sa = np.array([slope(a[r].mean(0), coupled["lrs"], coupled["wds"], **kw) for r in idx])
    sb = np.array([slope(b[r].mean(0), decoupled["lrs"], decoupled["wds"], **kw) for r in idx])
    q = [(1 - level) / 2, (1 + level) / 2]

    def ci(v):
        v = v[np.isfinite(v)]
        return tuple(float(x) for x in np.quantile(v, q, method="inverted_cdf")) if len(v) else (math.nan, math.nan)

    pa = slope(a.mean(0), coupled["lrs"], coupled["wds"], **kw)
    pb = slope(b.mean(0), decoupled["lrs"], decoupled["wds"], **kw)
    return dict(coupled=pa, decoupled=pb, ci_coupled=ci(sa), ci_decoupled=ci(sb),
                gap=abs(pa) - abs(pb), ci_gap=ci(np.abs(sa) - np.abs(sb)), n_boot=n_boot, seeds=n,
                distinct=math.comb(2 * n - 1, n))


# ---------------------------------------------------------------- plain SGD: L2 = weight decay
def plain_sgd_equivalence(steps: int = 20, lr: float = 0.1, w_l2: float = 0.05, momentum: float = 0.0,
                          seed: int = 0) -> float:
    """Largest |difference| between the parameters of Algorithm 1 with L2 factor ``w_l2`` and
    SGDW with ``w = lr·w_l2`` (:func:`sclib.optim.decoupled_from_l2`) after ``steps`` steps of a
    cosine schedule on a small least-squares problem, in float64. 0 up to rounding when
    ``momentum == 0`` (the seed: "both are equivalent when we use simple SGD"); with momentum the
    L2 term goes through the momentum buffer and SGDW's decay does not, so they differ."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=g, dtype=torch.float64)
    y = torch.randn(64, 3, generator=g, dtype=torch.float64)
    w0 = torch.randn(5, 3, generator=g, dtype=torch.float64)
    finals = []
    for cls, wd in ((optim.SGDL2, w_l2), (optim.SGDW, optim.decoupled_from_l2(w_l2, lr))):
        p = w0.clone().requires_grad_(True)
        opt = cls([p], lr=lr, momentum=momentum, weight_decay=wd)
        for t in range(steps):
            opt.param_groups[0]["lr"] = lr * 0.5 * (1 + math.cos(math.pi * t / steps))  # η_t·α
            opt.zero_grad()
            ((x @ p - y) ** 2).mean().backward()
            opt.step()
        finals.append(p.detach())
    return float((finals[0] - finals[1]).abs().max())
