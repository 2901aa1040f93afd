"""The KTH study's hyperparameter procedure (002_e8e2b0b656892e08.txt §4), as one reusable, budgeted call.

Per (network, dataset) the report:

1. runs the LR range test and reads the *optimal constant LR* off it (§4.2.1, Fig. 1);
2. tests momentum 0.85-0.99 "at several LRs": loss against LR for each momentum, and keeps the
   momentum with the lowest loss that does not diverge at the higher LRs (§4.2.2, Fig. 2);
3. searches weight decay coarsely over 1e-2 ... 1e-7, then finely around the best coarse value
   (§4.2.3, Figs. 3-4; their Table 1 has values such as 3e-7, so the fine grid is ×3 / ×1 / ÷3);
4. sets the CLR bounds: min = 1/4 (or 1/3) of the optimal constant LR, max = that LR, half-cycle
   2-10 epochs (§4.3);
5. sets super-convergence: min = the optimal constant LR, max = 10×, the last 10% of the
   iterations below the starting LR, momentum cycled 0.9 -> 0.85 -> 0.9 (§4.4).

Every probe (steps 1-3) is an LR range test (:func:`sclib.lr_finder.range_test`) from the *same*
initial weights and the same batches, so two curves differ only by the hyperparameter probed.
A curve is scored by :func:`curve_score`: the mean of its zero-phase smoothed training loss over
the whole planned sweep, with the iterations after a divergence stop counted at the starting
loss. Low everywhere and no blow-up at the high LRs scores best, which is how §4.2.2 and §4.2.3
read their figures. (The report plots validation loss; we use the training loss of the sweep,
which costs no extra forward passes: the budget is stated in iterations per probe.)

Each step returns a :class:`Step`: the chosen value, the curves it was chosen from, their
scores and the iterations it cost.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from . import lr_finder, models, schedules, train
from .errors import ConfigError, check_number

MOMENTA = (0.85, 0.9, 0.95, 0.99)
WD_COARSE = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7)
WD_FINE_FACTORS = (3.0, 1.0, 1 / 3)


@dataclass
class Step:
    """One tuning step: what was chosen, and the evidence it was chosen from."""

    name: str
    value: float
    curves: dict = field(default_factory=dict)   # candidate -> RangeTest
    scores: dict = field(default_factory=dict)   # candidate -> curve_score (lower is better)
    iterations: int = 0                          # optimizer steps spent on this step
    note: str = ""


@dataclass
class Tuned:
    """The outcome of :func:`tune` for one (network, dataset): the row of our Table 1."""

    network: str
    dataset: str
    lr: float
    momentum: float
    weight_decay: float
    steps: dict = field(default_factory=dict)    # step name -> Step

    @property
    def iterations(self) -> int:
        return sum(s.iterations for s in self.steps.values())

    def row(self) -> dict:
        return dict(network=self.network, dataset=self.dataset, lr=self.lr,
                    weight_decay=self.weight_decay, momentum=self.momentum)


# ------------------------------------------------------------------ scoring and choosing
def curve_score(rt: lr_finder.RangeTest, planned: int | None = None) -> float:
    """Mean zero-phase smoothed loss over the planned sweep; a run stopped by divergence counts
    its missing iterations at the starting loss (the clip level of :func:`lr_finder.zero_phase`)."""
    raw = np.asarray(rt.losses, dtype=float)
    planned = max(planned or len(raw), len(raw))
    finite = raw[: np.flatnonzero(~np.isfinite(raw))[0]] if (~np.isfinite(raw)).any() else raw
    if len(finite) < 8:
        return math.inf
    z = lr_finder.zero_phase(rt)
    start = float(np.median(finite[: max(3, len(finite) // 20)]))
    return float((z.sum() + start * (planned - len(z))) / planned)


def choose(curves: dict, planned: int | None = None) -> tuple:
    """(argmin candidate, scores) over ``curves`` (candidate -> RangeTest). Ties keep the first."""
    if not curves:
        raise ConfigError("choose needs at least one candidate curve")
    scores = {k: curve_score(rt, planned) for k, rt in curves.items()}
    best = min(scores, key=lambda k: (scores[k], list(scores).index(k)))
    return best, scores


# ------------------------------------------------------------------ the probe
class Prober:
    """Runs range tests on one (network, dataset): same initial weights, same batches, every time.

    ``probe(start_lr, end_lr, iters, momentum, weight_decay)`` returns a RangeTest; the model is
    restored after each probe (``lr_finder.range_test`` guarantees it)."""

    def __init__(self, network: str, dataset: str, *, batch_size: int, n_train=None, seed: int = 0,
                 device=None, root=None, model=None, batches=None, channels_last: bool = False):
        self.network, self.dataset = network, dataset
        if batches is None:
            batches, _ = train.load_batches(dataset, batch_size=batch_size, n_train=n_train, n_test=100,
                                            seed=seed, device=device, root=root)
        self.batches = batches
        if model is None:
            train.seed_everything(seed)
            model = models.create(network, num_classes=int(batches.y.max()) + 1,
                                  in_channels=batches.x.shape[1])
        self.model = model.to(batches.x.device)
        if channels_last:  # faster convolutions on CPU for MobileNetV2; the numbers barely move
            self.model = self.model.to(memory_format=torch.channels_last)
        self.iterations = 0

    def probe(self, start_lr: float, end_lr: float, iters: int, momentum: float = 0.9,
              weight_decay: float = 0.0) -> lr_finder.RangeTest:
        rt = lr_finder.range_test(self.model, self.batches, start_lr=start_lr, end_lr=end_lr,
                                  num_iter=iters, momentum=momentum, weight_decay=weight_decay)
        self.iterations += len(rt.lrs)
        return rt


# ------------------------------------------------------------------ the steps
def lr_step(probe, *, iters: int, start_lr: float = 1e-5, end_lr: float = 10.0,
            momentum: float = 0.9, weight_decay: float = 0.0) -> Step:
    """§4.2.1: one range test; the optimal constant LR by the ``sclib`` rule (LR at the minimum
    of the zero-phase smoothed loss ÷ 10, see :mod:`sclib.lr_finder`)."""
    rt = probe(start_lr, end_lr, iters, momentum, weight_decay)
    lr = lr_finder.suggest(rt, "sclib")
    return Step("lr", lr, curves={"range test": rt}, iterations=len(rt.lrs),
                note=f"LR at the loss minimum = {10 * lr:.3g}; optimal constant LR = min/10")


def _window(lr0: float, span: tuple) -> tuple:
    check_number("lr0", lr0, lo=0, lo_open=True)
    lo, hi = span
    if not 0 < lo < hi:
        raise ConfigError(f"span must be (lo, hi) with 0 < lo < hi, got {span!r}")
    return lr0 * lo, lr0 * hi


def momentum_step(probe, lr0: float, *, iters: int, momenta=MOMENTA, span=(0.1, 30.0),
                  weight_decay: float = 0.0) -> Step:
    """§4.2.2, Fig. 2: loss against LR (lr0·span[0] ... lr0·span[1]) for each momentum."""
    if not momenta:
        raise ConfigError("momenta must name at least one value")
    a, b = _window(lr0, span)
    curves = {float(m): probe(a, b, iters, float(m), weight_decay) for m in momenta}
    best, scores = choose(curves, iters)
    return Step("momentum", best, curves, scores, sum(len(c.lrs) for c in curves.values()),
                note=f"LR window {a:.3g}-{b:.3g}, {iters} iterations per momentum")


def weight_decay_steps(probe, lr0: float, momentum: float, *, iters: int, coarse=WD_COARSE,
                       fine_factors=WD_FINE_FACTORS, span=(0.1, 30.0)) -> tuple:
    """§4.2.3, Figs. 3-4: coarse search over ``coarse``, then a fine one at best × ``fine_factors``.
    Returns (coarse Step, fine Step); the fine step's value is the chosen weight decay."""
    if not coarse:
        raise ConfigError("coarse must name at least one weight decay")
    a, b = _window(lr0, span)
    c_curves = {float(w): probe(a, b, iters, momentum, float(w)) for w in coarse}
    c_best, c_scores = choose(c_curves, iters)
    fine = [float(c_best * f) for f in fine_factors]
    f_curves = {w: (c_curves[w] if w in c_curves else probe(a, b, iters, momentum, w)) for w in fine}
    f_best, f_scores = choose(f_curves, iters)
    spent_f = sum(len(rt.lrs) for w, rt in f_curves.items() if w not in c_curves)
    return (Step("weight_decay_coarse", c_best, c_curves, c_scores,
                 sum(len(c.lrs) for c in c_curves.values()), note=f"LR window {a:.3g}-{b:.3g}"),
            Step("weight_decay", f_best, f_curves, f_scores, spent_f,
                 note=f"fine grid: {c_best:.0e} × {', '.join(f'{f:.3g}' for f in fine_factors)}"))


