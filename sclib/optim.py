"""Decoupled weight decay (Loshchilov & Hutter), as transcribed in ``004`` (the AdamW pages):
SGDW, its L2 twin, torch's Adam/AdamW in the paper's units, no-bias-decay groups, and a small
training loop that records gradient and weight norms (the stationary-state argument).

Parameterizations
-----------------
The seed's Algorithms 1 and 2 use three symbols: the initial learning rate ``α``, a schedule
multiplier ``η_t`` and a weight-decay / L2 factor ``w``. Here is how every optimizer in this
module, and torch's, maps onto them.

- :class:`SGDW` ``(lr, momentum, weight_decay)`` is Algorithm 1 with line 9's decoupled term:
  ``α = lr`` as given to the constructor (kept in each param group as ``"alpha"``),
  ``β1 = momentum``, ``w = weight_decay`` **as the paper's w**: the fraction of the weights
  removed per step at ``η_t = 1``, *not* multiplied by ``α``. ``η_t`` is read at every step as
  ``group["lr"] / group["alpha"]``: torch's LR schedulers (``sclib.schedules``) write
  ``η_t·α`` into ``group["lr"]``, so dividing by the constructor's ``lr`` recovers the
  multiplier, and the schedule scales both the gradient step (line 8) and the decay (line 9),
  as Algorithm 1 requires. (``alpha`` rather than torch's ``initial_lr``, which one-cycle
  overwrites with its own starting LR.)
- :class:`SGDL2`: the same Algorithm 1 with line 6's L2 term ``g_t = ∇f + w x`` instead.
  ``torch.optim.SGD(weight_decay=w)`` is also SGD+L2, but with torch's momentum convention
  (``b ← β1 b + g``, ``x ← x − lr·b``): identical iterates while the LR is constant; when it
  changes, torch rescales the whole buffer by the current LR, the paper only the new term.
- ``torch.optim.Adam(weight_decay=w)`` is Algorithm 2 with line 6 (Adam+L2), exactly, with ``w``
  in the paper's units.
- ``torch.optim.AdamW(lr, weight_decay=λ)`` computes ``x ← x − lr·λ·x − lr·m̂/(√v̂+ε)`` with
  ``lr = η_t·α``: its decay per step is ``η_t·α·λ``; Algorithm 2 line 12 decays by ``η_t·w``.
  So ``w = α·λ`` and ``λ = w/α`` (:func:`torch_adamw_wd`, :func:`paper_w_from_torch_adamw`):
  torch's λ is coupled to the initial LR, the paper's ``w`` is not. This matters for the
  separability figure: on torch's λ axis the best decay would move with the LR by construction.
- SGD+L2 vs SGDW: with momentum 0, L2 removes ``η_t·α·w_L2`` of the weights per step, SGDW
  ``η_t·w``: the iterates coincide iff ``w = α·w_L2`` (:func:`decoupled_from_l2`), for any
  schedule (``η_t`` scales both). With momentum they differ: L2's decay goes through the
  momentum buffer, SGDW's does not.

:func:`make` builds the callables ``(params, lr=, momentum=, weight_decay=) -> Optimizer`` that
``sclib.train.fit``/``run`` accept as ``optimizer``, with ``weight_decay`` always in the paper's
units (``w`` of Algorithms 1-2); ``momentum`` is Adam's β1 for the Adam family.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .errors import ConfigError, check_choice, check_number

NORM_LAYERS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm,
               nn.modules.instancenorm._InstanceNorm, nn.LocalResponseNorm)


# ----------------------------------------------------------------- conversions
def torch_adamw_wd(w: float, lr: float) -> float:
    """Torch ``AdamW(weight_decay=)`` that equals Algorithm 2's ``w`` at initial LR ``lr`` (α)."""
    check_number("lr", lr, lo=0, lo_open=True)
    return w / lr


def paper_w_from_torch_adamw(weight_decay: float, lr: float) -> float:
    """Algorithm 2's ``w`` for torch ``AdamW(lr=lr, weight_decay=weight_decay)``."""
    return weight_decay * lr


def decoupled_from_l2(w_l2: float, lr: float) -> float:
    """SGDW's ``w`` that gives the same iterates as plain SGD with L2 factor ``w_l2`` at LR ``lr``."""
    return w_l2 * lr


def l2_from_decoupled(w: float, lr: float) -> float:
    """Inverse of :func:`decoupled_from_l2`."""
    check_number("lr", lr, lo=0, lo_open=True)
    return w / lr


