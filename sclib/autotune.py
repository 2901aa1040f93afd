"""Automatic one-cycle hyperparameters in one budgeted call: the "further development" that
``003_4ce0f1eb6a214195.txt`` asks for (automate the LR read-off of the range test, and the
choice of weight decay and BatchNorm momentum), with no human reading a plot.

:func:`autotune` spends at most ``budget_iters`` training iterations (SGD steps), all on the
training set; the choices are judged on a held-out slice of it, never on the test set:

1. **Max LR** — an LR range test (``sclib.lr_finder.range_test``) of ``range_fraction`` of the
   budget reads a candidate: the LR at the minimum of the zero-phase smoothed loss (``10 ×
   sclib.lr_finder.suggest(rule="sclib")``), 003's "where the loss is as low and stable as
   possible", read by the signal processing 003 says it needs. A short range test can fail to
   bracket the minimum (the loss still falls at the end of the sweep, common for BatchNorm
   ResNets, or sits too low when the net has hardly trained yet), so the candidate is checked
   by short probes (at the middle weight decay) walking down ``lr_factors`` (default ×3, 1,
   1/3, 1/10, 1/30, 1/100): the walk stops at the first probe that is worse than the best so
   far, unless the best is still at chance level (below twice 1/classes). The best held-out
   accuracy wins. ``min = max / 10`` (003).
2. **Weight decay** — the other candidate WDs get one probe each at the chosen max LR (the
   LR probe at the middle WD is reused). The rest of the budget is split evenly over all
   probes; each trains a fresh model (same seed) with 003's one-cycle and is scored on the
   held-out slice (accuracy, then loss). Diverged probes lose.
3. **BatchNorm momentum** — in training mode a BatchNorm layer normalizes with the batch's own
   statistics, so its momentum changes *only* the running statistics used at evaluation, never
   the training trajectory. The winning probe's run therefore holds the answer for every
   candidate at once: hooks record, for each candidate momentum, the running mean/variance it
   would have produced (bias-corrected like Adam's moments, so a slow average is not judged
   by its zero start in a short probe), and each set is scored on the held-out slice. This
   costs no extra training iterations.

The result is an :class:`AutoTuneResult` with the chosen values and
the evidence (the range test, the probes' scores, iterations and seconds spent).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import data as D
from . import lr_finder, models, train
from .errors import ConfigError, check_choice, check_number

DEFAULT_WD = (5e-5, 5e-4, 5e-3)
DEFAULT_BN = (0.01, 0.03, 0.1, 0.3)  # PyTorch convention (Keras: 0.99, 0.97, 0.9, 0.7)


@dataclass
class AutoTuneResult:
    model: str
    max_lr: float
    min_lr: float
    weight_decay: float
    bn_momentum: float
    lr_at_min: float                 # LR at the minimum of the zero-phase smoothed loss
    range_test: lr_finder.RangeTest  # the evidence for the max LR
    lr_probes: list = field(default_factory=list)   # dicts: max_lr, factor, val_acc, val_loss, diverged
    wd_probes: list = field(default_factory=list)   # dicts: weight_decay, val_acc, val_loss, diverged, max_lr
    bn_probes: list = field(default_factory=list)   # dicts: bn_momentum, val_acc, val_loss
    probe_iters: int = 0
    iters_used: int = 0
    budget_iters: int = 0
    seconds: float = 0.0

    def chosen(self) -> dict:
        return dict(max_lr=self.max_lr, min_lr=self.min_lr, weight_decay=self.weight_decay,
                    bn_momentum=self.bn_momentum)

    def lr_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.lr_probes)

    def wd_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.wd_probes)

    def bn_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.bn_probes)


class _BNTracker:
    """Running BatchNorm statistics for several momenta at once, from the same batches."""

    def __init__(self, model: nn.Module, momenta):
        self.momenta = tuple(momenta)
        self.layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                       and m.track_running_stats]
        self.stats = {id(l): {mo: [torch.zeros_like(l.running_mean), torch.zeros_like(l.running_var), 0]
                              for mo in self.momenta} for l in self.layers}
        self.handles = [l.register_forward_pre_hook(self._hook) for l in self.layers]

    @torch.no_grad()
    def _hook(self, layer, inputs):
        if not layer.training:
            return
        x = inputs[0].detach()
        dims = [d for d in range(x.dim()) if d != 1]
        mean = x.mean(dims)
        var = x.var(dims, unbiased=True)
        for mo, s in self.stats[id(layer)].items():
            s[0].mul_(1 - mo).add_(mean, alpha=mo)
            s[1].mul_(1 - mo).add_(var, alpha=mo)
            s[2] += 1

    def remove(self):
        for h in self.handles:
            h.remove()

    @torch.no_grad()
    def load(self, momentum: float):
        """Put the (bias-corrected) statistics of ``momentum`` into the layers."""
        for l in self.layers:
            m, v, t = self.stats[id(l)][momentum]
            corr = 1 - (1 - momentum) ** t if t else 1.0
            l.running_mean.copy_(m / corr)
            l.running_var.copy_(v / corr)


def split(batches: D.Batches, val_fraction: float, seed: int = 0):
    """(train part, held-out part) of a Batches, stratification-free but seeded; the held-out
    part has no augmentation; both use the original normalization."""
    n = batches.num_examples
    n_val = max(1, int(round(n * val_fraction)))
    if n - n_val < batches.batch_size:
        raise ConfigError(f"val_fraction={val_fraction} leaves {n - n_val} training examples, "
                          f"fewer than batch_size={batches.batch_size}")
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    iv, it = perm[:n_val], perm[n_val:]
    imgs, labs = batches.images, batches.labels
    tr = D.Batches(imgs[it], labs[it], batches.batch_size, shuffle=True, flip=batches.flip,
                   crop_pad=batches.crop_pad, seed=seed, device=batches.device,
                   mean=batches.mean, std=batches.std)
    va = D.Batches(imgs[iv], labs[iv], min(1000, n_val), device=batches.device,
                   mean=batches.mean, std=batches.std)
    return tr, va


def _check_grid(name, values, lo, hi=None, hi_open=False, lo_open=False):
    if not isinstance(values, (list, tuple)) or not values:
        raise ConfigError(f"{name} must be a non-empty list of numbers, got {values!r}")
    for v in values:
        check_number(name, v, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open)


def autotune(model_name: str, train_batches: D.Batches, *, budget_iters: int = 600,
             wd_grid=DEFAULT_WD, bn_momenta=DEFAULT_BN, lr_factors=(3.0, 1.0, 1 / 3, 1 / 10, 1 / 30, 1 / 100),
             val_fraction: float = 0.2,
             range_fraction: float = 0.3, start_lr: float = 1e-5, end_lr: float = 10.0,
             momentum: float = 0.9, seed: int = 0, channels_last: bool = False,
             progress: bool = False) -> AutoTuneResult:
    """Choose 003's one-cycle max LR, weight decay and BatchNorm momentum for ``model_name`` on
    ``train_batches`` within ``budget_iters`` SGD steps (see the module docstring).
    ``channels_last``: train the range test and the probes in that memory format (faster for
    CNNs on CPU; the choices are the same up to float rounding)."""
    t0 = time.perf_counter()
    check_choice("model", model_name, models.NAMES)
    if not isinstance(train_batches, D.Batches):
        raise ConfigError(f"train must be an sclib.data.Batches, got {type(train_batches).__name__}")
    check_number("budget_iters", budget_iters, lo=1, integer=True)
    _check_grid("wd_grid", wd_grid, lo=0)
    _check_grid("bn_momenta", bn_momenta, lo=0, hi=1, lo_open=True, hi_open=True)
    _check_grid("lr_factors", lr_factors, lo=0, hi=100, lo_open=True)
    check_number("val_fraction", val_fraction, lo=0, hi=0.5, lo_open=True)
    check_number("range_fraction", range_fraction, lo=0, hi=1, lo_open=True, hi_open=True)
    check_number("start_lr", start_lr, lo=0, lo_open=True)
    check_number("end_lr", end_lr, lo=start_lr, lo_open=True)
    check_number("momentum", momentum, lo=0, hi=1, hi_open=True)
    check_number("seed", seed, lo=0, integer=True)
    if not isinstance(channels_last, bool):
        raise ConfigError(f"channels_last must be true or false, got {channels_last!r}")
    range_iters = int(budget_iters * range_fraction)
    n_probes = len(lr_factors) + len(wd_grid) - 1  # at most: the LR walk may stop early
    min_budget = 20 + 10 * n_probes
    if range_iters < 20 or budget_iters - range_iters < 10 * n_probes:
        raise ConfigError(f"budget_iters={budget_iters} is too small: need >= 20 range-test "
                          f"iterations (range_fraction={range_fraction}) and >= 10 per probe "
                          f"({n_probes} probes: {len(lr_factors)} LR + {len(wd_grid) - 1} more WD), "
                          f"i.e. at least {min_budget} with range_fraction ~{20 / min_budget:.2f}")
    tr, va = split(train_batches, val_fraction, seed)
    nc = int(train_batches.y.max().item()) + 1
    ic = train_batches.x.shape[1]

    def fresh():
        train.seed_everything(seed)
        net = models.create(model_name, num_classes=nc, in_channels=ic).to(tr.x.device)
        return net.to(memory_format=torch.channels_last) if channels_last else net

    # 1. the range test -> candidate max LR
    wd_sorted = sorted(float(w) for w in wd_grid)
    wd_mid = wd_sorted[len(wd_sorted) // 2]
    rt = lr_finder.range_test(fresh(), tr, start_lr=start_lr, end_lr=end_lr, num_iter=range_iters,
                              momentum=momentum, weight_decay=wd_mid)
    used = len(rt.lrs)
    lr_at_min = 10 * lr_finder.suggest(rt, "sclib")
    probe_iters = (budget_iters - used) // n_probes

    def probe(max_lr, wd):
        """A short 003 one-cycle from the seeded init; (record, model, BN tracker, iterations)."""
        net = fresh()
        tracker = _BNTracker(net, bn_momenta)
        # one use of fit: probe_iters steps of 003's one-cycle, stopped if the loss blows up
        h = train.fit(net, tr, epochs=math.ceil(probe_iters / len(tr)), lr=max_lr, momentum=momentum,
                      weight_decay=wd, schedule={"kind": "pipeline"}, max_steps=probe_iters,
                      on_step=lambda i, loss, lr: not math.isfinite(loss), progress=False,
                      channels_last=channels_last)
        ok, n_run = not h.diverged, len(h.loss)
        tracker.remove()
        vl, vacc = train.evaluate(net, va) if ok else (math.nan, 0.0)
        rec = dict(max_lr=float(max_lr), weight_decay=float(wd), val_acc=float(vacc), val_loss=float(vl),
                   diverged=not ok)
        if progress:
            print(f"autotune {model_name}: max_lr={max_lr:.3g} wd={wd:g} val_acc={vacc:.3f}", flush=True)
        return rec, net, tracker, n_run

    def score(rec):  # held-out accuracy, then loss; a blown-up run scores lowest
        bad = rec["diverged"] or not math.isfinite(rec["val_loss"])
        return (-1.0, 0.0) if bad else (rec["val_acc"], -rec["val_loss"])

    # 1b. LR probes at the middle weight decay, walking down from the read-off
    chance = 2.0 / nc
    lr_probes, kept, best_f = [], {}, None
    for f in lr_factors:
        rec, net, tracker, n_run = probe(lr_at_min * f, wd_mid)
        used += n_run
        rec["factor"] = float(f)
        lr_probes.append(rec)
        kept[f] = (rec, net, tracker)
        if best_f is None or score(rec) > score(kept[best_f][0]):
            best_f = f
        elif kept[best_f][0]["val_acc"] >= chance:
            break  # worse than a probe that learned: the best LR is above
    for f in list(kept):
        if f != best_f:
            del kept[f]
    if kept[best_f][0]["diverged"]:
        raise RuntimeError(f"autotune: every LR probe diverged (max LR {lr_at_min:.3g} × {list(lr_factors)})")
    max_lr = lr_at_min * best_f

    # 2. weight-decay probes at the chosen LR (the middle WD is the LR probe already run)
    probes, best = [], None
    for wd in wd_sorted:
        if wd == wd_mid:
            rec, net, tracker = kept[best_f]
            rec = {k: rec[k] for k in ("max_lr", "weight_decay", "val_acc", "val_loss", "diverged")}
        else:
            rec, net, tracker, n_run = probe(max_lr, wd)
            used += n_run
        probes.append(rec)
        if best is None or score(rec) > score(best[0]):
            best = (rec, net, tracker)
        else:
            del net, tracker
    kept = None
    rec, net, tracker = best
    wd_best = rec["weight_decay"]

    # 3. BatchNorm momentum: the winning probe's statistics for every candidate
    bn_probes = []
    if tracker.layers:
        saved = copy.deepcopy(net.state_dict())
        for mo in bn_momenta:
            tracker.load(mo)
            vl, vacc = train.evaluate(net, va)
            bn_probes.append(dict(bn_momentum=float(mo), val_acc=float(vacc), val_loss=float(vl)))
        net.load_state_dict(saved)
        # best accuracy, then lowest loss; ties go to PyTorch's default 0.1
        bn_best = max(bn_probes, key=lambda r: (r["val_acc"], -r["val_loss"], -abs(r["bn_momentum"] - 0.1)))
        bn = bn_best["bn_momentum"]
    else:
        bn = 0.1
    return AutoTuneResult(model=model_name, max_lr=float(max_lr), min_lr=float(max_lr) / 10,
                          weight_decay=wd_best, bn_momentum=float(bn), lr_at_min=float(lr_at_min),
                          range_test=rt, lr_probes=lr_probes, wd_probes=probes, bn_probes=bn_probes,
                          probe_iters=int(probe_iters), iters_used=int(used),
                          budget_iters=int(budget_iters), seconds=time.perf_counter() - t0)
