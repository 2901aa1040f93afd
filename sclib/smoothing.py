"""Label smoothing: the seed's 3-sample toy model worked out exactly, and the same measurements
on networks trained on real data.

Source: the label-smoothing pages of ``004_939797d3d90f3ccb.txt``. The smoothed target is
q'(k) = (1 - ε)·δ(k, y) + ε/K, which is what ``torch.nn.CrossEntropyLoss(label_smoothing=ε)``
uses: loss = (1 - ε)·H(q, p) + ε·H(u, p).

The toy problem: x = [1, 0, 1] → class 0, [1, 0, -1] → 1, [0, 1, 0] → 2, model softmax(W x),
W = a·[[1, 0, 1], [1, 0, -1], [0, 2, 0]], so every sample gets logit 2a on its class and 0 on
the other K - 1 = 2. Writing s = e^{2a}, p(true) = s / (s + K - 1), p(other) = 1 / (s + K - 1):

- plain CE:    L_CE(a) = log(1 + (K - 1)·e^{-2a})
- smoothed:    L_LS(a) = -Σ_k q'(k) log p(k) = log(s + K - 1) - 2a·q'(true),
               q'(true) = 1 - ε + ε/K          (because Σ_k q'(k) = 1)
               dL/da = 2·(p(true) - q'(true)) = 0  ⇔  p(true) = q'(true)
               a*(ε, K) = ½·log(1 + K(1 - ε)/ε)
- the slide:   (1 - ε)·log(1 + 2e^{-2a}) + (2ε/3)·log(2 + e^{2a}), which is the cross-entropy
               against the vector (1 - ε, ε/3, ε/3): it leaves out the ε/K that smoothing also
               puts on the true class (that vector sums to 1 - ε/3, not 1). It differs from
               L_LS by exactly (ε/3)·L_CE(a).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import calibration, train
from .experiments import sweep
from .errors import ConfigError, check_number

#: Real-data smoothing strengths of the issue (0 is the plain-CE baseline).
EPSILONS = (0.0, 0.05, 0.1, 0.2)

# The toy problem as printed on the slide (rows of TOY_X are the samples).
TOY_X = ((1.0, 0.0, 1.0), (1.0, 0.0, -1.0), (0.0, 1.0, 0.0))
TOY_Y = (0, 1, 2)
#: The slide's solution, W = a·W_SLIDE.
W_SLIDE = ((1.0, 0.0, 1.0), (1.0, 0.0, -1.0), (0.0, 2.0, 0.0))
#: The slide's "information compression" alternative, W = a·W_COMPRESSED.
W_COMPRESSED = ((2.0, 0.0, 0.0), (0.0, 0.0, -2.0), (0.0, 2.0, 0.0))
_WS = {"slide": W_SLIDE, "compressed": W_COMPRESSED}
_DT = torch.float64  # the toy is tiny: float64 lets the checks against torch go to ~1e-12


def _check_eps(eps, name="eps"):
    check_number(name, eps, lo=0, hi=1)


def _check_k(k):
    check_number("K", k, lo=2, integer=True)


# ---------------------------------------------------------------- closed forms
def smoothed_targets(y, num_classes: int, eps: float) -> torch.Tensor:
    """q'(k) = (1 - ε)·δ(k, y) + ε/K for each label in ``y`` (N×K, float64)."""
    _check_eps(eps)
    _check_k(num_classes)
    onehot = F.one_hot(torch.as_tensor(y), num_classes).to(_DT)
    return (1 - eps) * onehot + eps / num_classes


def loss_ce(a, K: int = 3):
    """L_CE(a) = log(1 + (K-1)·e^{-2a}), written with logaddexp so that large |a| is exact."""
    _check_k(K)
    return np.logaddexp(0.0, math.log(K - 1) - 2 * np.asarray(a, dtype=float))


def loss_ls(a, eps: float, K: int = 3):
    """Our derivation: L_LS(a) = log(e^{2a} + K - 1) - 2a·(1 - ε + ε/K)."""
    _check_eps(eps)
    _check_k(K)
    a = np.asarray(a, dtype=float)
    return np.logaddexp(2 * a, math.log(K - 1)) - 2 * a * (1 - eps + eps / K)


def loss_ls_slide(a, eps: float):
    """The expression printed on the slide (K = 3): (1-ε)·log(1+2e^{-2a}) + (2ε/3)·log(2+e^{2a})."""
    _check_eps(eps)
    a = np.asarray(a, dtype=float)
    return (1 - eps) * np.logaddexp(0.0, math.log(2) - 2 * a) + (2 * eps / 3) * np.logaddexp(math.log(2), 2 * a)


def a_star(eps: float, K: int = 3) -> float:
    """Minimiser of L_LS: p(true) = q'(true) ⇔ a* = ½·log(1 + K(1-ε)/ε); inf for ε = 0."""
    _check_eps(eps)
    _check_k(K)
    return math.inf if eps == 0 else 0.5 * math.log1p(K * (1 - eps) / eps)


