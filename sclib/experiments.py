"""Multi-run experiments that chapters share: :func:`sweep` (seeds × arms under one progress bar:
every chapter's multi-run loop), and their time-to-target bookkeeping, labelled by the verdict
engine (:func:`speed`, :func:`tta_rows`)."""
from __future__ import annotations

import math

import numpy as np

from . import report, train
from .errors import ConfigError
from .progress import bar as progress_bar


def sweep(fn, arms, seeds, *, desc: str = "runs", unit: str = "run", progress: bool = True) -> dict:
    """``fn(arm, seed)`` for every seed × arm, under one progress bar on the terminal.

    ``arms``: the arms' labels (any hashable; a dict's keys). Runs go seed by seed (every arm of
    seed 0, then of seed 1, ...), so a sweep cut short holds whole seeds and a resumed one finds
    them in the run store. Returns label -> [``fn(label, s)`` for s in ``seeds``], in seed order:
    arms with the same seed are paired."""
    seeds, labels = list(seeds), list(arms)
    if len(set(labels)) != len(labels):
        raise ConfigError(f"arm labels must be distinct, got {labels}")
    out = {label: [] for label in labels}
    jobs = [(label, s) for s in seeds for label in labels]
    for label, s in progress_bar(jobs, desc=desc, unit=unit, disable=not progress, mininterval=5):
        out[label].append(fn(label, s))
    return out


def data_epochs(h: train.History) -> np.ndarray:
    """The epochs of data seen at each of a History's evaluations: the i-th evaluation after
    min(i × steps per epoch, steps run) steps (a run stopped within an epoch counts its share).
    A run whose batch size changed between epochs counts whole epochs."""
    if len(set(h.batch_size)) > 1 or not h.steps_per_epoch:
        return np.asarray(h.epoch, dtype=float)
    spe, steps = h.steps_per_epoch, len(h.lr)
    return np.array([min(e * spe, steps) / spe for e in h.epoch], dtype=float)


def epochs_to(h: train.History, target: float) -> float:
    """Epochs of data until the first evaluation at or above ``target`` (inf if none)."""
    reach = target - 1e-12 * max(1.0, abs(target))  # a run whose accuracy is the target reaches it
    hit = np.flatnonzero(np.asarray(h.test_acc, dtype=float) >= reach)
    return float(data_epochs(h)[hit[0]]) if hit.size else math.inf


def speed(ours: list, baseline: list, *, claim_ratio: float | None = None) -> dict:
    """The claim "``ours`` reaches the baseline's accuracy in fewer epochs of data", from
    Histories paired by seed.

    Seed i's target is the *baseline* run's final test accuracy of seed i
    (:func:`sclib.report.baseline_target` of that one curve): the accuracy the baseline's whole
    budget buys, never the worse run's best. The baseline reaches its own target by its last
    epoch at the latest, so its epochs are finite and a baseline seed that ends below the mean
    cannot make the ratio infinite. Per seed, the epochs of data each arm needs to reach it
    (:func:`epochs_to`; inf = never) go to :func:`sclib.report.speed_verdict` (ratio = mean
    baseline epochs / mean ``ours`` epochs). Returns target (the mean of the per-seed targets),
    the per-seed epochs of both arms and the :class:`~sclib.report.Verdict`."""
    if len(ours) != len(baseline) or not baseline:
        raise ConfigError("ours and baseline need the same, non-zero number of runs (one per seed)")
    targets = [report.baseline_target([b.test_acc]) for b in baseline]
    e_ours = np.array([epochs_to(o, t) for o, t in zip(ours, targets)])
    e_base = np.array([epochs_to(b, t) for b, t in zip(baseline, targets)])
    v = report.speed_verdict(e_ours, e_base, claim_ratio=claim_ratio)
    return dict(target=float(np.mean(targets)), ours_epochs=e_ours, baseline_epochs=e_base, verdict=v)


def tta_rows(experiment: str, runs: dict, baseline: str, *, claim_ratio: float | None = None) -> list:
    """Rows of a time-to-target table: per method (label -> Histories, or objects with a
    ``.history``, paired by seed), epochs of data and training seconds to the baseline's final
    accuracy of the same seed (mean over seeds; "never" when a seed misses it; ``target`` is the
    mean target), the speed-up over the baseline with its bootstrap CI, and the engine's verdict
    (:func:`speed`; "—" on the baseline's own row)."""
    runs = {k: [getattr(h, "history", None) or h for h in hs] for k, hs in runs.items()}  # Trained -> History
    rows = []
    for label, hs in runs.items():
        sp = speed(hs, runs[baseline], claim_ratio=claim_ratio)
        e = sp["ours_epochs"]
        ok = bool(np.isfinite(e).all())
        secs = []
        for h, k in zip(hs, e):
            if math.isfinite(k):
                i = int(np.flatnonzero(data_epochs(h) >= k - 1e-9)[0])
                secs.append(sum(h.seconds[: i + 1]))
        v = sp["verdict"]
        own = label == baseline
        lo, hi = v.ci
        rows.append({"experiment": experiment, "method": str(label), "target": round(100 * sp["target"], 2),
                     "epochs_to_target": round(float(e.mean()), 2) if ok else "never",
                     "seeds_reaching": f"{int(np.isfinite(e).sum())}/{len(e)}",
                     "seconds_to_target": round(float(np.mean(secs)), 1) if ok else "never",
                     "speedup_vs_baseline": 1.0 if own else round(v.diff, 2),
                     "95% CI": "—" if own or math.isnan(lo) else f"[{lo:.2f}, {hi:.2f}]",
                     "verdict": "—" if own else v.text})
    return rows
