"""The KTH study's hyperparameter procedure (Mohsin, Ma & Fu 2019, source document 002, §4), as
one reusable, budgeted call, and the runs that compare its three schedules.

Per (network, dataset) the report:

1. runs the LR range test and reads the *optimal constant LR* off it "to the left of [the]
   overfitting/divergence point but close to it" (§4.2.1, Fig. 1: divergence around 10^-2,
   10^-2.12 chosen). :func:`read_lr` with ``rule="report"`` does the same without a human: the
   divergence point is the minimum of the zero-phase smoothed loss (where it starts to rise),
   and the LR is read the report's own distance to the left of it, 10^(-2) / 10^(-2.12), i.e.
   0.12 decades (both numbers from :mod:`sclib.papers`). ``rule="sclib"`` (minimum ÷ 10, the
   rule of :mod:`sclib.lr_finder`) is kept for comparison;
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

**Ties.** Curves whose scores lie within :data:`TIE_TOL` × the starting loss of the best are a
tie: a short probe cannot tell them apart (a weight decay of 1e-6 removes a millionth of each
weight per step). :func:`choose` then keeps the report's default, or the tied candidate nearest
to it (in log scale): momentum 0.9 ("we pick it as our default value", §4.2.2) and weight decay
1e-6 (the report's own choice, §4.2.3). Every Step lists the tied candidates.

Each step returns a :class:`Step`: the chosen value, the curves it was chosen from, their
scores, the tied candidates and the iterations it cost. :func:`train_runs` trains the schedules,
seed *s* of every schedule from the same initial weights and data order.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import data, lr_finder, models, papers, schedules, timing, train
from .errors import ConfigError, check_choice, check_number
from .experiments import sweep

MOMENTA = (0.85, 0.9, 0.95, 0.99)
WD_COARSE = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7)
WD_FINE_FACTORS = (3.0, 1.0, 1 / 3)
#: The report's defaults, kept on a tie: momentum 0.9 (§4.2.2) and weight decay 1e-6 (§4.2.3).
DEFAULT_MOMENTUM = float(papers.value("kth.momentum.selected"))
DEFAULT_WD = float(papers.value("kth.wd.fine_best"))
#: Two probe curves whose scores differ by less than this fraction of the starting loss are a tie.
TIE_TOL = 0.01
#: Momentum and weight-decay probes sweep lr0·SPAN[0] ... lr0·SPAN[1]: the LRs the
#: super-convergence schedule visits (down to lr0/100 at its end, up to 10·lr0 at its peak),
#: past the divergence point of the range test (Fig. 2's "higher learning rates").
SPAN = (0.01, 10.0)
#: A range test is informative when its smoothed loss falls at least this fraction below the
#: starting loss: otherwise the net did not learn during the sweep and its minimum means nothing.
MIN_DROP = 0.1
LR_RULES = ("report", "sclib")
#: Evaluation batch: a batch of 1000 32×32 images runs at about half the speed of 250 on a CPU.
TEST_BATCH = 250


def backoff_decades() -> float:
    """How far left of the divergence point the report reads its LR, in decades (§4.2.1: the
    divergence around 10^-2, the LR chosen 10^-2.12)."""
    return float(papers.value("kth.range_test.divergence_log10_lr")
                 - papers.value("kth.range_test.selected_log10_lr"))


@dataclass
class Step:
    """One tuning step: what was chosen, and the evidence it was chosen from."""

    name: str
    value: float
    curves: dict = field(default_factory=dict)   # candidate -> RangeTest
    scores: dict = field(default_factory=dict)   # candidate -> curve_score (lower is better)
    iterations: int = 0                          # optimizer steps spent on this step
    note: str = ""
    tied: list = field(default_factory=list)     # candidates within the tie band of the best
    info: dict = field(default_factory=dict)     # the LR step: minimum, sclib rule, loss drop


@dataclass
class Tuned:
    """The outcome of :func:`tune` for one (network, dataset): the row of our Table 1."""

    network: str
    dataset: str
    lr: float
    momentum: float
    weight_decay: float
    steps: dict = field(default_factory=dict)    # step name -> Step
    images_per_s: float = math.nan               # training throughput measured during the probes

    @property
    def iterations(self) -> int:
        return sum(s.iterations for s in self.steps.values())

    @property
    def informative(self) -> bool:
        return bool(self.steps["lr"].info.get("informative", True))

    def row(self) -> dict:
        return dict(network=self.network, dataset=self.dataset, lr=self.lr,
                    weight_decay=self.weight_decay, momentum=self.momentum)


# ------------------------------------------------------------------ reading a range test
def start_loss(rt: lr_finder.RangeTest) -> float:
    """The loss the sweep starts from: the median of its first finite raw losses."""
    raw = np.asarray(rt.losses, dtype=float)
    bad = np.flatnonzero(~np.isfinite(raw))
    raw = raw[: bad[0]] if len(bad) else raw
    if not len(raw):
        return math.nan
    return float(np.median(raw[: max(3, len(raw) // 20)]))


def lr_at_minimum(rt: lr_finder.RangeTest) -> float:
    """The LR at the minimum of the zero-phase smoothed loss: where the loss starts to rise."""
    z = lr_finder.zero_phase(rt)
    return float(np.asarray(rt.lrs)[: len(z)][int(np.argmin(z))])


def loss_drop(rt: lr_finder.RangeTest) -> float:
    """How far the smoothed loss fell below the starting loss, as a fraction of it."""
    return float(1 - lr_finder.zero_phase(rt).min() / start_loss(rt))


def read_lr(rt: lr_finder.RangeTest, rule: str = "report") -> float:
    """The optimal constant LR read off a range test: ``report`` = :func:`backoff_decades` left of
    the minimum (§4.2.1); ``sclib`` = the minimum ÷ 10 (:func:`sclib.lr_finder.suggest`)."""
    check_choice("rule", rule, LR_RULES)
    if rule == "sclib":
        return lr_finder.suggest(rt, "sclib")
    return lr_at_minimum(rt) * 10 ** (-backoff_decades())


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
    return float((z.sum() + start_loss(rt) * (planned - len(z))) / planned)


def _distance(a: float, b: float) -> float:
    return abs(math.log(a) - math.log(b)) if a > 0 and b > 0 else abs(a - b)


def choose(curves: dict, planned: int | None = None, *, prefer=None, tol: float = TIE_TOL) -> tuple:
    """(chosen candidate, scores, tied candidates) over ``curves`` (candidate -> RangeTest).

    The tied candidates score within ``tol`` × the starting loss of the best. Among them the one
    nearest to ``prefer`` (log scale) is chosen, ``prefer`` itself when it is tied; without
    ``prefer``, the lowest score (the first on an exact tie)."""
    if not curves:
        raise ConfigError("choose needs at least one candidate curve")
    check_number("tol", tol, lo=0)
    scores = {k: curve_score(rt, planned) for k, rt in curves.items()}
    keys = list(scores)
    finite = [k for k in keys if math.isfinite(scores[k])]
    if not finite:  # every sweep too short to read: nothing to compare
        pick = prefer if prefer in scores else keys[0]
        return pick, scores, keys
    lowest = min(finite, key=lambda k: (scores[k], keys.index(k)))
    band = tol * start_loss(curves[lowest])
    tied = [k for k in finite if scores[k] <= scores[lowest] + band]
    if prefer is None:
        pick = lowest
    else:
        pick = min(tied, key=lambda k: (_distance(float(k), float(prefer)), scores[k], keys.index(k)))
    return pick, scores, tied


def _tie_note(pick, scores, tied, prefer, fmt="{:g}") -> str:
    if len(tied) < 2:
        return ""
    names = ", ".join(fmt.format(k) for k in tied)
    why = "the report's default" if prefer is not None and pick == prefer else (
        f"nearest to the report's default {fmt.format(prefer)}" if prefer is not None else "lowest score")
    return f"tie within {TIE_TOL:.0%} of the starting loss: {names}; kept {fmt.format(pick)} ({why})"


# ------------------------------------------------------------------ the probe
class Prober:
    """Runs range tests on one (network, dataset): same initial weights, same batches, every time.

    ``probe(start_lr, end_lr, iters, momentum, weight_decay)`` returns a RangeTest; the model is
    restored after each probe (``lr_finder.range_test`` guarantees it). The probes' wall time is
    kept: ``images_per_s`` is the network's training throughput on this machine."""

    def __init__(self, network: str, dataset: str, *, batch_size: int, n_train=None, seed: int = 0,
                 device=None, root=None, model=None, batches=None, channels_last: bool = False):
        self.network, self.dataset = network, dataset
        if batches is None:
            # the probes never evaluate; the test split is loaded anyway, one image per class
            # at least (a class-balanced subset of fewer images than classes would be empty)
            classes = round(1 / data.chance(dataset, root))
            batches, _ = train.load_batches(dataset, batch_size=batch_size, n_train=n_train,
                                            n_test=max(100, classes), seed=seed, device=device, root=root)
        self.batches = batches
        if model is None:
            train.seed_everything(seed)
            model = models.create(network, num_classes=int(batches.y.max()) + 1,
                                  in_channels=batches.x.shape[1])
        self.model = model.to(batches.x.device)
        if channels_last:  # faster convolutions on CPU; the numbers barely move
            self.model = self.model.to(memory_format=torch.channels_last)
        self.iterations, self.seconds, self.images = 0, 0.0, 0

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else math.nan

    def probe(self, start_lr: float, end_lr: float, iters: int, momentum: float = DEFAULT_MOMENTUM,
              weight_decay: float = 0.0) -> lr_finder.RangeTest:
        t0 = time.perf_counter()
        rt = lr_finder.range_test(self.model, self.batches, start_lr=start_lr, end_lr=end_lr,
                                  num_iter=iters, momentum=momentum, weight_decay=weight_decay)
        self.seconds += time.perf_counter() - t0
        self.iterations += len(rt.lrs)
        self.images += len(rt.lrs) * self.batches.batch_size
        return rt


