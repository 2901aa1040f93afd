"""Cyclical learning rates (Smith 2017) and SGDR (Loshchilov & Hutter 2017), as 004 presents them.

- Closed forms of the CLR policies and of SGDR's cosine with warm restarts
  (:func:`clr_lr`, :func:`sgdr_lr`, :func:`restart_epochs`), used by the tests and as overlays
  on the applied LRs.
- Runs scored on the test set at the epochs a claim reads (:func:`train_eval`, :func:`compare`):
  a table needs the accuracy after N·25/70 and N epochs, or at SGDR's restarts, and scoring a
  test set larger than the training set after every epoch would cost more than the training
  itself. No data augmentation in this chapter (:func:`load`).
- CLR bounds read off an LR range test (:func:`bounds_from_range_test`) and the fixed LR tuned
  on a grid of fractions of the same range test's minimum (:func:`fixed_grid`, :func:`best_lr`).
- The seed's "Table 3" (CLR against adaptive optimizers): :func:`table3_runs` does, for each
  optimizer, its range test, the fixed-LR grid on a tuning seed that is not one of the compared
  seeds, then for every compared seed a fixed-LR run of N epochs (the first seed: 2N, to show
  how far the fixed LR is from its plateau) and a triangular CLR run of N epochs whose accuracy
  after N·25/70 epochs is read from the same run (CyclicLR does not depend on the run's length,
  and the data order and initialization depend only on the seed, so the first N·25/70 epochs of
  the long run *are* the short run).
- Per Table 3 row, the paper's claim (:func:`claim_for`) and its verdict from
  :func:`sclib.report.verdict` on per-seed accuracies paired by seed (:func:`table3_verdicts`).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from . import data as D
from . import lr_finder, models, report, train
from .errors import ConfigError, check_choice, check_number
from .experiments import sweep

#: The optimizers of 004's CLR Table 3, by sclib.train.OPTIMIZERS name, in the table's order.
TABLE_OPTIMIZERS = ("nesterov", "adam", "rmsprop", "adagrad", "adadelta")
LABELS = {"nesterov": "Nesterov", "adam": "ADAM", "rmsprop": "RMSprop", "adagrad": "AdaGrad",
          "adadelta": "AdaDelta"}
#: 004's Table 3 iteration budgets: N = 70,000 and the short CLR budget 25,000.
PAPER_ITERS = (70_000, 25_000)
#: Score the test set after every epoch (inside :func:`sclib.train.fit`, no hook) when it holds at
#: most this many times the training images: an evaluation costs about a third of a training
#: pass per image, so up to a quarter of the training time (the GPU profile, full data sets).
#: Larger test sets (the CPU profile) are scored only at the epochs a claim reads.
EVAL_EVERY_EPOCH = 0.75
#: Test images per evaluation batch: on CPU, batches of 250 are scored ~3x faster than of 1000
#: (the activations stay in cache); the accuracy does not depend on it.
TEST_BATCH = 250


# ------------------------------------------------------------------ closed forms
def clr_lr(it: int, base_lr: float, max_lr: float, step: int, mode: str = "triangular",
           gamma: float = 1.0) -> float:
    """Smith's CLR policies at iteration ``it`` (0-based); ``step`` = iterations per half cycle.

    cycle = floor(1 + it/(2·step)), x = |it/step − 2·cycle + 1|,
    lr = base + (max − base)·max(0, 1 − x)·scale, scale = 1 (triangular),
    1/2^(cycle−1) (triangular2), gamma^it (exp_range)."""
    check_choice("mode", mode, ("triangular", "triangular2", "exp_range"))
    cycle = math.floor(1 + it / (2 * step))
    x = abs(it / step - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 1.0 / 2 ** (cycle - 1), "exp_range": gamma ** it}[mode]
    return base_lr + (max_lr - base_lr) * max(0.0, 1.0 - x) * scale


def sgdr_lr(it: int, lr: float, t0: int, t_mult: int = 2, eta_min: float = 0.0) -> float:
    """SGDR (004, SGDR Figure 1 / eq. 5): cosine from ``lr`` to ``eta_min`` over T_i iterations,
    T_0 = ``t0``, T_{i+1} = T_i·t_mult, restarting at lr. ``it`` is 0-based."""
    start, T = 0, t0
    while it >= start + T:
        start += T
        T *= t_mult
    return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * (it - start) / T)) / 2


def restart_epochs(t0_epochs: float, t_mult: int, epochs: int) -> list:
    """Epochs (from the start) at which SGDR restarts, within ``epochs`` (the last one included
    when it coincides with the end of the run)."""
    out, e, T = [], 0.0, float(t0_epochs)
    while e + T <= epochs + 1e-9:
        e += T
        out.append(e)
        T *= t_mult
    return out


def whole_restarts(t0s, t_mult: int, epochs: int) -> dict:
    """Per T0, the whole epochs at which SGDR restarts within ``epochs`` (the end of a period
    that ends with the budget included)."""
    return {t0: [int(round(e)) for e in restart_epochs(t0, t_mult, epochs) if abs(e - round(e)) < 1e-9]
            for t0 in t0s}


# ------------------------------------------------------------------ runs
def load(dataset: str, *, n_train, n_test, batch_size: int, seed: int = 0, device=None, root=None):
    """(train, test) Batches as :func:`sclib.train.load_batches` makes them, without data
    augmentation, and test batches of :data:`TEST_BATCH`. The data is read once per dataset,
    subset sizes and dtype; each seed gets its own shuffling of the same training subset
    (identical to ``load_batches(seed=seed)``)."""
    tr, te = _loaded(dataset, n_train, n_test, batch_size, None if device is None else str(device), root,
                     str(torch.get_default_dtype()))
    return D.Batches(tr.images, tr.labels, tr.batch_size, shuffle=True, seed=seed, device=tr.device,
                     mean=tr.mean, std=tr.std), te


@functools.lru_cache(maxsize=4)
def _loaded(dataset, n_train, n_test, batch_size, device, root, dtype):
    return train.load_batches(dataset, batch_size=batch_size, n_train=n_train, n_test=n_test, seed=0,
                              augment=False, device=device, root=root, test_batch_size=TEST_BATCH)


@dataclass
class Run:
    """One seeded run: its History (per iteration: LR, loss; per epoch: training loss and
    accuracy) and its test accuracy (fraction) at the epochs it was scored at; nan where the
    run had diverged."""
    history: train.History
    acc: dict = field(default_factory=dict)
    seed: int = 0

    def at(self, epoch: int) -> float:
        if epoch not in self.acc:
            raise ConfigError(f"this run was evaluated at epochs {sorted(self.acc)}, not at {epoch}")
        return self.acc[epoch]


def train_eval(*, dataset: str, model: str, n_train, n_test, batch_size: int, epochs: int, lr: float,
               optimizer: str = "nesterov", schedule="constant", seed: int = 0, eval_at=(),
               momentum: float = 0.9, weight_decay: float = 0.0, channels_last: bool = False,
               device=None, root=None) -> Run:
    """Train ``model`` for ``epochs`` and measure its test accuracy after each epoch of
    ``eval_at`` (and after the last one). Same seed, same initial weights and data order for
    every arm. Scoring does not touch the training's random state, so the runs are the ones
    training without scoring would give, and every way of scoring gives the same numbers: a
    small test set (:data:`EVAL_EVERY_EPOCH`) is scored by ``fit`` after every epoch, a run
    scored only after its last epoch is scored once after ``fit``, and other runs are scored by
    an ``on_epoch`` hook at the epochs asked for. The first two need no hook, so ``fit`` takes
    them from (or keeps them in) the run store. A diverged run scores nan."""
    check_number("epochs", epochs, lo=1, integer=True)
    tr, te = load(dataset, n_train=n_train, n_test=n_test, batch_size=batch_size, seed=seed,
                  device=device, root=root)
    train.seed_everything(seed)
    net = models.create(model, num_classes=int(tr.y.max().item()) + 1, in_channels=tr.x.shape[1])
    want = {int(e) for e in eval_at if 1 <= e <= epochs} | {epochs}
    acc = {}
    cfg = dict(dataset=dataset, model=model, seed=seed, n_test=te.num_examples, augment=False)
    kw = dict(epochs=epochs, lr=lr, optimizer=optimizer, momentum=momentum, weight_decay=weight_decay,
              schedule=schedule, channels_last=channels_last, progress=False, config=cfg)
    small = te.num_examples <= EVAL_EVERY_EPOCH * tr.num_examples
    if small or want == {epochs}:  # no hook: the run store keeps (and resumes) the run
        h = train.fit(net, tr, te if small else None, **kw)
        last = len(h.epoch) - 1 if h.diverged else len(h.epoch)  # epochs scored before a divergence
        if small:
            acc = {e: h.test_acc[e - 1] for e in want if e <= last}
        elif last == epochs:
            acc[epochs] = train.evaluate(net, te)[1]
        return Run(h, {e: acc.get(e, math.nan) for e in sorted(want)}, seed)

    def on_epoch(h) -> bool:
        e = len(h.epoch)
        if e in want:
            acc[e] = math.nan if h.diverged else train.evaluate(net, te)[1]
        return False

    h = train.fit(net, tr, None, on_epoch=on_epoch, **kw)
    return Run(h, {e: acc.get(e, math.nan) for e in sorted(want)}, seed)


def compare(cfg, arms: dict, seeds, epochs: int, eval_at=(), progress: bool = True,
            extra: dict | None = None) -> dict:
    """Every arm (label -> dict of :func:`train_eval` arguments: optimizer, lr, schedule, and
    optionally epochs/eval_at of its own) for every seed, on ``cfg``'s data and model. Returns
    label -> list of :class:`Run`, in seed order. ``extra`` maps (label, seed) to arguments that
    override that one run's (e.g. a longer run for the first seed)."""
    def one(label, s):
        kw = dict(dataset=cfg.dataset, model=cfg.model, n_train=cfg.n_train, n_test=cfg.n_test,
                  batch_size=cfg.batch_size, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                  channels_last=cfg.channels_last, device=cfg.device, root=cfg.root,
                  epochs=epochs, eval_at=eval_at, seed=s)
        kw.update(arms[label])
        kw.update((extra or {}).get((label, s), {}))
        return train_eval(**kw)

    return sweep(one, arms, seeds, progress=progress)


