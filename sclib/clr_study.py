"""Cyclical learning rates (Smith 2017) and SGDR (Loshchilov & Hutter 2017), as 004 presents them.

- Closed forms of the CLR policies and of SGDR's cosine with warm restarts
  (:func:`clr_lr`, :func:`sgdr_lr`), used by the tests and as overlays on the applied LRs.
- CLR bounds read off an LR range test (:func:`bounds_from_range_test`).
- The seed's "Table 3" (CLR against adaptive optimizers): :func:`table3_runs` trains, for each
  optimizer, a fixed LR for N epochs and a triangular CLR for N epochs between bounds from that
  optimizer's own range test; the CLR accuracy after N·25/70 epochs is read from the same run
  (CyclicLR does not depend on the run's length, and the data order and initialization depend
  only on the seed, so the first N·25/70 epochs of the long run *are* the short run).
- Per Table 3 row, the paper's claim (:func:`claim_for`) and its verdict from
  :func:`sclib.report.verdict` on per-seed accuracies paired by seed (:func:`table3_verdicts`),
  and SGDR's restart epochs (:func:`restart_epochs`).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import experiments, lr_finder, report
from .errors import ConfigError, check_choice, check_number

#: The optimizers of 004's CLR Table 3, by sclib.train.OPTIMIZERS name, in the table's order.
TABLE_OPTIMIZERS = ("nesterov", "adam", "rmsprop", "adagrad", "adadelta")
LABELS = {"nesterov": "Nesterov", "adam": "ADAM", "rmsprop": "RMSprop", "adagrad": "AdaGrad",
          "adadelta": "AdaDelta"}
#: 004's Table 3 iteration budgets: N = 70,000 and the short CLR budget 25,000.
PAPER_ITERS = (70_000, 25_000)


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


# ------------------------------------------------------------------ range test -> bounds
def bounds_from_range_test(rt) -> dict:
    """CLR bounds from one range test (004, CLR overview: 'select the value of LR which leads to
    minimum ... select your optimal LR to be approx. one order smaller, or 1/2 - 1/3 as a rule
    of thumb').

    lr_min is the LR at the minimum of the zero-phase smoothed loss (sclib's rule). The fixed LR
    and CLR's base_lr are lr_min/10 ('one order smaller'); CLR's max_lr is lr_min/3 (the
    '1/3' rule of thumb), so CLR cycles between the fixed LR and 3.3× it (Smith's Table 3
    bounds span factors 3-12)."""
    lr_min = lr_finder.suggest(rt, "sclib") * 10
    return dict(lr_min=lr_min, fixed=lr_min / 10, base_lr=lr_min / 10, max_lr=lr_min / 3)


def short_epochs(epochs: int) -> int:
    """N·25/70 for the seed's two budgets; N must be a multiple of 14."""
    check_number("clr_epochs", epochs, lo=14, integer=True)
    if epochs % 14:
        raise ConfigError(f"clr_epochs={epochs} must be a multiple of 14 (N·25/70 whole epochs)")
    return epochs * 25 // 70


def table3_runs(cfg, optimizers=TABLE_OPTIMIZERS, seeds=None, progress: bool = True) -> dict:
    """Per optimizer: its range test, bounds, and {"fixed": [History], "triangular": [History]}
    over ``seeds``, trained for ``cfg.clr_epochs`` epochs."""
    out = {}
    for opt in optimizers:
        rt = experiments.range_test(cfg, seed=0, optimizer=opt)
        b = bounds_from_range_test(rt)
        methods = {
            "fixed": dict(optimizer=opt, lr=b["fixed"], schedule="constant"),
            "triangular": dict(optimizer=opt, lr=b["base_lr"], schedule=dict(
                kind="clr", mode="triangular", base_lr=b["base_lr"], max_lr=b["max_lr"],
                step_epochs=cfg.clr_step_epochs)),
        }
        runs = experiments.compare(cfg, methods, seeds=seeds, epochs=cfg.clr_epochs, progress=progress)
        out[opt] = dict(range_test=rt, bounds=b, runs=runs)
    return out


def acc_at(hs, epoch: int) -> np.ndarray:
    """Test accuracy (fraction) after ``epoch`` epochs (1-based), one value per seed."""
    return np.array([h.test_acc[epoch - 1] for h in hs], dtype=float)


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


def table3_frame(results: dict, paper: dict, epochs: int, verdicts: dict | None = None) -> pd.DataFrame:
    """004's Table 3 layout with ours beside the paper's.

    ``paper`` maps (optimizer, policy, budget) with budget in {"N", "short"} to an accuracy (%)
    and (optimizer, "bounds") to a (lo, hi) tuple; missing entries print as '—'. ``verdicts``
    (from :func:`table3_verdicts`) fills the verdict column of the CLR rows; the fixed-LR rows
    are the baselines and rows without a paper value have no claim to judge ('—')."""
    short = short_epochs(epochs)
    verdicts = verdicts or {}
    rows = []
    paper_fixed = {o: paper.get((o, "fixed", "N")) for o in results}
    for opt, r in results.items():
        spe = r["runs"]["fixed"][0].steps_per_epoch
        fixed = acc_at(r["runs"]["fixed"], epochs)
        b = r["bounds"]
        pb = paper.get((opt, "bounds"))
        rows.append({
            "LR type/bounds": LABELS.get(opt, opt), "LR policy": "fixed",
            "iterations (paper)": f"{PAPER_ITERS[0]:,}", "iterations (ours)": f"{epochs * spe:,}",
            "LR (ours)": f"{b['fixed']:.2g}",
            "accuracy % (paper)": _fmt(paper_fixed[opt]), "accuracy % (ours)": report.mean_std(fixed),
            "Δ vs fixed, points (paper)": "", "Δ vs fixed, points (ours)": "",
            "verdict": "— (baseline)"})
        for budget, ep, label in (("short", short, f"{PAPER_ITERS[1]:,}"), ("N", epochs, f"{PAPER_ITERS[0]:,}")):
            tri = acc_at(r["runs"]["triangular"], ep)
            d = 100 * (tri - fixed)
            p = paper.get((opt, "triangular", budget))
            dp = None if p is None or paper_fixed[opt] is None else round(p - paper_fixed[opt], 1)
            v = verdicts.get((opt, budget))
            rows.append({
                "LR type/bounds": (f"{b['base_lr']:.2g} - {b['max_lr']:.2g}" + (f" (paper {pb[0]} - {pb[1]})" if pb else ""))
                if budget == "short" else "",
                "LR policy": "triangular", "iterations (paper)": label,
                "iterations (ours)": f"{ep * spe:,}", "LR (ours)": f"{b['base_lr']:.2g} - {b['max_lr']:.2g}",
                "accuracy % (paper)": _fmt(p), "accuracy % (ours)": report.mean_std(tri),
                "Δ vs fixed, points (paper)": "—" if dp is None else f"{dp:+.1f}",
                "Δ vs fixed, points (ours)": f"{d.mean():+.1f} ± {d.std():.1f}",
                "verdict": v["verdict"].text if v else "— (no paper value)"})
    return pd.DataFrame(rows)


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.1f}"


def consistency(results: dict, epochs: int) -> dict:
    """How consistent CLR's effect is: per optimizer and budget, the mean difference to fixed
    (points), its seed spread, and how many seed pairs have CLR ahead."""
    short = short_epochs(epochs)
    out = {}
    for opt, r in results.items():
        fixed = acc_at(r["runs"]["fixed"], epochs)
        for budget, ep in (("short", short), ("N", epochs)):
            d = 100 * (acc_at(r["runs"]["triangular"], ep) - fixed)
            out[(opt, budget)] = dict(mean=float(d.mean()), std=float(d.std()),
                                      ahead=int((d > 0).sum()), of=len(d))
    return out


def schedule_study_methods(lr: float, epochs: int, t0s=(1, 10), t_mult: int = 2,
                           t0_scale: float = 1.0) -> dict:
    """SGDR for each T0 (×``t0_scale``) against cosine and a step schedule (Zagoruyko &
    Komodakis' decay by 0.2 at 30%, 60%, 80% of the budget, 004 SGDR Figure 1's default)."""
    m = {f"SGDR T0={t0 * t0_scale:g}": dict(lr=lr, schedule=dict(kind="sgdr", t0_epochs=t0 * t0_scale,
                                                                 t_mult=t_mult))
         for t0 in t0s}
    m["cosine"] = dict(lr=lr, schedule=dict(kind="cosine"))
    m["step"] = dict(lr=lr, schedule=dict(kind="step", milestones=[0.3 * epochs, 0.6 * epochs, 0.8 * epochs],
                                          gamma=0.2))
    return m
