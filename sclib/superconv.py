"""Super-convergence pieces: 003's one-cycle schedule and the accuracy-vs-LR range test. (Time to
target and speed verdicts: :func:`sclib.experiments.speed`, :func:`sclib.experiments.tta_rows`.)

003's schedule (``003_4ce0f1eb6a214195.txt``, One Cycle description), read literally: the LR
rises linearly from ``min`` to ``max`` until 50% of all iterations, falls back to ``min`` at 90%,
and in the last 10% is "annihilated" to ``min / 100``; ``min = max / 10``. sclib's ``onecycle``
spec (torch ``OneCycleLR``) cannot put the peak at 50% *and* keep a 10% tail: its three phases
are ``pct_start``, ``pct_start`` and ``1 - 2 pct_start`` of the run (0.45 gives 45/45/10, the
reading of keras-one-cycle, which 002 cites). The literal schedule is sclib's ``pipeline``
schedule kind (:func:`sclib.schedules.pipeline_lrs`, re-exported here as :func:`pipeline_lrs`), so
``History`` records it; the accuracy range test is a use of :func:`sclib.train.fit` too.
"""
from __future__ import annotations

import copy
import math

import numpy as np
from torch import nn

from . import models, schedules, train
from .errors import check_number


# ---------------------------------------------------------------- 003's schedule
# 003's one-cycle is the ``pipeline`` schedule kind of sclib.schedules (so the History records
# it); pipeline_lrs is its table.
pipeline_lrs = schedules.pipeline_lrs


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
        n_train=None, n_test=None, device=None, root=None, progress=False, desc="",
        channels_last: bool = False):
    """One seeded run. ``schedule="pipeline"`` is 003's one-cycle with max LR ``lr``; anything
    else is an sclib schedule spec with base LR ``lr``. ``bn_momentum`` None keeps PyTorch's 0.1.
    ``channels_last``: the memory format that trains CIFAR ResNets ~1.5× faster on CPU."""
    tr, te = batches(dataset, batch_size=batch_size, n_train=n_train, n_test=n_test, seed=seed,
                     device=device, root=root)
    train.seed_everything(seed)
    net = models.create(model, num_classes=int(tr.y.max().item()) + 1, in_channels=tr.x.shape[1])
    if bn_momentum is not None:
        set_bn_momentum(net, bn_momentum)
    cfg = dict(dataset=dataset, model=model, seed=seed, n_test=te.num_examples, bn_momentum=bn_momentum)
    return train.fit(net, tr, te, epochs=epochs, lr=lr, optimizer="sgd", momentum=momentum,
                     weight_decay=weight_decay, schedule=schedule, progress=progress, desc=desc,
                     config=cfg, channels_last=channels_last)


# ---------------------------------------------------------------- accuracy range test
def accuracy_range_test(model, train_batches, test_batches, *, start_lr: float = 0.0,
                        end_lr: float = 3.0, num_iter: int = 100, n_evals: int = 10,
                        momentum: float = 0.9, weight_decay: float = 1e-4,
                        channels_last: bool = False) -> dict:
    """Smith & Topin's range test read by *accuracy*: the LR grows linearly from ``start_lr`` to
    ``end_lr`` over ``num_iter`` iterations and the test accuracy is measured ``n_evals`` times
    on the way. The model is unchanged afterwards. Returns lists ``lr``, ``acc`` (at the
    evaluations) and per-iteration ``iter_lr``, ``loss``; ``diverged`` when the loss blew up."""
    check_number("start_lr", start_lr, lo=0)
    check_number("end_lr", end_lr, lo=start_lr, lo_open=True)
    check_number("num_iter", num_iter, lo=2, integer=True)
    check_number("n_evals", n_evals, lo=1, hi=num_iter, integer=True)
    eval_at = set(np.linspace(num_iter / n_evals, num_iter, n_evals).round().astype(int).tolist())
    out = dict(lr=[], acc=[], iter_lr=[], loss=[], diverged=False)

    def on_step(i: int, loss: float, lr: float) -> bool:
        out["iter_lr"].append(lr)
        out["loss"].append(loss)
        out["diverged"] = out["diverged"] or not math.isfinite(loss)
        if i + 1 in eval_at:
            acc = 0.0 if out["diverged"] else train.evaluate(model, test_batches)[1]
            model.train()  # evaluate() switched to eval mode; the sweep goes on training
            out["lr"].append(lr)
            out["acc"].append(acc)
        return out["diverged"]

    saved = copy.deepcopy(model.state_dict())
    try:  # one use of fit: a linear LR sweep, evaluated on the way by the hook
        train.fit(model, train_batches, epochs=math.ceil(num_iter / len(train_batches)), lr=end_lr,
                  momentum=momentum, weight_decay=weight_decay, max_steps=num_iter, on_step=on_step,
                  schedule={"kind": "linear", "start_lr": start_lr, "end_lr": end_lr}, progress=False,
                  channels_last=channels_last)
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
