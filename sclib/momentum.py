"""Momentum as an exponential moving average: the time constant T = -1/ln(beta).

004_939797d3d90f3ccb.txt ("how to interpret momentum term?", AdamW pages) writes the momentum
buffer as m = sum_t beta^t G_t, so a gradient's weight falls below 1/e after T = -1/ln(beta)
steps, and tabulates T for beta = 0.5 ... 0.999. This module

- computes T (:func:`time_constant`);
- measures it on torch's own optimizers: one unit gradient ("impulse") followed by zero
  gradients, reading ``torch.optim.SGD``'s ``momentum_buffer`` and ``torch.optim.Adam``'s
  ``exp_avg`` / ``exp_avg_sq`` after every step (:func:`impulse_response`,
  :func:`steps_below`);
- records, during a real training run, how far Adam's second-moment estimate lags the current
  gradient scale (:class:`Beta2Probe`, :func:`beta2_run`): the seed's "with beta2 = 0.999 you
  need about 1000 iterations to significantly change the updated vector".
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .errors import check_choice, check_number

BETAS = (0.5, 0.9, 0.95, 0.99, 0.995, 0.999)
BUFFERS = ("sgd_momentum", "adam_exp_avg", "adam_exp_avg_sq")


def time_constant(beta: float) -> float:
    """T with beta^T = 1/e, i.e. T = -1/ln(beta)."""
    check_number("beta", beta, lo=0, hi=1, lo_open=True, hi_open=True)
    return -1.0 / math.log(beta)


def impulse_response(buffer: str, beta: float, steps: int) -> np.ndarray:
    """The optimizer's buffer after a unit gradient at step 0 and zero gradients afterwards.

    Returns ``steps + 1`` values: element k is the buffer k steps after the impulse, read from
    the optimizer's state (not computed by a formula). ``buffer`` is one of :data:`BUFFERS`;
    ``beta`` is SGD's momentum, Adam's beta1 (``exp_avg``) or beta2 (``exp_avg_sq``)."""
    check_choice("buffer", buffer, BUFFERS)
    check_number("beta", beta, lo=0, hi=1, lo_open=True, hi_open=True)
    check_number("steps", steps, lo=1, integer=True)
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    if buffer == "sgd_momentum":
        opt = torch.optim.SGD([p], lr=0.0, momentum=beta)
        key = "momentum_buffer"
    else:
        betas = (beta, 0.999) if buffer == "adam_exp_avg" else (0.9, beta)
        opt = torch.optim.Adam([p], lr=0.0, betas=betas)
        key = "exp_avg" if buffer == "adam_exp_avg" else "exp_avg_sq"
    out = []
    for k in range(steps + 1):
        p.grad = torch.ones_like(p) if k == 0 else torch.zeros_like(p)
        opt.step()
        out.append(float(opt.state[p][key].item()))
    return np.asarray(out)


def steps_below(response, level: float = 1 / math.e) -> int:
    """Steps after the impulse until the buffer falls below ``level`` × its value at the
    impulse (first k with response[k] < level·response[0]); -1 if it never does."""
    r = np.asarray(response, dtype=float)
    below = np.flatnonzero(r < level * r[0])
    return int(below[0]) if len(below) else -1


def measured_table(betas=BETAS) -> list[dict]:
    """For each beta: T from the formula and the measured steps to 1/e for each buffer."""
    rows = []
    for b in betas:
        T = time_constant(b)
        n = int(math.ceil(3 * T)) + 2
        row = dict(beta=b, T=T)
        for buf in BUFFERS:
            row[buf] = steps_below(impulse_response(buf, b, n))
        rows.append(row)
    return rows


class Beta2Probe:
    """Watches Adam with a chosen beta2 during :func:`sclib.train.fit`: after every step
    (``on_step``) it records the RMS over all parameters of the current gradient and of Adam's
    bias-corrected second-moment estimate sqrt(v_hat). Their ratio says how far the denominator
    lags the gradient scale (1 = it tracks the current gradients). :meth:`optimizer` builds the
    plain torch Adam it watches (``fit``'s ``optimizer=`` argument)."""

    def __init__(self, beta2: float):
        check_number("beta2", beta2, lo=0, hi=1, lo_open=True, hi_open=True)
        self.beta2 = beta2
        self.grad_rms: list = []
        self.denom_rms: list = []
        self.opt = None

        def optimizer(params, lr, momentum, weight_decay):
            self.opt = torch.optim.Adam(params, lr=lr, betas=(momentum, self.beta2), weight_decay=weight_decay)
            return self.opt
        optimizer.__name__ = f"adam(beta2={beta2})"
        self.optimizer = optimizer

    @torch.no_grad()
    def on_step(self, step=None, loss=None, lr=None) -> bool:
        g2, v2, n = 0.0, 0.0, 0
        for group in self.opt.param_groups:
            b2 = group["betas"][1]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.opt.state[p]
                t = float(st["step"])
                g2 += float(p.grad.pow(2).sum())
                v2 += float(st["exp_avg_sq"].sum()) / (1 - b2 ** t)
                n += p.numel()
        self.grad_rms.append(math.sqrt(g2 / n))
        self.denom_rms.append(math.sqrt(v2 / n))
        return False

    @property
    def lag_ratio(self) -> np.ndarray:
        """sqrt(v_hat) RMS / current gradient RMS, per step."""
        return np.asarray(self.denom_rms) / np.maximum(np.asarray(self.grad_rms), 1e-30)


def beta2_run(*, dataset, model, n_train, n_test, batch_size, epochs, beta2, lr=1e-3, seed=0,
              augment=True, channels_last=False, device=None, root=None, progress=None):
    """Adam (lr 1e-3, beta1 0.9, the defaults 004 quotes) with ``beta2`` on a small run.

    The test set is scored once, after the last epoch (the probe records every step).
    Returns ``(History, Beta2Probe, test accuracy)``."""
    from . import models, train

    tr, te = train.load_batches(dataset, batch_size=batch_size, n_train=n_train, n_test=n_test,
                                seed=seed, augment=augment, device=device, root=root, test_batch_size=250)
    train.seed_everything(seed)
    net = models.create(model, num_classes=int(tr.y.max().item()) + 1, in_channels=tr.x.shape[1])
    probe = Beta2Probe(beta2)
    h = train.fit(net, tr, None, epochs=epochs, lr=lr, optimizer=probe.optimizer, momentum=0.9,
                  channels_last=channels_last, on_step=probe.on_step, progress=progress,
                  desc=f"Adam beta2={beta2}", config=dict(dataset=dataset, model=model, seed=seed, beta2=beta2))
    acc = float("nan") if h.diverged else train.evaluate(net, te)[1]
    return h, probe, acc