# ------------------------------------------------------------------ the steps
def lr_step(probe, *, iters: int, start_lr: float = 1e-5, end_lr: float = 10.0,
            momentum: float = DEFAULT_MOMENTUM, weight_decay: float = DEFAULT_WD) -> Step:
    """§4.2.1: one range test; the optimal constant LR by the report's reading (:func:`read_lr`).
    ``info`` holds the LR at the minimum, the ``sclib`` rule's LR and the loss drop."""
    rt = probe(start_lr, end_lr, iters, momentum, weight_decay)
    lr = read_lr(rt, "report")
    drop = loss_drop(rt)
    info = dict(lr_at_min=lr_at_minimum(rt), lr_sclib=read_lr(rt, "sclib"), drop=drop,
                informative=drop >= MIN_DROP)
    note = (f"loss minimum at LR {info['lr_at_min']:.3g}; optimal constant LR "
            f"{backoff_decades():g} decades left of it = {lr:.3g}")
    if not info["informative"]:
        note += f"; uninformative: the loss fell only {drop:.0%} during the sweep"
    return Step("lr", lr, curves={"range test": rt}, iterations=len(rt.lrs), note=note, info=info)


def _window(lr0: float, span: tuple) -> tuple:
    check_number("lr0", lr0, lo=0, lo_open=True)
    lo, hi = span
    if not 0 < lo < hi:
        raise ConfigError(f"span must be (lo, hi) with 0 < lo < hi, got {span!r}")
    return lr0 * lo, lr0 * hi


