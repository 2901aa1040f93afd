"""One figure style for the whole book, and its standard figures."""
from __future__ import annotations

import matplotlib.pyplot as plt  # the backend is the caller's: inline in Jupyter, Agg headless
import numpy as np
import seaborn as sns

PALETTE = "colorblind"
DPI = 90
#: The book's text column at a 1400 px window is ~1,050 px wide; a wider figure is shrunk to fit
#: and its text with it. Every figure is at most this wide, so it is shown at its own size.
MAX_WIDTH_PX = 1040
MAX_WIDTH = MAX_WIDTH_PX / DPI  # inches


def set_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE,
                  rc={"figure.figsize": (7.0, 3.6), "figure.dpi": DPI, "savefig.dpi": DPI,
                      "axes.titlesize": "medium", "legend.fontsize": "small"})


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, **kw):
    """``plt.subplots`` with the figure at most :data:`MAX_WIDTH` wide (a wider ``figsize`` is
    narrowed, its height kept), so that the page shows it at its own size."""
    w, h = figsize or plt.rcParams["figure.figsize"]
    return plt.subplots(nrows, ncols, figsize=(min(w, MAX_WIDTH), h), **kw)


def panels(n: int, panel=(4.4, 3.3), max_cols: int = 3, **kw):
    """``n`` panels of about ``panel`` inches in rows of at most ``max_cols`` (fewer when they
    would be narrower than 3/4 of ``panel`` within :data:`MAX_WIDTH`), the unused slots of the
    last row hidden; constrained layout. Returns (fig, 1-D array of the ``n`` axes)."""
    cols = max(1, min(n, max_cols, int(MAX_WIDTH // (0.75 * panel[0]))))
    rows = -(-n // cols)
    kw.setdefault("layout", "constrained")
    fig, axes = subplots(rows, cols, figsize=(panel[0] * cols, panel[1] * rows), squeeze=False, **kw)
    axes = axes.ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


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