def acc_at(runs, epoch: int) -> np.ndarray:
    """Test accuracy (fraction) after ``epoch`` epochs, one value per run (seed order)."""
    return np.array([r.at(epoch) for r in runs], dtype=float)


# ------------------------------------------------------------------ range test -> bounds and grid
def range_test(cfg, optimizer: str, seed: int = 0):
    """The LR range test of ``optimizer`` on ``cfg``'s data and model (a fresh seeded model)."""
    tr, _ = load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, batch_size=cfg.batch_size,
                 seed=seed, device=cfg.device, root=cfg.root)
    train.seed_everything(seed)
    net = models.create(cfg.model, num_classes=int(tr.y.max()) + 1, in_channels=tr.x.shape[1]).to(tr.x.device)
    return lr_finder.range_test(net, tr, start_lr=cfg.range_start_lr, end_lr=cfg.range_end_lr,
                                num_iter=cfg.range_iters, optimizer=optimizer, momentum=cfg.momentum,
                                weight_decay=cfg.weight_decay)


def bounds_from_range_test(rt, divisors=(10, 3)) -> dict:
    """CLR bounds from one range test (004, CLR overview: 'select the value of LR which leads to
    minimum ... select your optimal LR to be approx. one order smaller, or 1/2 - 1/3 as a rule
    of thumb').

    lr_min is the LR at the minimum of the zero-phase smoothed loss (sclib's rule). CLR's
    base_lr is lr_min/``divisors[0]`` ('one order smaller') and its max_lr
    lr_min/``divisors[1]`` (the '1/3' rule of thumb): CLR cycles between the seed's two readings
    of the same curve, a factor 3.3 (Smith's Table 3 bounds span factors 3-12)."""
    lo, hi = divisors
    check_number("divisors[0]", lo, lo=1, lo_open=True)
    check_number("divisors[1]", hi, lo=1, hi=lo, hi_open=True)
    lr_min = lr_finder.suggest(rt, "sclib") * 10
    return dict(lr_min=lr_min, base_lr=lr_min / lo, max_lr=lr_min / hi)


