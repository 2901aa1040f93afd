"""Super-convergence pieces: 003's one-cycle schedule and the accuracy-vs-LR range test. (Time to
target and speed verdicts: :func:`sclib.experiments.speed`, :func:`sclib.experiments.tta_rows`.)

003's schedule (``003_4ce0f1eb6a214195.txt``, One Cycle description), read literally: the LR
rises linearly from ``min`` to ``max`` until 50% of all iterations, falls back to ``min`` at 90%,
and in the last 10% is "annihilated" to ``min / 100``; ``min = max / 10``. sclib's ``onecycle``
spec (torch ``OneCycleLR``) cannot put the peak at 50% *and* keep a 10% tail: its three phases
are ``pct_start``, ``pct_start`` and ``1 - 2 pct_start`` of the run (0.45 gives 45/45/10, the
reading of keras-one-cycle, which 002 cites). :func:`pipeline_lrs` computes the literal
schedule and :class:`ScheduledSGD` applies it inside :func:`sclib.train.fit` (through its
optimizer-factory argument, with the ``constant`` schedule), so ``History.lr`` records it.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import models, train
from .errors import ConfigError, check_number


# ---------------------------------------------------------------- 003's schedule
def pipeline_lrs(max_lr: float, total_steps: int, *, min_ratio: float = 0.1, final_ratio: float = 0.01,
                 peak: float = 0.5, tail: float = 0.1) -> np.ndarray:
    """The LR of every iteration of 003's one-cycle: min -> max at ``peak``, back to min at
    ``1 - tail``, then down to ``min * final_ratio`` at the last iteration (piecewise linear)."""
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


class ScheduledSGD(torch.optim.SGD):
    """SGD whose LR follows a precomputed per-iteration list (one entry per ``step``)."""

    def __init__(self, params, lrs, momentum: float = 0.9, weight_decay: float = 0.0):
        self.lrs = [float(v) for v in lrs]
        if not self.lrs:
            raise ConfigError("lrs must hold at least one learning rate")
        super().__init__(params, lr=self.lrs[0], momentum=momentum, weight_decay=weight_decay)
        self.t = 0

    @torch.no_grad()
    def step(self, closure=None):
        loss = super().step(closure)
        self.t += 1
        lr = self.lrs[min(self.t, len(self.lrs) - 1)]
        for g in self.param_groups:
            g["lr"] = lr
        return loss


def scheduled_sgd(lrs):
    """An optimizer factory for :func:`sclib.train.fit` (``optimizer=``) applying ``lrs``."""
    def make(params, lr, momentum, weight_decay):
        return ScheduledSGD(params, lrs, momentum=momentum, weight_decay=weight_decay)
    make.__name__ = "sgd-scheduled"
    return make


def set_bn_momentum(model: nn.Module, momentum: float) -> int:
    """Set every BatchNorm layer's momentum (PyTorch convention: weight of the new batch;
    Keras' ``momentum`` is 1 minus this). Returns the number of layers changed."""
    check_number("bn_momentum", momentum, lo=0, hi=1, lo_open=True)
    n = 0
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum
            n += 1
    return n


# ---------------------------------------------------------------- runs
_BATCHES: dict = {}


def batches(dataset, *, batch_size, n_train=None, n_test=None, seed=0, device=None, root=None):
    """:func:`sclib.train.load_batches`, memoized (a chapter trains many runs on one subset)."""
    key = (dataset, batch_size, n_train, n_test, seed, str(device), root)
    if key not in _BATCHES:
        _BATCHES[key] = train.load_batches(dataset, batch_size=batch_size, n_train=n_train,
                                           n_test=n_test, seed=seed, device=device, root=root)
    return _BATCHES[key]


