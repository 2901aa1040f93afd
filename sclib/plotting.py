"""One figure style for the whole book, and its standard figures."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are written by papermill runs and tests: no display needed
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

PALETTE = "colorblind"


def set_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE,
                  rc={"figure.figsize": (7.0, 3.6), "figure.dpi": 90, "savefig.dpi": 90,
                      "axes.titlesize": "medium", "legend.fontsize": "small"})


def color(i: int):
    return sns.color_palette(PALETTE)[i % 10]


def range_test(rt, suggestions: dict | None = None, ax=None, title="LR range test"):
    """Raw and smoothed loss against LR (log axis), with each rule's suggestion marked."""
    ax = ax or plt.subplots()[1]
    ax.plot(rt.lrs, rt.losses, color="0.75", lw=0.8, label="loss per batch")
    ax.plot(rt.lrs, rt.smoothed, color=color(0), lw=2, label="smoothed (EMA 0.98)")
    ax.set_xscale("log")
    finite = [v for v in rt.smoothed if np.isfinite(v)]
    if finite:
        ax.set_ylim(min(finite) * 0.9, min(max(finite), finite[0] * 1.6))
    for i, (name, lr) in enumerate((suggestions or {}).items()):
        ax.axvline(lr, color=color(i + 1), ls="--", lw=1.2, label=f"{name}: {lr:.2g}")
    ax.set(xlabel="learning rate", ylabel="training loss", title=title)
    ax.legend(loc="upper left")
    return ax


def schedule(history, ax=None, title="Schedule applied"):
    """LR (left axis) and momentum (right axis) per iteration, as recorded in the History."""
    ax = ax or plt.subplots()[1]
    it = np.arange(len(history.lr))
    ax.plot(it, history.lr, color=color(0), label="learning rate")
    ax.set(xlabel="iteration", ylabel="learning rate", title=title)
    ax2 = ax.twinx()
    ax2.plot(it, history.momentum, color=color(3), ls="--", label="momentum")
    ax2.set_ylabel("momentum")
    ax2.grid(False)
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [l.get_label() for l in lines], loc="upper right")
    return ax


def curves(groups: dict, metric: str = "test_acc", ax=None, title=None, ylabel=None):
    """Mean ± std across seeds of a per-epoch metric, one line per method.

    ``groups`` maps a label to a list of Histories (one per seed).
    """
    ax = ax or plt.subplots()[1]
    for i, (label, hs) in enumerate(groups.items()):
        n = min(len(getattr(h, metric)) for h in hs)
        arr = np.array([getattr(h, metric)[:n] for h in hs], dtype=float)
        ep = np.arange(1, n + 1)
        m, s = arr.mean(0), arr.std(0)
        ax.plot(ep, m, marker="o", ms=3, color=color(i), label=label)
        ax.fill_between(ep, m - s, m + s, color=color(i), alpha=0.2)
    ax.set(xlabel="epoch", ylabel=ylabel or metric.replace("_", " "), title=title)
    ax.legend()
    return ax