def gap_star(eps: float, K: int) -> float:
    """The optimal gap between the true class's logit and every other under label smoothing
    (Bag of Tricks Fig. 4, top, with torch's q' = (1-ε)·δ + ε/K): log(q'(true)/q'(other)) =
    log(1 + K(1-ε)/ε) = 2·a*(ε, K); inf for ε = 0 (plain CE wants an unbounded gap)."""
    return 2 * a_star(eps, K)


def a_star_slide(eps: float) -> float:
    """Stationary point of the slide's expression: ½·log(3(1-ε)/ε) (negative for ε > 3/4)."""
    _check_eps(eps)
    if eps == 0:
        return math.inf
    if eps == 1:
        return -math.inf
    return 0.5 * math.log(3 * (1 - eps) / eps)


def min_loss(eps: float, K: int = 3) -> float:
    """L_LS(a*) = entropy of q': the smallest value any W can reach (p = q' on every sample)."""
    _check_eps(eps)
    _check_k(K)
    q = [1 - eps + eps / K] + [eps / K] * (K - 1)
    return -sum(v * math.log(v) for v in q if v > 0)


# ---------------------------------------------------------------- the toy in torch
def toy_W(a, which: str = "slide") -> torch.Tensor:
    """a·W_SLIDE or a·W_COMPRESSED as a float64 tensor (``a`` may be a tensor with grad)."""
    if which not in _WS:
        raise ConfigError(f"which={which!r} is not one of: {', '.join(_WS)}")
    return torch.as_tensor(a, dtype=_DT) * torch.tensor(_WS[which], dtype=_DT)


def toy_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(TOY_X, dtype=_DT), torch.tensor(TOY_Y)


def torch_loss(W: torch.Tensor, eps: float, target: str = "torch") -> torch.Tensor:
    """Mean loss of softmax(W x) on the three samples, computed by torch.

    ``target="torch"``: ``F.cross_entropy(..., label_smoothing=ε)``, the definition.
    ``target="slide"``: cross-entropy against (1-ε) on the true class and ε/K on the others,
    the target the slide's expression corresponds to (used to locate the slip).
    """
    _check_eps(eps)
    x, y = toy_inputs()
    z = x @ W.T
    if target == "torch":
        return F.cross_entropy(z, y, label_smoothing=eps)
    if target == "slide":
        K = z.shape[1]
        q = (1 - eps) * F.one_hot(y, K).to(_DT) + (eps / K) * (1 - F.one_hot(y, K).to(_DT))
        return F.cross_entropy(z, q)
    raise ConfigError(f"target={target!r} is not one of: torch, slide")


def torch_loss_on_grid(a_values, eps: float, which: str = "slide", target: str = "torch") -> np.ndarray:
    return np.array([torch_loss(toy_W(float(a), which), eps, target).item() for a in a_values])


