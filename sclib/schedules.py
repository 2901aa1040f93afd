"""Learning-rate (and momentum) schedules as small specs, built on torch's own schedulers.

A spec is a dict such as ``{"kind": "onecycle", "max_lr": 0.1}``; :func:`build` turns it into a
torch scheduler that is stepped once per iteration. Epoch-valued fields (``step_epochs``,
``milestones``, ``t0_epochs``, ``warmup_epochs``) are converted to iterations with the data's
``steps_per_epoch``, so the same spec works for any dataset size.

Kinds and their fields (``lr`` is the optimizer's base learning rate):

- ``constant``: no fields.
- ``step``: ``milestones`` (epochs), ``gamma`` (default 0.1) -> ``MultiStepLR``.
- ``clr``: ``mode`` in triangular/triangular2/exp_range, ``base_lr``, ``max_lr``,
  ``step_epochs`` (half a cycle, in epochs; the CLR paper suggests 2-10), ``gamma`` (exp_range)
  -> ``CyclicLR`` with constant momentum (Smith 2017 cycled only the LR).
- ``onecycle``: ``max_lr`` (default ``lr``), ``div_factor`` (initial = max/div, default 10),
  ``final_div_factor`` (last LR = initial/final_div, default 100), ``pct_start`` (default
  0.45), ``three_phase`` (default True: up, down to initial, then the annihilation over the
  last ``1 - 2*pct_start`` of iterations), ``anneal`` (linear/cos), ``cycle_momentum``
  (default True) between ``base_momentum`` 0.85 and ``max_momentum`` 0.95 -> ``OneCycleLR``.
- ``cosine``: ``eta_min`` (default 0) -> ``CosineAnnealingLR`` over the whole run.
- ``sgdr``: ``t0_epochs``, ``t_mult`` (int, default 2), ``eta_min`` -> ``CosineAnnealingWarmRestarts``.
- ``exponential``: ``end_lr``: the LR grows geometrically from ``lr`` at the first iteration to
  ``end_lr`` at the last -> ``ExponentialLR`` (the LR range test's sweep).
- ``linear``: ``start_lr``, ``end_lr``: a straight line over the run (Smith & Topin's accuracy
  range test).
- ``pipeline``: 003's one-cycle read literally (:func:`pipeline_lrs`), max LR ``lr``, with
  ``min_ratio`` (0.1), ``final_ratio`` (0.01), ``peak`` (0.5), ``tail`` (0.1).

Any kind but onecycle/clr may add ``warmup_epochs``, ``warmup_start_factor`` (default 0.1) and
``warmup_mode``: ``linear`` (default; ``LinearLR``, Goyal et al.'s gradual warmup) or ``constant``
(``ConstantLR``: the LR stays at start_factor × lr, then jumps; Goyal et al.'s constant warmup),
then the schedule, joined by ``SequentialLR``.
"""
from __future__ import annotations

from torch.optim import lr_scheduler as S

from .errors import ConfigError, check_choice, check_number

KINDS = ("constant", "step", "clr", "onecycle", "cosine", "sgdr", "exponential", "linear", "pipeline")
CLR_MODES = ("triangular", "triangular2", "exp_range")
_FIELDS = {
    "constant": set(),
    "step": {"milestones", "gamma"},
    "clr": {"mode", "base_lr", "max_lr", "step_epochs", "gamma"},
    "onecycle": {"max_lr", "div_factor", "final_div_factor", "pct_start", "three_phase", "anneal",
                 "cycle_momentum", "base_momentum", "max_momentum"},
    "cosine": {"eta_min"},
    "sgdr": {"t0_epochs", "t_mult", "eta_min"},
    "exponential": {"end_lr"},
    "linear": {"start_lr", "end_lr"},
    "pipeline": {"min_ratio", "final_ratio", "peak", "tail"},
}
_NO_WARMUP = ("onecycle", "clr", "exponential", "linear", "pipeline")
_WARMUP = {"warmup_epochs", "warmup_start_factor", "warmup_mode"}


class _Table(S.LRScheduler):
    """The LR of every iteration read from a precomputed table (its last value after the end):
    for schedules torch has no scheduler for, set exactly as computed."""

    def __init__(self, optimizer, lrs):
        self.lrs = [float(v) for v in lrs]
        if not self.lrs:
            raise ConfigError("a schedule table needs at least one learning rate")
        super().__init__(optimizer)

    def get_lr(self):
        v = self.lrs[min(self.last_epoch, len(self.lrs) - 1)]
        return [v for _ in self.optimizer.param_groups]