# ------------------------------------------------------------------ schedules
def clr_spec(lr0: float, epochs: int, *, min_fraction: float = 0.25, step_epochs=None) -> dict:
    """§4.3: triangular CLR between ``min_fraction``·lr0 (1/4-1/3) and lr0; half-cycle of 2-10
    epochs (:func:`sclib.schedules.clr_step_epochs` when not given)."""
    check_number("lr0", lr0, lo=0, lo_open=True)
    check_number("min_fraction", min_fraction, lo=0, hi=1, lo_open=True, hi_open=True)
    step = schedules.clr_step_epochs(epochs) if step_epochs is None else step_epochs
    return schedules.normalize(dict(kind="clr", mode="triangular", base_lr=min_fraction * lr0,
                                    max_lr=lr0, step_epochs=step))


def sc_spec(lr0: float, momentum: float = 0.9, *, min_momentum: float = 0.85,
            max_factor: float = 10.0) -> dict:
    """§4.4: one cycle from lr0 up to ``max_factor``·lr0 and back (45% + 45% of the iterations),
    then the last 10% below the starting LR (down to lr0/100); momentum ``momentum`` ->
    ``min_momentum`` -> ``momentum``, starting at its maximum."""
    check_number("lr0", lr0, lo=0, lo_open=True)
    if not 0 <= min_momentum <= momentum < 1:
        raise ConfigError(f"need 0 <= min_momentum <= momentum < 1, got {min_momentum}, {momentum}")
    return schedules.normalize(dict(kind="onecycle", max_lr=max_factor * lr0, div_factor=max_factor,
                                    final_div_factor=100.0, pct_start=0.45, three_phase=True,
                                    base_momentum=min_momentum, max_momentum=momentum))