def momentum_step(probe, lr0: float, *, iters: int, momenta=MOMENTA, span=SPAN,
                  weight_decay: float = DEFAULT_WD, prefer=DEFAULT_MOMENTUM) -> Step:
    """§4.2.2, Fig. 2: loss against LR (lr0·span[0] ... lr0·span[1]) for each momentum; a tie
    keeps ``prefer`` (or the tied momentum nearest to it)."""
    if not momenta:
        raise ConfigError("momenta must name at least one value")
    a, b = _window(lr0, span)
    curves = {float(m): probe(a, b, iters, float(m), weight_decay) for m in momenta}
    best, scores, tied = choose(curves, iters, prefer=prefer)
    note = f"LR window {a:.3g}-{b:.3g}, {iters} iterations per momentum"
    tie = _tie_note(best, scores, tied, prefer)
    return Step("momentum", best, curves, scores, sum(len(c.lrs) for c in curves.values()),
                note=note + ("; " + tie if tie else ""), tied=tied)


def weight_decay_steps(probe, lr0: float, momentum: float, *, iters: int, coarse=WD_COARSE,
                       fine_factors=WD_FINE_FACTORS, span=SPAN, prefer=DEFAULT_WD) -> tuple:
    """§4.2.3, Figs. 3-4: coarse search over ``coarse``, then a fine one at best × ``fine_factors``.
    Returns (coarse Step, fine Step); the fine step's value is the chosen weight decay. A tie in
    either keeps ``prefer`` or the tied value nearest to it."""
    if not coarse:
        raise ConfigError("coarse must name at least one weight decay")
    a, b = _window(lr0, span)
    c_curves = {float(w): probe(a, b, iters, momentum, float(w)) for w in coarse}
    c_best, c_scores, c_tied = choose(c_curves, iters, prefer=prefer)
    fine = [float(c_best * f) for f in fine_factors]
    f_curves = {w: (c_curves[w] if w in c_curves else probe(a, b, iters, momentum, w)) for w in fine}
    f_best, f_scores, f_tied = choose(f_curves, iters, prefer=prefer)
    spent_f = sum(len(rt.lrs) for w, rt in f_curves.items() if w not in c_curves)
    c_tie = _tie_note(c_best, c_scores, c_tied, prefer, "{:.0e}")
    f_tie = _tie_note(f_best, f_scores, f_tied, prefer, "{:.1e}")
    return (Step("weight_decay_coarse", c_best, c_curves, c_scores,
                 sum(len(c.lrs) for c in c_curves.values()),
                 note=f"LR window {a:.3g}-{b:.3g}" + ("; " + c_tie if c_tie else ""), tied=c_tied),
            Step("weight_decay", f_best, f_curves, f_scores, spent_f,
                 note=(f"fine grid: {c_best:.0e} × {', '.join(f'{f:.3g}' for f in fine_factors)}"
                       + ("; " + f_tie if f_tie else "")), tied=f_tied))


