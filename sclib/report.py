"""Tables and verdicts: how a measured result is set beside a paper's."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = ["claim", "source", "paper", "ours", "scale", "verdict"]


def mean_std(values, scale: float = 100.0, digits: int = 1) -> str:
    """'91.2 ± 0.3' for a list of fractions (scaled to percent by default)."""
    a = np.asarray(values, dtype=float) * scale
    return f"{a.mean():.{digits}f} ± {a.std():.{digits}f}"


def compare(diff_mean: float, noise: float, *, claim_positive: bool = True) -> str:
    """Verdict for a claimed improvement: the measured difference against its noise."""
    if math.isnan(diff_mean):
        return "not measured"
    sign = diff_mean if claim_positive else -diff_mean
    if sign > noise:
        return "reproduced"
    if sign < -noise:
        return "contradicted"
    return "not significant at this scale"


def ratio_verdict(ours: float, paper: float) -> str:
    """Verdict for a claimed speed-up ratio (>1 means faster)."""
    if math.isinf(ours) or ours <= 1.0:
        return "not reproduced"
    return "reproduced" if ours >= paper else "partly (faster, by less)"


def summary_rows(rows: list[dict], chapter: str) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    df.insert(0, "chapter", chapter)
    return df