def methods(t: Tuned, epochs: int) -> dict:
    """label -> ``train.run`` overrides: constant LR, CLR and super-convergence, all from ``t``."""
    common = dict(lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
    return {"constant": dict(common, schedule="constant"),
            "CLR": dict(common, schedule=clr_spec(t.lr, epochs)),
            "super-convergence": dict(common, schedule=sc_spec(t.lr, t.momentum))}


# ------------------------------------------------------------------ the whole procedure
def tune(prober: Prober, *, range_iters: int, probe_iters: int | None, start_lr: float = 1e-5,
         end_lr: float = 10.0, momenta=MOMENTA, coarse=WD_COARSE, fine_factors=WD_FINE_FACTORS,
         default_momentum: float = 0.9, default_wd: float = 0.0, span=(0.1, 30.0)) -> Tuned:
    """§4.2 in order: LR, then momentum, then weight decay. With ``probe_iters=None`` only the LR
    is tuned and momentum/weight decay keep their defaults (stated in the Step notes)."""
    check_number("range_iters", range_iters, lo=8, integer=True)
    p = prober.probe
    steps = {"lr": lr_step(p, iters=range_iters, start_lr=start_lr, end_lr=end_lr,
                           momentum=default_momentum, weight_decay=default_wd)}
    lr0 = steps["lr"].value
    if probe_iters is None:
        m, wd = default_momentum, default_wd
        steps["momentum"] = Step("momentum", m, note="not probed (budget): default")
        steps["weight_decay"] = Step("weight_decay", wd, note="not probed (budget): default")
    else:
        check_number("probe_iters", probe_iters, lo=8, integer=True)
        steps["momentum"] = momentum_step(p, lr0, iters=probe_iters, momenta=momenta, span=span,
                                          weight_decay=default_wd)
        m = steps["momentum"].value
        steps["weight_decay_coarse"], steps["weight_decay"] = weight_decay_steps(
            p, lr0, m, iters=probe_iters, coarse=coarse, fine_factors=fine_factors, span=span)
        wd = steps["weight_decay"].value
    return Tuned(prober.network, prober.dataset, lr0, m, wd, steps)


# ------------------------------------------------------------------ one (network, dataset) study
@dataclass
class Study:
    """Tuning (our Table 1 row) and the three schedules trained with it, for one (network, dataset)."""

    tuned: Tuned
    runs: dict            # label -> list of Histories (one per seed)
    scale: dict           # what was run: n_train, n_test, epochs, batch_size, seeds


def study(network: str, dataset: str, *, n_train, n_test, epochs: int, batch_size: int, seeds: int,
          range_iters: int, probe_iters, probe_batch_size: int, start_lr: float = 1e-5,
          end_lr: float = 10.0, device=None, root=None, tuned: Tuned | None = None,
          labels=("constant", "CLR", "super-convergence"), half_sc: bool = False,
          channels_last: bool = False, progress: bool = False, default_momentum: float = 0.9,
          default_wd: float = 0.0) -> Study:
    """Tune (unless ``tuned`` is given) and train the schedules in ``labels`` for ``seeds`` seeds.
    ``half_sc`` adds super-convergence with half the epochs (002 §5.4, TinyImageNet). With
    ``probe_iters=None`` momentum and weight decay are not probed: ``default_momentum`` and
    ``default_wd`` are used (e.g. the values probed on a cheaper network)."""
    from types import SimpleNamespace

    from . import experiments

    if tuned is None:
        prober = Prober(network, dataset, batch_size=probe_batch_size, n_train=n_train, seed=0,
                        device=device, root=root, channels_last=channels_last)
        tuned = tune(prober, range_iters=range_iters, probe_iters=probe_iters, start_lr=start_lr,
                     end_lr=end_lr, default_momentum=default_momentum, default_wd=default_wd)
    all_m = methods(tuned, epochs)
    chosen = {k: dict(all_m[k], channels_last=channels_last) for k in labels}
    cfg = SimpleNamespace(dataset=dataset, model=network, epochs=epochs, batch_size=batch_size,
                          momentum=tuned.momentum, weight_decay=tuned.weight_decay, n_train=n_train,
                          n_test=n_test, device=device, root=root, seeds=seeds)
    runs = experiments.compare(cfg, chosen, progress=progress)
    if half_sc:
        half = max(1, epochs // 2)
        m = dict(all_m["super-convergence"], channels_last=channels_last)
        runs[f"super-convergence ({half} epochs)"] = experiments.compare(
            cfg, {"sc": m}, epochs=half, progress=progress)["sc"]
    return Study(tuned, runs, dict(n_train=n_train, n_test=n_test, epochs=epochs,
                                   batch_size=batch_size, seeds=seeds))



def plot_step(step: Step, ax=None, title=None, fmt="{:g}"):
    """The evidence of one step: the zero-phase smoothed loss against LR, one curve per candidate
    (the report's Figs. 1-4), the chosen one drawn thick."""
    import matplotlib.pyplot as plt

    from . import plotting

    ax = ax or plt.subplots()[1]
    for i, (cand, rt) in enumerate(step.curves.items()):
        z = lr_finder.zero_phase(rt)
        chosen = cand == step.value or len(step.curves) == 1
        lab = cand if isinstance(cand, str) else fmt.format(cand)
        if step.scores:
            lab += f" (score {step.scores[cand]:.3f})"
        ax.plot(rt.lrs[: len(z)], z, color=plotting.color(i), lw=2.4 if chosen else 1.0,
                label=lab + (" ← chosen" if chosen and len(step.curves) > 1 else ""))
    if step.name == "lr":
        ax.axvline(step.value, color="k", ls="--", lw=1, label=f"optimal constant LR {step.value:.3g}")
    ax.set_xscale("log")
    ax.set(xlabel="learning rate", ylabel="training loss (zero-phase smoothed)",
           title=title or step.name)
    ax.legend(fontsize="x-small")
    return ax