# ----------------------------------------------------------------- Algorithm 1
class SGDW(torch.optim.Optimizer):
    """SGD with decoupled weight decay: Algorithm 1 of ``004`` (see the module docstring).

    Per step, for every parameter ``x`` with gradient ``∇f``::

        η_t = lr_t / α                          # line 7, read from the group
        g   = ∇f                                # line 6 (plus w·x in the L2 variant)
        m   = β1·m + η_t·α·g                    # line 8
        x   = x − m − η_t·w·x                   # line 9 (no decay term in the L2 variant)
    """

    decoupled = True

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        check_number("lr", lr, lo=0, lo_open=True)
        check_number("momentum", momentum, lo=0, hi=1, hi_open=True)
        check_number("weight_decay", weight_decay, lo=0)
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))
        for g in self.param_groups:
            check_number("lr", g["lr"], lo=0, lo_open=True)
            g.setdefault("alpha", g["lr"])  # α: the LR the schedule multiplier is relative to

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, alpha = group["lr"], group["alpha"]
            eta = lr / alpha                     # line 7: η_t, set by the schedule
            beta1, w = group["momentum"], group["weight_decay"]
            for x in group["params"]:
                if x.grad is None:
                    continue
                g = x.grad
                if w and not self.decoupled:
                    g = g.add(x, alpha=w)        # line 6: L2 term enters the gradient
                state = self.state[x]
                if "m" not in state:
                    state["m"] = torch.zeros_like(x)
                m = state["m"]
                m.mul_(beta1).add_(g, alpha=eta * alpha)   # line 8 (η_t·α = lr)
                if w and self.decoupled:
                    x.mul_(1.0 - eta * w)        # line 9's −η_t·w·x_{t-1}, before m is applied
                x.sub_(m)                        # line 9's −m_t
        return loss


class SGDL2(SGDW):
    """SGD with L2 regularization in Algorithm 1's own momentum convention (line 6 variant)."""

    decoupled = False


# ----------------------------------------------------------------- parameter groups
def _no_decay_names(model: nn.Module) -> set:
    names = set()
    for mname, mod in model.named_modules():
        for pname, p in mod.named_parameters(recurse=False):
            full = f"{mname}.{pname}" if mname else pname
            if pname == "bias" or isinstance(mod, NORM_LAYERS) or p.ndim <= 1:
                names.add(full)
    return names


def param_groups(model, weight_decay: float, no_bias_decay: bool = True) -> list:
    """Parameter groups: decay on weights, none on biases and normalization scales/shifts.

    ``model`` is an ``nn.Module`` (biases and the parameters of normalization layers are found
    by name and layer type) or an iterable of tensors, as ``fit`` passes to an optimizer
    callable (then every tensor with ``ndim <= 1`` counts as a bias or norm parameter, which
    is what they are in every model of ``sclib.models``). With ``no_bias_decay=False`` one
    group gets ``weight_decay``. Empty groups are left out.
    """
    check_number("weight_decay", weight_decay, lo=0)
    if not isinstance(no_bias_decay, bool):
        raise ConfigError(f"no_bias_decay must be True or False, got {no_bias_decay!r}")
    if isinstance(model, nn.Module):
        skip = _no_decay_names(model) if no_bias_decay else set()
        named = list(model.named_parameters())
        decay = [p for n, p in named if n not in skip]
        rest = [p for n, p in named if n in skip]
    else:
        params = [p for p in model]
        if params and isinstance(params[0], dict):
            raise ConfigError("param_groups takes a model or an iterable of tensors, not groups")
        decay = [p for p in params if not (no_bias_decay and p.ndim <= 1)]
        rest = [p for p in params if no_bias_decay and p.ndim <= 1]
    groups = [dict(params=decay, weight_decay=weight_decay)]
    if rest:
        groups.append(dict(params=rest, weight_decay=0.0))
    return [g for g in groups if g["params"]]


# ----------------------------------------------------------------- factories for fit/run
METHODS = ("sgd_l2", "sgdw", "torch_sgd", "adam_l2", "adamw")
DECOUPLED = {"sgd_l2": False, "sgdw": True, "torch_sgd": False, "adam_l2": False, "adamw": True}