def probe_scores(prober: Prober, lr0: float, settings: dict, *, iters: int, span=SPAN) -> dict:
    """{label: curve_score} for ``settings`` (label -> (momentum, weight decay)), each one probe
    over the window of :func:`momentum_step` on ``prober``'s weights and batches: the same
    comparison repeated from another seed."""
    a, b = _window(lr0, span)
    return {k: curve_score(prober.probe(a, b, iters, float(m), float(w)), iters)
            for k, (m, w) in settings.items()}


# ------------------------------------------------------------------ schedules
def clr_spec(lr0: float, epochs: int, *, min_fraction: float = 0.25, step_epochs=None) -> dict:
    """§4.3: triangular CLR between ``min_fraction``·lr0 (1/4-1/3) and lr0; half-cycle of 2-10
    epochs (:func:`sclib.schedules.clr_step_epochs` when not given)."""
    check_number("lr0", lr0, lo=0, lo_open=True)
    check_number("min_fraction", min_fraction, lo=0, hi=1, lo_open=True, hi_open=True)
    step = schedules.clr_step_epochs(epochs) if step_epochs is None else step_epochs
    return schedules.normalize(dict(kind="clr", mode="triangular", base_lr=min_fraction * lr0,
                                    max_lr=lr0, step_epochs=step))