def pipeline_lrs(max_lr: float, total_steps: int, *, min_ratio: float = 0.1, final_ratio: float = 0.01,
                 peak: float = 0.5, tail: float = 0.1):
    """The LR of every iteration of 003's one-cycle: min -> max at ``peak``, back to min at
    ``1 - tail``, then down to ``min * final_ratio`` at the last iteration (piecewise linear)."""
    import numpy as np

    check_number("max_lr", max_lr, lo=0, lo_open=True)
    check_number("total_steps", total_steps, lo=1, integer=True)
    check_number("min_ratio", min_ratio, lo=0, hi=1, lo_open=True)
    check_number("final_ratio", final_ratio, lo=0, hi=1, lo_open=True)
    check_number("peak", peak, lo=0, hi=1, lo_open=True, hi_open=True)
    check_number("tail", tail, lo=0, hi=1 - peak, hi_open=True)
    lo = max_lr * min_ratio
    T = total_steps
    xs = [0.0, peak * T, (1 - tail) * T, T - 1.0]
    ys = [lo, max_lr, lo, lo * final_ratio]
    if T == 1:
        return np.array([lo])
    return np.interp(np.arange(T, dtype=float), xs, ys)


def normalize(spec) -> dict:
    """Accept a kind name or a dict; check every field; return a plain dict."""
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ConfigError(f"schedule must be a kind name or a dict with 'kind', got {spec!r}")
    spec = dict(spec)
    kind = spec["kind"]
    check_choice("schedule kind", kind, KINDS)
    allowed = _FIELDS[kind] | (set() if kind in _NO_WARMUP else _WARMUP)
    unknown = set(spec) - allowed - {"kind"}
    if unknown:
        raise ConfigError(f"schedule {kind!r} has unknown field(s) {sorted(unknown)}; "
                          f"allowed: {', '.join(sorted(allowed)) or '(none)'}")
    for f in ("base_lr", "max_lr", "div_factor", "final_div_factor", "step_epochs", "t0_epochs", "end_lr"):
        if f in spec:
            check_number(f"schedule.{f}", spec[f], lo=0, lo_open=True)
    for f in ("gamma", "warmup_start_factor"):
        if f in spec:
            check_number(f"schedule.{f}", spec[f], lo=0, hi=1, lo_open=True)
    if "warmup_mode" in spec:
        check_choice("schedule.warmup_mode", spec["warmup_mode"], ("linear", "constant"))
    if "eta_min" in spec:
        check_number("schedule.eta_min", spec["eta_min"], lo=0)
    if "warmup_epochs" in spec:
        check_number("schedule.warmup_epochs", spec["warmup_epochs"], lo=0, lo_open=True)
    if "pct_start" in spec:
        hi = 0.5 if spec.get("three_phase", True) else 1.0
        check_number("schedule.pct_start", spec["pct_start"], lo=0, hi=hi, lo_open=True, hi_open=True)
    for f in ("base_momentum", "max_momentum"):
        if f in spec:
            check_number(f"schedule.{f}", spec[f], lo=0, hi=1, hi_open=True)
    if "t_mult" in spec:
        check_number("schedule.t_mult", spec["t_mult"], lo=1, integer=True)
    if kind == "clr":
        check_choice("schedule.mode", spec.get("mode", "triangular"), CLR_MODES)
        if "base_lr" in spec and "max_lr" in spec and spec["base_lr"] >= spec["max_lr"]:
            raise ConfigError(f"schedule.base_lr={spec['base_lr']} must be < max_lr={spec['max_lr']}")
    if kind == "onecycle":
        check_choice("schedule.anneal", spec.get("anneal", "linear"), ("linear", "cos"))
    if kind in ("exponential", "linear") and "end_lr" not in spec:
        raise ConfigError(f"schedule {kind!r} needs end_lr (> 0)")
    if kind == "linear":
        check_number("schedule.start_lr", spec.get("start_lr", 0.0), lo=0, hi=spec["end_lr"], hi_open=True)
    if kind == "pipeline":  # checks the ratios once, on a 2-step table
        pipeline_lrs(1.0, 2, **{k: v for k, v in spec.items() if k != "kind"})
    if kind == "sgdr" and "t0_epochs" not in spec:
        raise ConfigError("schedule 'sgdr' needs t0_epochs (> 0)")
    if kind == "step" and not isinstance(spec.get("milestones", []), (list, tuple)):
        raise ConfigError(f"schedule.milestones must be a list of epochs, got {spec['milestones']!r}")
    return spec


