"""One figure style for the whole book, and its standard figures."""
from __future__ import annotations

import matplotlib.pyplot as plt  # the backend is the caller's: inline in Jupyter, Agg headless
import numpy as np
import seaborn as sns

PALETTE = "colorblind"


def set_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE,
                  rc={"figure.figsize": (7.0, 3.6), "figure.dpi": 90, "savefig.dpi": 90,
                      "axes.titlesize": "medium", "legend.fontsize": "small"})


def color(i: int):
    return sns.color_palette(PALETTE)[i % 10]


def range_test(rt, suggestions: dict | None = None, ax=None, title="LR range test", zero_phase: bool = True):
    """Raw and smoothed loss against LR (log axis), with each rule's suggestion marked.

    With ``zero_phase`` the lag-free curve the sclib rule reads is drawn too; the y-limits
    keep every smoothed curve whole and cut only the divergence at the end."""
    from .lr_finder import zero_phase as _zp

    ax = ax or plt.subplots()[1]
    ax.plot(rt.lrs, rt.losses, color="0.75", lw=0.8, label="loss per batch")
    ax.plot(rt.lrs, rt.smoothed, color=color(0), lw=2, label="smoothed (EMA 0.98)")
    curves = [v for v in rt.smoothed if np.isfinite(v)]
    if zero_phase:
        try:
            z = _zp(rt)
        except ValueError:  # too short to smooth: nothing to draw
            z = []
        if len(z):
            ax.plot(rt.lrs[: len(z)], z, color=color(5), lw=2, label="zero-phase smoothing (sclib rule)")
            curves += [float(v) for v in z]
    ax.set_xscale("log")
    if curves:
        lo, start = min(curves), curves[0]
        ax.set_ylim(lo - 0.1 * abs(lo), max(start * 1.6, lo + 1e-3))
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
