"""Multi-run experiments that chapters share: :func:`sweep` (seeds × arms under one progress bar:
every chapter's multi-run loop), and their time-to-target bookkeeping, labelled by the verdict
engine (:func:`speed`, :func:`tta_rows`)."""
from __future__ import annotations

import math

import numpy as np

from . import executors, report, train
from .errors import ConfigError, check_choice


def sweep(fn, arms, seeds, *, desc: str = "runs", unit: str = "run", progress: bool = True,
          executor: str = "serial", workers=None, threads=None) -> dict:
    """``fn(arm, seed)`` for every seed × arm, under one progress bar on the terminal.

    ``arms``: the arms' labels (any hashable; a dict's keys). Runs go seed by seed (every arm of
    seed 0, then of seed 1, ...), so a sweep cut short holds whole seeds and a resumed one finds
    them in the run store. Returns label -> [``fn(label, s)`` for s in ``seeds``], in seed order:
    arms with the same seed are paired.

    ``executor`` (``serial``, ``processes``, ``ray``), ``workers`` and ``threads`` choose where
    the runs go, as in :func:`sclib.executors.run`; off ``serial``, ``fn`` must be picklable (a
    module-level function, or a ``functools.partial`` of one) and so must the labels."""
    executors.plan(executor, workers, threads)  # a bad executor or size fails before any run
    seeds, labels = list(seeds), list(arms)
    if len(set(labels)) != len(labels):
        raise ConfigError(f"arm labels must be distinct, got {labels}")
    if executor != "serial":
        executors.check_picklable(fn, executor)
    jobs = [(label, s) for s in seeds for label in labels]
    results = executors.run(_arm_seed, [(fn, label, s) for label, s in jobs], executor=executor, workers=workers,
                            threads=threads, progress=progress, desc=desc, unit=unit)
    out = {label: [] for label in labels}
    for (label, _), r in zip(jobs, results):
        out[label].append(r)
    return out


def _arm_seed(job):
    """One sweep job (module-level: it reaches worker processes): ``fn(arm, seed)``."""
    fn, label, s = job
    return fn(label, s)


def data_epochs(h: train.History) -> np.ndarray:
    """The epochs of data seen at each of a History's evaluations: the i-th evaluation after
    min(i × steps per epoch, steps run) steps (a run stopped within an epoch counts its share).
    A run whose batch size changed between epochs counts whole epochs."""
    if len(set(h.batch_size)) > 1 or not h.steps_per_epoch:
        return np.asarray(h.epoch, dtype=float)
    spe, steps = h.steps_per_epoch, len(h.lr)
    return np.array([min(e * spe, steps) / spe for e in h.epoch], dtype=float)