def optimum_autograd(eps: float, a0: float = 0.0, max_iter: int = 200) -> float:
    """argmin over the scalar a of torch's smoothed loss of a·W_SLIDE, by L-BFGS on autograd."""
    _check_eps(eps)
    a = torch.tensor(float(a0), dtype=_DT, requires_grad=True)
    opt = torch.optim.LBFGS([a], lr=1.0, max_iter=max_iter, tolerance_grad=1e-13,
                            tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch_loss(toy_W(a), eps)
        loss.backward()
        return loss

    opt.step(closure)
    return a.item()


@dataclass
class GDRun:
    """Plain full-batch gradient descent on the whole 3×3 W (what was recorded, log-spaced)."""

    eps: float
    step: list = field(default_factory=list)
    norm: list = field(default_factory=list)       # Frobenius norm of W
    loss: list = field(default_factory=list)       # the loss being minimised
    max_prob: list = field(default_factory=list)   # mean over the 3 samples of max softmax
    W0: list = field(default_factory=list)
    W: list = field(default_factory=list)          # final W

    @property
    def a_hat(self) -> float:
        return half_gap(torch.tensor(self.W, dtype=_DT))


def half_gap(W: torch.Tensor) -> float:
    """Half the gap between the true-class logit and the others, averaged over the samples:
    equals a for any W equivalent to a·W_SLIDE."""
    x, y = toy_inputs()
    z = x @ W.T
    K = z.shape[1]
    true = z.gather(1, y.view(-1, 1)).squeeze(1)
    others = (z.sum(1) - true) / (K - 1)
    return float(((true - others) / 2).mean())


def residual_to_family(W: torch.Tensor, a: float, which: str = "slide") -> float:
    """How far W is from the set {a·W_SLIDE + 1·vᵀ} (or a·W_COMPRESSED + 1·vᵀ) of matrices with
    the same predictions (adding one v to every row adds v·x to every logit; softmax ignores it)."""
    D = W - toy_W(a, which)
    return float((D - D.mean(0, keepdim=True)).abs().max())


def toy_gradient(W, eps: float) -> np.ndarray:
    """Gradient of the smoothed loss w.r.t. W, by hand: (softmax(X Wᵀ) - Q')ᵀ X / N.
    Used by :func:`gd_full_W` because numpy on a 3×3 is ~50× faster than autograd's overhead;
    the tests check it against torch autograd."""
    x = np.array(TOY_X)
    q = smoothed_targets(TOY_Y, 3, eps).numpy()
    z = x @ np.asarray(W).T
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return (p - q).T @ x / len(x)


def gd_full_W(eps: float, steps: int, lr: float, seed: int = 0, init_scale: float = 0.1,
              n_records: int = 200) -> GDRun:
    """Plain gradient descent on all nine weights from W0 = init_scale·N(0, 1) (seeded)."""
    _check_eps(eps)
    check_number("steps", steps, lo=1, integer=True)
    check_number("lr", lr, lo=0, lo_open=True)
    g = torch.Generator().manual_seed(seed)
    W = (init_scale * torch.randn(3, 3, generator=g, dtype=_DT)).numpy()
    run = GDRun(eps=eps, W0=W.tolist())
    x = torch.tensor(TOY_X, dtype=_DT)
    rec = set(np.unique(np.geomspace(1, steps, n_records).astype(int)).tolist()) | {0, steps}
    for t in range(steps + 1):
        if t in rec:
            Wt = torch.from_numpy(W)
            run.step.append(t)
            run.loss.append(torch_loss(Wt, eps).item())
            run.norm.append(float(np.linalg.norm(W)))
            run.max_prob.append((x @ Wt.T).softmax(1).max(1).values.mean().item())
        if t < steps:
            W = W - lr * toy_gradient(W, eps)
    run.W = W.tolist()
    return run


# ---------------------------------------------------------------- "information compression"
def predictions(W: torch.Tensor, inputs) -> torch.Tensor:
    """softmax(W x) for each row of ``inputs``."""
    return (torch.as_tensor(inputs, dtype=_DT) @ W.T).softmax(1)


def compression_check(a: float, values=(-2.0, -1.0, 0.0, 0.5, 1.0, 3.0)) -> dict:
    """For both of the slide's W (at scale a): the logits on the training inputs, the CE loss
    next to L_CE(a), whether every sample is classified correctly, and how much the predictions
    for inputs [1, α, β] move over the grid α, β ∈ ``values`` (0 would mean the input is
    ignored)."""
    check_number("a", a, lo=0, lo_open=True)
    x, y = toy_inputs()
    grid = [(1.0, al, be) for al in values for be in values]
    out = {}
    for which in _WS:
        W = toy_W(a, which)
        z = x @ W.T
        p = predictions(W, grid)
        out[which] = dict(
            logits=z.tolist(),
            loss=torch_loss(W, 0.0).item(),
            loss_ce_formula=float(loss_ce(a)),
            correct=bool((z.argmax(1) == y).all() and (z.topk(2, 1).values.diff(dim=1).abs() > 0).all()),
            spread=float((p.max(0).values - p.min(0).values).max()),
        )
    return out


# ---------------------------------------------------------------- real data
@dataclass
class Trained:
    """What one trained network measured on the test set."""

    eps: float
    seed: int
    test_acc: float
    train_loss: float        # the objective at the last epoch (smoothed when ε > 0)
    test_nll: float          # plain CE on the test set, whatever ε was
    ece: float
    mean_conf: float
    logit_norm: float        # mean L2 norm of the logit vector
    conf: np.ndarray         # max-softmax confidence of every test image
    gaps: np.ndarray = None  # max logit − mean of the other logits, every test image
    num_classes: int = 0     # K: 1/K is chance accuracy
    history: object = None


def real_data(cfg, epsilons=EPSILONS, progress: bool = True) -> dict:
    """Train ``cfg.model`` on ``cfg.dataset`` for every ε and seed (cosine LR from ``cfg.lr``,
    as Bag of Tricks pairs smoothing with cosine decay). Returns ε -> list of :class:`Trained`."""
    for e in epsilons:
        _check_eps(e, "label_smoothing")
    def one(e, s):
        h, net, test = train.run(dataset=cfg.dataset, model=cfg.model, epochs=cfg.epochs,
                                 batch_size=cfg.batch_size, lr=cfg.lr, schedule="cosine",
                                 momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                                 label_smoothing=e, n_train=cfg.n_train, n_test=cfg.n_test,
                                 device=cfg.device, root=cfg.root, seed=s, progress=False,
                                 return_model=True, channels_last=cfg.channels_last)
        m = calibration.measure(net, test, n_bins=cfg.ece_bins, channels_last=cfg.channels_last)
        return Trained(eps=e, seed=s, test_acc=m["acc"], train_loss=h.train_loss[-1],
                       test_nll=m["nll"], ece=m["ece"], mean_conf=m["mean_conf"],
                       logit_norm=m["logit_norm"], conf=m["conf"], gaps=m["gaps"],
                       num_classes=m["num_classes"], history=h)

    return sweep(one, epsilons, range(cfg.seeds), progress=progress)