def fixed_grid(lr_min: float, fractions) -> list:
    """The fixed LRs tried for one optimizer: ``fractions`` of its range test's lr_min (the same
    fractions for every optimizer)."""
    check_number("lr_min", lr_min, lo=0, lo_open=True)
    fr = list(fractions)
    if not fr:
        raise ConfigError("fractions must hold at least one fraction of lr_min")
    return [lr_min * f for f in fr]


def best_lr(grid_runs: dict, epoch: int) -> float:
    """The LR (key of ``grid_runs``: LR -> Run) with the highest test accuracy after ``epoch``
    epochs; a diverged run (nan) never wins. Ties go to the smaller LR."""
    scored = [(r.at(epoch), -lr, lr) for lr, r in grid_runs.items() if math.isfinite(r.at(epoch))]
    if not scored:
        raise ConfigError("every LR of the grid diverged: widen the grid towards smaller LRs")
    return max(scored)[2]


def short_epochs(epochs: int) -> int:
    """N·25/70 for the seed's two budgets; N must be a multiple of 14."""
    check_number("clr_epochs", epochs, lo=14, integer=True)
    if epochs % 14:
        raise ConfigError(f"clr_epochs={epochs} must be a multiple of 14 (N·25/70 whole epochs)")
    return epochs * 25 // 70