def sc_spec(lr0: float, momentum: float = DEFAULT_MOMENTUM, *, min_momentum: float = 0.85,
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
    """label -> ``train.fit`` overrides: constant LR, CLR and super-convergence, all from ``t``."""
    common = dict(lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
    return {"constant": dict(common, schedule="constant"),
            "CLR": dict(common, schedule=clr_spec(t.lr, epochs)),
            "super-convergence": dict(common, schedule=sc_spec(t.lr, t.momentum))}


# ------------------------------------------------------------------ the procedure and the runs
def tune(prober: Prober, *, range_iters: int, probe_iters: int | None, start_lr: float = 1e-5,
         end_lr: float = 10.0, momenta=MOMENTA, coarse=WD_COARSE, fine_factors=WD_FINE_FACTORS,
         default_momentum: float = DEFAULT_MOMENTUM, default_wd: float = DEFAULT_WD,
         span=SPAN) -> Tuned:
    """§4.2 in order: LR, then momentum, then weight decay. With ``probe_iters=None`` only the LR
    is tuned and momentum/weight decay keep the defaults (stated in the Step notes). The
    defaults are also what a tie keeps."""
    check_number("range_iters", range_iters, lo=8, integer=True)
    p = prober.probe
    steps = {"lr": lr_step(p, iters=range_iters, start_lr=start_lr, end_lr=end_lr,
                           momentum=default_momentum, weight_decay=default_wd)}
    lr0 = steps["lr"].value
    if probe_iters is None:
        m, wd = default_momentum, default_wd
        steps["momentum"] = Step("momentum", m, note="not probed at this profile: the report's default")
        steps["weight_decay"] = Step("weight_decay", wd, note="not probed at this profile: the report's default")
    else:
        check_number("probe_iters", probe_iters, lo=8, integer=True)
        steps["momentum"] = momentum_step(p, lr0, iters=probe_iters, momenta=momenta, span=span,
                                          weight_decay=default_wd, prefer=default_momentum)
        m = steps["momentum"].value
        steps["weight_decay_coarse"], steps["weight_decay"] = weight_decay_steps(
            p, lr0, m, iters=probe_iters, coarse=coarse, fine_factors=fine_factors, span=span,
            prefer=default_wd)
        wd = steps["weight_decay"].value
    return Tuned(prober.network, prober.dataset, lr0, m, wd, steps, images_per_s=prober.images_per_s)


def train_runs(network: str, dataset: str, runs: dict, *, seeds: int, epochs: int, batch_size: int,
               n_train=None, n_test=None, device=None, root=None, channels_last: bool = False,
               progress: bool = False, desc: str = "") -> dict:
    """label -> list of Histories, one per seed: every label's ``train.fit`` overrides (e.g.
    :func:`methods`) for seeds 0 … ``seeds``−1. Seed *s* gives every label the same data subset,
    initial weights and data order (paired by seed); :func:`sclib.train.run` with the evaluation
    in batches of :data:`TEST_BATCH`."""
    check_number("seeds", seeds, lo=1, integer=True)
    loaded = {}  # one seed's batches at a time: every label of a seed trains on them

    def one(label, s):
        if s not in loaded:
            loaded.clear()
            loaded[s] = train.load_batches(dataset, batch_size=batch_size, n_train=n_train, n_test=n_test,
                                           seed=s, device=device, root=root, test_batch_size=TEST_BATCH)
        tr, te = loaded[s]
        cfg = dict(dataset=dataset, model=network, seed=s, n_test=te.num_examples, augment=True)
        train.seed_everything(s)
        net = models.create(network, num_classes=int(tr.y.max()) + 1, in_channels=tr.x.shape[1])
        return train.fit(net, tr, te, epochs=epochs, channels_last=channels_last, progress=False, config=cfg,
                         **runs[label])

    return sweep(one, runs, range(seeds), desc=desc or f"{network}/{dataset}", progress=progress)


def throughput(network: str, dataset: str, *, batch_size: int, steps: int = 3, device=None, root=None,
               channels_last: bool = False) -> float:
    """Training images/s of ``network`` here: ``steps`` SGD steps on one batch of ``dataset``
    after a warm-up step (:mod:`sclib.timing`). A cost, never a result: it prices a run
    a profile does not make."""
    check_number("steps", steps, lo=1, integer=True)
    x, y = data.load(dataset, "train", root=root)
    dev = torch.device(device) if device else train.default_device()
    xb = (x[:batch_size].to(torch.get_default_dtype()) / 255).to(dev)
    yb = y[:batch_size].to(dev)
    train.seed_everything(0)
    net = models.create(network, num_classes=int(y.max()) + 1, in_channels=x.shape[1]).to(dev)
    return timing.train_steps(net, xb, yb, steps, channels_last=channels_last)


@dataclass
class Study:
    """Tuning (our Table 1 row) and the three schedules trained with it, for one (network, dataset)."""

    tuned: Tuned
    runs: dict            # label -> list of Histories (one per seed)
    scale: dict           # what was run: n_train, n_test, epochs, batch_size, seeds


def study(network: str, dataset: str, *, n_train, n_test, epochs: int, batch_size: int, seeds: int,
          range_iters: int = 100, probe_iters=None, probe_batch_size: int | None = None,
          start_lr: float = 1e-5, end_lr: float = 10.0, device=None, root=None,
          tuned: Tuned | None = None, labels=("constant", "CLR", "super-convergence"),
          half_sc: bool = False, channels_last: bool = False, progress: bool = False,
          default_momentum: float = DEFAULT_MOMENTUM, default_wd: float = DEFAULT_WD) -> Study:
    """Tune (unless ``tuned`` is given) and train the schedules in ``labels`` for ``seeds`` seeds.
    ``half_sc`` adds super-convergence with half the epochs (§5.4, TinyImageNet). With
    ``probe_iters=None`` momentum and weight decay are not probed: the defaults are used."""
    if tuned is None:
        prober = Prober(network, dataset, batch_size=probe_batch_size or batch_size, n_train=n_train,
                        seed=0, device=device, root=root, channels_last=channels_last)
        tuned = tune(prober, range_iters=range_iters, probe_iters=probe_iters, start_lr=start_lr,
                     end_lr=end_lr, default_momentum=default_momentum, default_wd=default_wd)
    all_m = methods(tuned, epochs)
    kw = dict(seeds=seeds, batch_size=batch_size, n_train=n_train, n_test=n_test, device=device,
              root=root, channels_last=channels_last, progress=progress)
    runs = train_runs(network, dataset, {k: all_m[k] for k in labels}, epochs=epochs, **kw)
    if half_sc:
        half = max(1, epochs // 2)
        runs[f"super-convergence ({half} epochs)"] = train_runs(
            network, dataset, {"sc": all_m["super-convergence"]}, epochs=half, **kw)["sc"]
    return Study(tuned, runs, dict(n_train=n_train, n_test=n_test, epochs=epochs,
                                   batch_size=batch_size, seeds=seeds))


def plot_step(step: Step, ax=None, title=None, fmt="{:g}"):
    """The evidence of one step: the zero-phase smoothed loss against LR, one curve per candidate
    (the report's Figs. 1-4), the chosen one drawn thick, tied ones marked "tie". The LR step
    also marks the loss minimum, the report's reading and the ``sclib`` rule's."""
    import matplotlib.pyplot as plt

    from . import plotting

    ax = ax or plt.subplots()[1]
    for i, (cand, rt) in enumerate(step.curves.items()):
        z = lr_finder.zero_phase(rt)
        chosen = cand == step.value or len(step.curves) == 1
        lab = cand if isinstance(cand, str) else fmt.format(cand)
        if step.scores:
            lab += f" (score {step.scores[cand]:.3f})"
        if len(step.tied) > 1 and cand in step.tied:
            lab += " tie"
        ax.plot(rt.lrs[: len(z)], z, color=plotting.color(i), lw=2.4 if chosen else 1.0,
                label=lab + (" ← chosen" if chosen and len(step.curves) > 1 else ""))
    if step.name == "lr":
        info = step.info
        if "lr_at_min" in info:
            ax.axvline(info["lr_at_min"], color="0.5", ls=":", lw=1,
                       label=f"loss minimum {info['lr_at_min']:.3g}")
            ax.axvline(info["lr_sclib"], color="0.7", ls="-.", lw=1,
                       label=f"minimum ÷ 10 (sclib rule) {info['lr_sclib']:.3g}")
        ax.axvline(step.value, color="k", ls="--", lw=1, label=f"optimal constant LR {step.value:.3g}")
    ax.set_xscale("log")
    ax.set(xlabel="learning rate", ylabel="training loss (zero-phase smoothed)",
           title=title or step.name)
    ax.legend(fontsize="x-small")
    return ax
