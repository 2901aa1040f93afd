"""The LR range test (Smith 2017) and automatic suggestions read off its curve.

``range_test`` raises the LR exponentially each iteration (torch's ``ExponentialLR``), records
the loss, smooths it with a bias-corrected exponential moving average (beta 0.98, as fastai),
stops once the smoothed loss exceeds ``diverge`` × its minimum, and restores the model's and
the optimizer's state afterwards.

Suggestion rules:

- ``sclib``: the LR at the minimum of the *zero-phase* smoothed loss, divided by 10 — the rule
  stated in 004_939797d3d90f3ccb.txt ("select your optimal LR to be approx. one order smaller"
  than the minimum). Zero-phase: an exponential moving average run forwards and then backwards
  (``scipy.signal.filtfilt``, beta 0.9), which smooths without shifting the curve. The causal
  EMA used online (beta 0.98) lags by ~1/(1-beta) = 50 iterations: over a 6-decade sweep of
  150 iterations that moves its minimum two decades to the right (we measured this on
  Fashion-MNIST; see the first chapter). 003 asks for exactly this: automatic selection
  "would require signal processing". The result is the *constant* LR; the one-cycle maximum
  is 10× it (002 §4.4: max = 10 × the optimal constant LR), CLR uses [LR/4, LR] (002 §4.3).
- ``fastai_valley``: fastai's ``valley`` on fastai's curve (causal EMA 0.98, bias-corrected):
  the longest decreasing run of the curve, 2/3 along it.
- ``fastai_steep``: fastai's ``steep``: the steepest negative slope in log-LR, same curve.
- ``torch_lr_finder``: torch-lr-finder's suggestion: argmin of ``np.gradient`` of its own
  smoothed loss (EMA with ``smooth_f=0.05``, i.e. beta 0.95, no bias correction).
fastai trims the first 10% and last 5 points before its rules; torch-lr-finder skips the first
10 and last 5. Both trims are applied here as those libraries do.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from .errors import check_choice, check_number
from .train import fit

RULES = ("sclib", "fastai_valley", "fastai_steep", "torch_lr_finder")


@dataclass
class RangeTest:
    lrs: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    smoothed: list = field(default_factory=list)
    stopped_early: bool = False

    def to_dict(self):
        return dict(lrs=self.lrs, losses=self.losses, smoothed=self.smoothed,
                    stopped_early=self.stopped_early)


def range_test(model, batches, *, start_lr: float = 1e-6, end_lr: float = 10.0, num_iter: int = 100,
               optimizer: str = "sgd", momentum: float = 0.9, weight_decay: float = 0.0,
               beta: float = 0.98, diverge: float = 4.0, label_smoothing: float = 0.0) -> RangeTest:
    """Run the LR range test; the model (weights and BN statistics) is unchanged afterwards.

    One use of :func:`sclib.train.fit`: an ``exponential`` schedule from ``start_lr`` to
    ``end_lr`` over ``num_iter`` steps, and an ``on_step`` hook that records each step and stops
    the sweep when the smoothed loss is not finite or exceeds ``diverge`` × its minimum."""
    check_number("start_lr", start_lr, lo=0, lo_open=True)
    check_number("end_lr", end_lr, lo=start_lr, lo_open=True)
    check_number("num_iter", num_iter, lo=2, integer=True)
    check_number("beta", beta, lo=0, hi=1, hi_open=True)
    rt = RangeTest()
    ema = {"avg": 0.0, "best": math.inf}

    def on_step(i: int, loss: float, lr: float) -> bool:
        rt.lrs.append(lr)
        rt.losses.append(loss)
        ema["avg"] = beta * ema["avg"] + (1 - beta) * loss
        s = ema["avg"] / (1 - beta ** (i + 1))  # bias-corrected, as fastai
        rt.smoothed.append(s)
        ema["best"] = min(ema["best"], s)
        rt.stopped_early = not math.isfinite(s) or (i > 0 and s > diverge * ema["best"])
        return rt.stopped_early

    saved = copy.deepcopy(model.state_dict())
    try:
        fit(model, batches, epochs=math.ceil(num_iter / len(batches)), lr=start_lr, optimizer=optimizer,
            momentum=momentum, weight_decay=weight_decay, label_smoothing=label_smoothing,
            schedule={"kind": "exponential", "end_lr": end_lr}, max_steps=num_iter, on_step=on_step,
            progress=False)
    finally:
        model.load_state_dict(saved)
    return rt


def _valid(rt: RangeTest):
    lrs = np.asarray(rt.lrs, dtype=float)
    s = np.asarray(rt.smoothed, dtype=float)
    ok = np.isfinite(s)
    return lrs[ok], s[ok]


def suggest(rt: RangeTest, rule: str = "sclib") -> float:
    """The LR a rule reads off the range test (see the module docstring)."""
    check_choice("rule", rule, RULES)
    lrs, s = _valid(rt)
    if len(s) < 8:
        raise ValueError(f"range test too short for a suggestion ({len(s)} finite points)")
    if rule == "sclib":
        z = zero_phase(rt)
        return float(np.asarray(rt.lrs)[: len(z)][int(np.argmin(z))] / 10)
    if rule == "torch_lr_finder":
        raw = np.asarray(rt.losses, dtype=float)
        ok = np.isfinite(raw)
        raw, lr_all = raw[ok], np.asarray(rt.lrs, dtype=float)[ok]
        sm = np.empty_like(raw)
        sm[0] = raw[0]
        for i in range(1, len(raw)):  # torch-lr-finder: loss = 0.05*loss + 0.95*previous
            sm[i] = 0.05 * raw[i] + 0.95 * sm[i - 1]
        a, b = (10, len(sm) - 5) if len(sm) > 20 else (0, len(sm))
        return float(lr_all[a:b][int(np.argmin(np.gradient(sm[a:b])))])
    # fastai: drop the first 10% and the last 5 points
    lr_, s_ = lrs[len(s) // 10: -5], s[len(s) // 10: -5]
    if rule == "fastai_steep":
        grads = np.diff(s_) / np.diff(np.log(lr_))
        return float(lr_[int(np.argmin(grads))])
    # fastai_valley: longest strictly-decreasing subsequence, 2/3 of the way along it
    n = len(s_)
    lds = [1] * n
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if s_[i] < s_[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return float(lr_[max_start + int(sections) + int(sections / 2)])


def zero_phase(rt: RangeTest, beta: float = 0.9) -> np.ndarray:
    """The raw losses smoothed forwards and backwards (no lag), up to the first non-finite one."""
    from scipy.signal import filtfilt

    raw = np.asarray(rt.losses, dtype=float)
    bad = np.flatnonzero(~np.isfinite(raw))
    raw = raw[: bad[0]] if len(bad) else raw
    if len(raw) < 8:
        raise ValueError(f"range test too short for a suggestion ({len(raw)} finite points)")
    # Above the starting loss the run is diverging; clipping there keeps the blow-up from
    # dragging the smoothed minimum to the left.
    raw = np.minimum(raw, np.median(raw[: max(3, len(raw) // 20)]))
    return filtfilt([1 - beta], [1, -beta], raw, padlen=min(len(raw) - 1, 3 * int(1 / (1 - beta))))


def suggest_all(rt: RangeTest) -> dict:
    return {r: suggest(rt, r) for r in RULES}