def steps_per_epoch(h: train.History) -> np.ndarray:
    """Optimizer steps of every epoch of ``h``: ⌈n_train / batch⌉, the batch may change from
    epoch to epoch (``h.config`` names ``n_train``)."""
    if "n_train" not in h.config:
        raise ConfigError("counting a run's updates per epoch needs its config's n_train")
    n = h.config["n_train"]
    sizes = h.batch_size or [h.config["batch_size"]] * len(h.epoch)
    return np.array([-(-n // b) for b in sizes], dtype=int)


def updates_at(h: train.History) -> np.ndarray:
    """The parameter updates made by each of a History's evaluations: min(i × steps per epoch,
    steps run) after the i-th; with a batch that changed between epochs, the steps of the
    epochs up to it (:func:`steps_per_epoch`), at most the steps run."""
    if len(set(h.batch_size)) > 1 or not h.steps_per_epoch:
        upto = np.cumsum(steps_per_epoch(h))[np.asarray(h.epoch, dtype=int) - 1].astype(float)
        return np.minimum(upto, float(len(h.lr))) if h.lr else upto
    return np.minimum(np.asarray(h.epoch, dtype=float) * h.steps_per_epoch, float(len(h.lr)))


COSTS = {"epochs": data_epochs, "updates": updates_at}  #: what a time-to-target counts


def _first_at(h: train.History, target: float):
    """Index of the first evaluation at or above ``target`` (None if none)."""
    reach = target - 1e-12 * max(1.0, abs(target))  # a run whose accuracy is the target reaches it
    hit = np.flatnonzero(np.asarray(h.test_acc, dtype=float) >= reach)
    return int(hit[0]) if hit.size else None


def cost_to(h: train.History, target: float, cost: str = "epochs") -> float:
    """Epochs of data (``cost="updates"``: parameter updates) until the first evaluation at or
    above ``target`` (inf if none)."""
    check_choice("cost", cost, tuple(COSTS))
    i = _first_at(h, target)
    return math.inf if i is None else float(COSTS[cost](h)[i])


def speed(ours: list, baseline: list, *, claim_ratio: float | None = None, cost: str = "epochs") -> dict:
    """The claim "``ours`` reaches the baseline's accuracy in fewer epochs of data" (``cost=
    "updates"``: fewer parameter updates), from Histories paired by seed.

    Seed i's target is the *baseline* run's final test accuracy of seed i
    (:func:`sclib.report.baseline_target` of that one curve): the accuracy the baseline's whole
    budget buys, never the worse run's best. The baseline reaches its own target by its last
    epoch at the latest, so its cost is finite and a baseline seed that ends below the mean
    cannot make the ratio infinite. Per seed, the epochs of data (or updates) each arm needs to
    reach it (:func:`cost_to`; inf = never) go to :func:`sclib.report.speed_verdict` (ratio =
    mean baseline cost / mean ``ours`` cost). Returns target (the mean of the per-seed targets),
    ``targets``, the per-seed costs of both arms (``ours_epochs``, ``baseline_epochs``, or
    ``ours_updates``, ...) and the :class:`~sclib.report.Verdict`."""
    check_choice("cost", cost, tuple(COSTS))
    if len(ours) != len(baseline) or not baseline:
        raise ConfigError("ours and baseline need the same, non-zero number of runs (one per seed)")
    if any(not h.test_acc for h in (*ours, *baseline)):  # no curve is not "never reached"
        raise ConfigError("every run needs a test-accuracy curve (an evaluation after each epoch)")
    targets = [report.baseline_target([b.test_acc]) for b in baseline]
    c_ours = np.array([cost_to(o, t, cost) for o, t in zip(ours, targets)])
    c_base = np.array([cost_to(b, t, cost) for b, t in zip(baseline, targets)])
    v = report.speed_verdict(c_ours, c_base, claim_ratio=claim_ratio)
    return {"target": float(np.mean(targets)), "targets": targets, f"ours_{cost}": c_ours,
            f"baseline_{cost}": c_base, "verdict": v}


def tta_rows(experiment: str, runs: dict, baseline: str, *, claim_ratio: float | None = None,
             cost: str = "epochs") -> list:
    """Rows of a time-to-target table: per method (label -> Histories, or objects with a
    ``.history``, paired by seed), epochs of data and training seconds to the baseline's final
    accuracy of the same seed (mean over seeds; "never" when a seed misses it; ``target`` is the
    mean target), the speed-up over the baseline with its bootstrap CI, and the engine's verdict
    (:func:`speed`; "—" on the baseline's own row). With ``cost="updates"`` the speed-up counts
    parameter updates (a batch size that differs between arms or epochs: Smith et al.'s
    Figure 5), and the rows add the updates to the target and the run's total."""
    runs = {k: [getattr(h, "history", None) or h for h in hs] for k, hs in runs.items()}  # Trained -> History
    rows = []
    for label, hs in runs.items():
        sp = speed(hs, runs[baseline], claim_ratio=claim_ratio, cost=cost)
        c = sp[f"ours_{cost}"]
        ok = bool(np.isfinite(c).all())
        hits = [_first_at(h, t) for h, t in zip(hs, sp["targets"])]
        epochs = [data_epochs(h)[i] for h, i in zip(hs, hits) if i is not None]
        secs = [sum(h.seconds[: i + 1]) for h, i in zip(hs, hits) if i is not None]
        v = sp["verdict"]
        own = label == baseline
        lo, hi = v.ci
        row = {"experiment": experiment, "method": str(label), "target": round(100 * sp["target"], 2)}
        if cost == "updates":
            row["updates_to_target"] = round(float(c.mean()), 1) if ok else "never"
        row.update({"epochs_to_target": round(float(np.mean(epochs)), 2) if ok else "never",
                    "seeds_reaching": f"{int(np.isfinite(c).sum())}/{len(c)}",
                    "seconds_to_target": round(float(np.mean(secs)), 1) if ok else "never"})
        if cost == "updates":
            row["total_updates"] = int(round(np.mean([h.updates for h in hs])))
        row.update({"speedup_vs_baseline" if cost == "epochs" else "speedup_in_updates": 1.0 if own else round(v.diff, 2),
                    "95% CI": "—" if own or math.isnan(lo) else f"[{lo:.2f}, {hi:.2f}]",
                    "verdict": "—" if own else v.text})
        rows.append(row)
    return rows