def clr_spec(bounds: dict, step_epochs: float, mode: str = "triangular", **kw) -> dict:
    """The schedule spec of a CLR between ``bounds`` (base_lr, max_lr), half-cycle ``step_epochs``."""
    return dict(kind="clr", mode=mode, base_lr=bounds["base_lr"], max_lr=bounds["max_lr"],
                step_epochs=step_epochs, **kw)


def tune_fixed_lr(cfg, opt: str, grid, tune_seed: int, epochs: int, *, extend: int = 2,
                  progress: bool = True) -> dict:
    """Train the constant LRs of ``grid`` for ``epochs`` on ``tune_seed``; while the best one lies
    at an edge of the LRs tried, try one more LR beyond that edge (the grid's own ratio between
    its two outermost LRs there), at most ``extend`` times, so the chosen LR is bracketed by
    worse neighbours. Returns LR -> Run, sorted by LR."""
    check_number("extend", extend, lo=0, integer=True)
    runs = {}

    def train(lrs):
        done = compare(cfg, {lr: dict(optimizer=opt, lr=lr, schedule="constant") for lr in lrs},
                       [tune_seed], epochs, progress=progress)
        runs.update({lr: rs[0] for lr, rs in done.items()})

    train(sorted(grid))
    for _ in range(extend):
        lrs = sorted(runs)
        if len(lrs) < 2:
            break
        best = best_lr(runs, epochs)
        if best == lrs[-1]:
            train([lrs[-1] * lrs[-1] / lrs[-2]])
        elif best == lrs[0]:
            train([lrs[0] * lrs[0] / lrs[1]])
        else:
            break
    return dict(sorted(runs.items()))