def run(*, dataset: str, model: str, epochs: int, batch_size: int, lr: float, schedule="pipeline",
        seed: int = 0, momentum: float = 0.9, weight_decay: float = 0.0, bn_momentum=None,
        n_train=None, n_test=None, device=None, root=None, progress=False, desc=""):
    """One seeded run. ``schedule="pipeline"`` is 003's one-cycle with max LR ``lr``; anything
    else is an sclib schedule spec with base LR ``lr``. ``bn_momentum`` None keeps PyTorch's 0.1."""
    tr, te = batches(dataset, batch_size=batch_size, n_train=n_train, n_test=n_test, seed=seed,
                     device=device, root=root)
    train.seed_everything(seed)
    net = models.create(model, num_classes=int(tr.y.max().item()) + 1, in_channels=tr.x.shape[1])
    if bn_momentum is not None:
        set_bn_momentum(net, bn_momentum)
    opt = "sgd"
    cfg = dict(dataset=dataset, model=model, seed=seed, n_test=te.num_examples, bn_momentum=bn_momentum)
    if schedule == "pipeline":
        opt = scheduled_sgd(pipeline_lrs(lr, epochs * len(tr)))
        cfg["pipeline_max_lr"] = lr
        schedule = "constant"
    return train.fit(net, tr, te, epochs=epochs, lr=lr, optimizer=opt, momentum=momentum,
                     weight_decay=weight_decay, schedule=schedule, progress=progress, desc=desc,
                     config=cfg)


# ---------------------------------------------------------------- accuracy range test
def accuracy_range_test(model, train_batches, test_batches, *, start_lr: float = 0.0,
                        end_lr: float = 3.0, num_iter: int = 100, n_evals: int = 10,
                        momentum: float = 0.9, weight_decay: float = 1e-4) -> dict:
    """Smith & Topin's range test read by *accuracy*: the LR grows linearly from ``start_lr`` to
    ``end_lr`` over ``num_iter`` iterations and the test accuracy is measured ``n_evals`` times
    on the way. The model is unchanged afterwards. Returns lists ``lr``, ``acc`` (at the
    evaluations) and per-iteration ``iter_lr``, ``loss``; ``diverged`` when the loss blew up."""
    check_number("start_lr", start_lr, lo=0)
    check_number("end_lr", end_lr, lo=start_lr, lo_open=True)
    check_number("num_iter", num_iter, lo=2, integer=True)
    check_number("n_evals", n_evals, lo=1, hi=num_iter, integer=True)
    saved = copy.deepcopy(model.state_dict())
    lrs = np.linspace(start_lr, end_lr, num_iter)
    opt = ScheduledSGD(model.parameters(), lrs, momentum=momentum, weight_decay=weight_decay)
    eval_at = set(np.linspace(num_iter / n_evals, num_iter, n_evals).round().astype(int).tolist())
    out = dict(lr=[], acc=[], iter_lr=[], loss=[], diverged=False)
    i, epoch = 0, 0
    try:
        while i < num_iter:
            train_batches.set_epoch(epoch)
            for x, y in train_batches:
                model.train()
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                out["iter_lr"].append(float(opt.param_groups[0]["lr"]))
                opt.step()
                v = float(loss.item())
                out["loss"].append(v)
                i += 1
                if not math.isfinite(v):
                    out["diverged"] = True
                if i in eval_at:
                    acc = 0.0 if out["diverged"] else train.evaluate(model, test_batches)[1]
                    out["lr"].append(out["iter_lr"][-1])
                    out["acc"].append(acc)
                if i >= num_iter or out["diverged"]:
                    break
            if out["diverged"]:
                break
            epoch += 1
    finally:
        model.load_state_dict(saved)
    return out


def plateau_lr(rt: dict, frac: float = 0.9) -> float:
    """The largest LR of an accuracy range test whose accuracy is still ``frac`` × the peak
    (the right end of the plateau that marks super-convergence in Smith & Topin's Fig. 2b)."""
    check_number("frac", frac, lo=0, hi=1, lo_open=True)
    acc = np.asarray(rt["acc"], dtype=float)
    lr = np.asarray(rt["lr"], dtype=float)
    if len(acc) == 0:
        raise ValueError("accuracy range test has no evaluations")
    peak = int(np.argmax(acc))
    ok = acc >= frac * acc[peak]
    j = peak
    while j + 1 < len(acc) and ok[j + 1]:
        j += 1
    return float(lr[j])