def make(method: str, no_bias_decay: bool = False):
    """A callable ``(params, lr=, momentum=, weight_decay=) -> Optimizer`` for ``sclib.train``.

    ``weight_decay`` is in the paper's units for every method (``w`` of Algorithms 1-2: the L2
    factor for ``sgd_l2``/``torch_sgd``/``adam_l2``, the decoupled per-step decay at η_t = 1 for
    ``sgdw``/``adamw``); ``adamw`` converts it to torch's ``λ = w/α``. ``momentum`` is β1
    (Adam's first-moment factor for the Adam family; β2 = 0.999, ε = 1e-8 as in Algorithm 2).
    """
    check_choice("method", method, METHODS)
    if not isinstance(no_bias_decay, bool):
        raise ConfigError(f"no_bias_decay must be True or False, got {no_bias_decay!r}")

    def build(params, lr, momentum, weight_decay):
        groups = param_groups(params, weight_decay, no_bias_decay)
        if method == "sgdw":
            return SGDW(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
        if method == "sgd_l2":
            return SGDL2(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
        if method == "torch_sgd":
            return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
        betas = (momentum, 0.999)
        if method == "adam_l2":
            return torch.optim.Adam(groups, lr=lr, betas=betas, eps=1e-8, weight_decay=weight_decay)
        for g in groups:  # the paper's w -> torch's λ, per group (0 stays 0)
            g["weight_decay"] = torch_adamw_wd(g["weight_decay"], lr)
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=1e-8)

    build.__name__ = method + ("+nbd" if no_bias_decay else "")
    return build


# ----------------------------------------------------------------- norms over training
def _flat(ts):
    return torch.cat([t.reshape(-1) for t in ts]) if ts else torch.zeros(0)


def track_norms(*, dataset: str, model: str, epochs: int, batch_size: int, lr: float,
                method: str, momentum: float, weight_decay: float, n_train=None, n_test=None,
                seed: int = 0, device=None, root=None, tail_epochs: int = 1) -> dict:
    """Train like ``sclib.train.run`` with a constant LR (a stationary state needs a fixed η_t)
    and record, every step, the norm of the loss gradient ``∇f`` (the decay/L2 term excluded)
    and the norm of the decayed weights (``ndim > 1``), for all of them and for the classifier
    head alone (the last ``nn.Linear``; in ``sclib.models`` every other weight feeds a BatchNorm,
    which makes the loss invariant to its scale and its gradient orthogonal to it).

    Over the last ``tail_epochs`` it also averages the gradient, ``ḡ``, and compares it with
    the fixed point of the seed's argument: for SGDW with momentum β1 at constant LR α,
    ``x = x − m − w·x`` and ``m = β1·m + α·ḡ`` give ``ḡ = −(1−β1)·(w/α)·x`` (β1 = 0: the seed's
    ``∂L/∂W = −βW`` with β = w/α). Returned: per-step lists and ``cos`` (cosine of ḡ with −x)
    and ``ratio`` (‖ḡ‖ over the predicted norm) per group, the final test accuracy and
    ``num_classes``.
    """
    from . import models as M
    from . import train as T

    check_number("epochs", epochs, lo=1, integer=True)
    check_number("tail_epochs", tail_epochs, lo=1, hi=epochs, integer=True)
    tr, te = T.load_batches(dataset, batch_size=batch_size, n_train=n_train, n_test=n_test,
                            seed=seed, device=device, root=root)
    T.seed_everything(seed)
    net = M.create(model, num_classes=int(tr.y.max().item()) + 1, in_channels=tr.x.shape[1])
    net.to(tr.x.device)
    head = [m for m in net.modules() if isinstance(m, nn.Linear)][-1].weight
    decayed = [p for p in net.parameters() if p.ndim > 1]
    sets = {"all weights": decayed, "head": [head]}
    out = {"grad_norm": {k: [] for k in sets}, "weight_norm": {k: [] for k in sets}, "loss": []}
    spe = len(tr)
    tail_start = (epochs - tail_epochs) * spe
    gsum = [torch.zeros_like(p) for p in decayed]
    with torch.no_grad():  # the weights the next gradient is taken at
        at = {k: float(_flat(ps).norm()) for k, ps in sets.items()}

    @torch.no_grad()
    def on_step(i, loss, lr):
        # after the step: p.grad still holds this step's loss gradient (no optimizer here changes
        # it in place; the decay/L2 term is added out of place), the weights have moved on
        for k, ps in sets.items():
            out["grad_norm"][k].append(float(_flat([p.grad for p in ps]).norm()))
            out["weight_norm"][k].append(at[k])
            at[k] = float(_flat(ps).norm())
        if i >= tail_start:
            for s, p in zip(gsum, decayed):
                s.add_(p.grad)
        out["loss"].append(loss)
        return False

    T.fit(net, tr, epochs=epochs, lr=lr, optimizer=make(method), momentum=momentum,
          weight_decay=weight_decay, on_step=on_step, progress=False)
    step = len(out["loss"])
    n_tail = step - tail_start
    beta1 = momentum if method in ("sgdw", "sgd_l2", "torch_sgd") else float("nan")
    w_over_alpha = (weight_decay / lr if DECOUPLED[method] else weight_decay)
    idx = {id(p): i for i, p in enumerate(decayed)}
    out["stationary"] = {}
    with torch.no_grad():
        for k, ps in sets.items():
            gbar = _flat([gsum[idx[id(p)]] / n_tail for p in ps])
            xs = _flat([p for p in ps])
            cos = float(torch.dot(gbar, -xs) / (gbar.norm() * xs.norm() + 1e-30))
            pred = (1 - beta1) * w_over_alpha * float(xs.norm())
            out["stationary"][k] = dict(gbar_norm=float(gbar.norm()), cos=cos,
                                        predicted_norm=pred,
                                        ratio=float(gbar.norm()) / pred if pred > 0 else math.inf)
    _, acc = T.evaluate(net, te)
    out["test_acc"] = acc
    out["num_classes"] = int(head.shape[0])  # 1/num_classes: the chance level of test_acc
    out["steps_per_epoch"] = spe
    return out