def table3_runs(cfg, optimizers=TABLE_OPTIMIZERS, seeds=None, tune_seed: int | None = None,
                divisors=(10, 3), extend: int = 2, progress: bool = True) -> dict:
    """Per optimizer: its range test and CLR bounds; the fixed-LR grid (``cfg.fractions`` of
    lr_min, extended beyond an edge that holds the best LR: :func:`tune_fixed_lr`) trained for
    N = ``cfg.clr_epochs`` epochs on ``tune_seed`` (default: the seed after the compared ones)
    and the LR that scored best after N epochs; and, for every compared seed,
    {"fixed": [Run], "triangular": [Run]}: the fixed LR for N epochs (the first seed for 2N),
    scored after N (and N·3/2, 2N), and the triangular CLR between the bounds
    (:func:`bounds_from_range_test` with ``divisors``) for N epochs, scored after N·25/70 and
    N."""
    seeds = list(range(cfg.seeds)) if seeds is None else list(seeds)
    tune_seed = max(seeds) + 1 if tune_seed is None else tune_seed
    if tune_seed in seeds:
        raise ConfigError(f"tune_seed={tune_seed} must not be one of the compared seeds {seeds}")
    N, short = cfg.clr_epochs, short_epochs(cfg.clr_epochs)
    out = {}
    for opt in optimizers:
        rt = range_test(cfg, opt)
        b = bounds_from_range_test(rt, divisors)
        grid_runs = tune_fixed_lr(cfg, opt, fixed_grid(b["lr_min"], cfg.fractions), tune_seed, N,
                                  extend=extend, progress=progress)
        lr = best_lr(grid_runs, N)
        arms = {"fixed": dict(optimizer=opt, lr=lr, schedule="constant", eval_at=[N]),
                "triangular": dict(optimizer=opt, lr=b["base_lr"], schedule=clr_spec(b, cfg.clr_step_epochs),
                                   eval_at=[short, N])}
        runs = compare(cfg, arms, seeds, N, progress=progress,
                       extra={("fixed", seeds[0]): dict(epochs=2 * N, eval_at=[N, 3 * N // 2, 2 * N])})
        out[opt] = dict(range_test=rt, bounds=b, grid=grid_runs, fixed_lr=lr, tune_seed=tune_seed, runs=runs)
    return out


# ------------------------------------------------------------------ Table 3: claims and tables
def claim_for(paper_diff: float, margin: float) -> str:
    """The paper's claim for CLR − fixed, read off its own Table 3 difference (points): within
    ±``margin`` "equivalent" (CLR matches the fixed LR), else the sign's direction."""
    if abs(paper_diff) <= margin:
        return "equivalent"
    return "greater" if paper_diff > 0 else "less"


def table3_verdicts(results: dict, paper: dict, epochs: int, *, margin: float,
                    chance: float | None = None) -> dict:
    """One verdict per Table 3 row the paper prints: (optimizer, budget) -> dict(verdict, claim,
    paper_diff, ours, fixed), budget "short" (N·25/70) or "N".

    ``ours``/``fixed``: per-seed test accuracies in points (CLR at the budget, fixed LR at N),
    paired by seed (same initialization and data order). The claim is :func:`claim_for` of the
    paper's difference; a directional claim gets the paper's difference as ``paper_effect``.
    ``margin`` (points) is the declared equivalence margin, ``chance`` (points) gates a fixed-LR
    baseline that did not train. ``paper`` is as in :func:`table3_frame`."""
    short = short_epochs(epochs)
    out = {}
    for opt, r in results.items():
        p_fixed = paper.get((opt, "fixed", "N"))
        fixed = 100 * acc_at(r["runs"]["fixed"], epochs)
        for budget, ep in (("short", short), ("N", epochs)):
            p = paper.get((opt, "triangular", budget))
            if p is None or p_fixed is None:
                continue
            dp = round(p - p_fixed, 1)
            claim = claim_for(dp, margin)
            ours = 100 * acc_at(r["runs"]["triangular"], ep)
            v = report.verdict(ours, fixed, claim=claim, margin=margin if claim == "equivalent" else None,
                               paper_effect=None if claim == "equivalent" else dp, chance=chance,
                               gate=5.0)
            out[(opt, budget)] = dict(verdict=v, claim=claim, paper_diff=dp, ours=ours, fixed=fixed)
    return out


def _ci(d) -> str:
    """'+0.4 [−0.3, +1.1]': mean paired difference and its 95% t-interval (points)."""
    d = np.asarray(d, dtype=float)
    if d.size < 2 or not np.isfinite(d).all():
        return f"{d.mean():+.1f}"
    from scipy import stats

    half = float(stats.t.ppf(0.975, d.size - 1)) * d.std(ddof=1) / math.sqrt(d.size)
    return f"{d.mean():+.1f} [{d.mean() - half:+.1f}, {d.mean() + half:+.1f}]"


def table3_frame(results: dict, paper: dict, epochs: int, verdicts: dict | None = None,
                 gains: dict | None = None) -> pd.DataFrame:
    """004's Table 3 layout with ours beside the paper's.

    ``paper`` maps (optimizer, policy, budget) with budget in {"N", "short"} to an accuracy (%)
    and (optimizer, "bounds") to a (lo, hi) tuple; missing entries print as '—'. ``verdicts``
    (from :func:`table3_verdicts`) fills the verdict column of the CLR rows; the fixed-LR rows
    are the baselines and rows without a paper value have no claim to judge ('—'). ``gains``
    (optimizer -> points that twice N adds to its fixed-LR baseline, :func:`plateau`) withholds
    the verdicts of an optimizer whose baseline is short of its plateau, as the summary rows do."""
    short = short_epochs(epochs)
    verdicts = verdicts or {}
    climbing = {o for o, g in (gains or {}).items() if not report.at_plateau(g)}
    rows = []
    for opt, r in results.items():
        runs = r["runs"]
        spe = runs["fixed"][0].history.steps_per_epoch
        fixed = acc_at(runs["fixed"], epochs)
        b = r["bounds"]
        pb = paper.get((opt, "bounds"))
        p_fixed = paper.get((opt, "fixed", "N"))
        rows.append({
            "LR type/bounds": LABELS.get(opt, opt), "LR policy": "fixed",
            "iterations (paper)": f"{PAPER_ITERS[0]:,}", "iterations (ours)": f"{epochs * spe:,}",
            "LR (ours)": f"{r['fixed_lr']:.2g}", "seeds": len(fixed),
            "accuracy % (paper)": _fmt(p_fixed), "accuracy % (ours)": report.mean_std(fixed),
            "Δ vs fixed, points (paper)": "", "Δ vs fixed, points (ours, 95% CI)": "",
            "verdict": "— (baseline)"})
        for budget, ep, label in (("short", short, f"{PAPER_ITERS[1]:,}"), ("N", epochs, f"{PAPER_ITERS[0]:,}")):
            tri = acc_at(runs["triangular"], ep)
            p = paper.get((opt, "triangular", budget))
            dp = None if p is None or p_fixed is None else round(p - p_fixed, 1)
            v = None if opt in climbing else verdicts.get((opt, budget))
            rows.append({
                "LR type/bounds": (f"{b['base_lr']:.2g} - {b['max_lr']:.2g}" + (f" (paper {pb[0]} - {pb[1]})" if pb else ""))
                if budget == "short" else "",
                "LR policy": "triangular", "iterations (paper)": label,
                "iterations (ours)": f"{ep * spe:,}", "LR (ours)": f"{b['base_lr']:.2g} - {b['max_lr']:.2g}",
                "seeds": len(tri), "accuracy % (paper)": _fmt(p), "accuracy % (ours)": report.mean_std(tri),
                "Δ vs fixed, points (paper)": "—" if dp is None else f"{dp:+.1f}",
                "Δ vs fixed, points (ours, 95% CI)": _ci(100 * (tri - fixed)),
                "verdict": v["verdict"].text if v else ("— (baseline short of its plateau)" if opt in climbing
                                                        else "— (no paper value)")})
    return pd.DataFrame(rows)


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.1f}"


def tuning_frame(results: dict, epochs: int) -> pd.DataFrame:
    """The fixed-LR grid of every optimizer: test accuracy (%) after ``epochs`` on the tuning
    seed for each LR tried, in columns by its fraction of lr_min (an LR added beyond the grid's
    edge fills a column of its own; "—": not tried for that optimizer), and the LR chosen."""
    cells = {}
    for opt, r in results.items():
        for lr, run in r["grid"].items():
            a = run.at(epochs)
            f = float(f"{lr / r['bounds']['lr_min']:.3g}")
            cells.setdefault(opt, {})[f] = f"{lr:.2g}: " + ("diverged" if not math.isfinite(a) else f"{100 * a:.1f}")
    fracs = sorted({f for c in cells.values() for f in c})
    rows = []
    for opt, r in results.items():
        row = {"optimizer": LABELS.get(opt, opt), "lr_min (range test)": f"{r['bounds']['lr_min']:.2g}"}
        row.update({f"lr_min × {f:.3g}": cells[opt].get(f, "—") for f in fracs})
        row["chosen fixed LR"] = f"{r['fixed_lr']:.2g}"
        rows.append(row)
    return pd.DataFrame(rows)


def plateau(results: dict, epochs: int) -> dict:
    """Per optimizer, the first seed's fixed-LR run: test accuracy (fraction) after N, N·3/2 and
    2N epochs, and the gain from N to 2N (points)."""
    out = {}
    for opt, r in results.items():
        run = r["runs"]["fixed"][0]
        a = {e: run.at(e) for e in (epochs, 3 * epochs // 2, 2 * epochs)}
        out[opt] = dict(acc=a, gain=100 * (a[2 * epochs] - a[epochs]))
    return out


def consistency(results: dict, epochs: int) -> dict:
    """How consistent CLR's effect is: per optimizer and budget, the mean difference to fixed
    (points), its sample sd over seeds, and how many seed pairs have CLR ahead."""
    short = short_epochs(epochs)
    out = {}
    for opt, r in results.items():
        fixed = acc_at(r["runs"]["fixed"], epochs)
        for budget, ep in (("short", short), ("N", epochs)):
            d = 100 * (acc_at(r["runs"]["triangular"], ep) - fixed)
            out[(opt, budget)] = dict(mean=float(d.mean()), std=float(d.std(ddof=1)) if d.size > 1 else 0.0,
                                      ahead=int((d > 0).sum()), of=len(d))
    return out


# ------------------------------------------------------------------ SGDR
def schedule_study_methods(lr: float, epochs: int, t0s=(1, 10), t_mult: int = 2) -> dict:
    """SGDR for each T0 (epochs) against cosine annealing over the whole budget and a step
    schedule (Zagoruyko & Komodakis' decay by 0.2 at 30%, 60%, 80% of the budget, 004 SGDR
    Figure 1's default), all from the same LR."""
    m = {f"SGDR T0={t0:g}": dict(lr=lr, schedule=dict(kind="sgdr", t0_epochs=t0, t_mult=t_mult)) for t0 in t0s}
    m["cosine"] = dict(lr=lr, schedule=dict(kind="cosine"))
    m["step"] = dict(lr=lr, schedule=dict(kind="step", milestones=[0.3 * epochs, 0.6 * epochs, 0.8 * epochs],
                                          gamma=0.2))
    return m