def build(spec, optimizer, total_steps: int, steps_per_epoch: int):
    """A torch LR scheduler for ``spec``, to be stepped after every optimizer step."""
    spec = normalize(spec)
    kind = spec["kind"]
    lr = optimizer.param_groups[0]["lr"]
    spe = steps_per_epoch

    def it(epochs):  # epochs -> whole iterations, at least 1
        return max(1, round(epochs * spe))

    if kind == "onecycle":
        has_momentum = "momentum" in optimizer.defaults or "betas" in optimizer.defaults
        return S.OneCycleLR(
            optimizer, max_lr=spec.get("max_lr", lr), total_steps=total_steps,
            pct_start=spec.get("pct_start", 0.45), anneal_strategy=spec.get("anneal", "linear"),
            cycle_momentum=spec.get("cycle_momentum", True) and has_momentum,
            base_momentum=spec.get("base_momentum", 0.85), max_momentum=spec.get("max_momentum", 0.95),
            div_factor=spec.get("div_factor", 10.0), final_div_factor=spec.get("final_div_factor", 100.0),
            three_phase=spec.get("three_phase", True))
    if kind == "clr":
        return S.CyclicLR(
            optimizer, base_lr=spec.get("base_lr", lr / 4), max_lr=spec.get("max_lr", lr),
            step_size_up=it(spec.get("step_epochs", 2)), mode=spec.get("mode", "triangular"),
            gamma=spec.get("gamma", 0.99994), cycle_momentum=False)
    if kind == "linear":
        import numpy as np

        return _Table(optimizer, np.linspace(spec.get("start_lr", 0.0), spec["end_lr"], total_steps))
    if kind == "pipeline":
        return _Table(optimizer, pipeline_lrs(lr, total_steps, **{k: v for k, v in spec.items() if k != "kind"}))
    if kind == "exponential":  # lr * gamma^k, k = 0 .. total_steps-1, ends at end_lr
        return S.ExponentialLR(optimizer, gamma=(spec["end_lr"] / lr) ** (1 / max(1, total_steps - 1)))
    warm = it(spec["warmup_epochs"]) if "warmup_epochs" in spec else 0
    rest = max(1, total_steps - warm)
    if kind == "constant":
        main = S.ConstantLR(optimizer, factor=1.0, total_iters=0)
    elif kind == "step":
        main = S.MultiStepLR(optimizer, milestones=[it(m) - warm for m in spec.get("milestones", [])],
                             gamma=spec.get("gamma", 0.1))
    elif kind == "cosine":
        main = S.CosineAnnealingLR(optimizer, T_max=rest, eta_min=spec.get("eta_min", 0.0))
    else:  # sgdr
        main = S.CosineAnnealingWarmRestarts(optimizer, T_0=it(spec["t0_epochs"]),
                                             T_mult=spec.get("t_mult", 2), eta_min=spec.get("eta_min", 0.0))
    if not warm:
        return main
    if spec.get("warmup_mode", "linear") == "constant":
        wu = S.ConstantLR(optimizer, factor=spec.get("warmup_start_factor", 0.1), total_iters=warm)
    else:
        wu = S.LinearLR(optimizer, start_factor=spec.get("warmup_start_factor", 0.1), end_factor=1.0,
                        total_iters=warm)
    return S.SequentialLR(optimizer, [wu, main], milestones=[warm])


def describe(spec) -> str:
    """A short human label, e.g. for figure legends."""
    spec = normalize(spec)
    kind = spec["kind"]
    if kind == "clr":
        return f"CLR ({spec.get('mode', 'triangular')})"
    if kind == "onecycle":
        return "one-cycle" + ("" if spec.get("three_phase", True) else " (two-phase)")
    return {"constant": "constant", "step": "step decay", "cosine": "cosine", "sgdr": "SGDR",
            "exponential": "LR sweep", "linear": "linear LR sweep", "pipeline": "003 one-cycle"}[kind]


def clr_step_epochs(epochs: int, lo: float = 2, hi: float = 10) -> float:
    """Half-cycle length (epochs) so the run ends after whole CLR cycles, each half within
    [lo, hi] epochs when the budget allows (002 §4.3 and the CLR paper: 2-10 epochs)."""
    k = 1
    while epochs / (2 * k) > hi:
        k += 1
    return max(min(lo, epochs / 2), epochs / (2 * k))
