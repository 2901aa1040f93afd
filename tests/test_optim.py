"""SGDW, SGD+L2, torch's Adam/AdamW against direct transcriptions of 004's Algorithms 1 and 2."""
import math

import pytest
import torch
from torch import nn

from sclib import optim, train
from sclib.errors import ConfigError

N, STEPS = 7, 12


def problem(seed=0):
    """Random least-squares batches: the gradient depends on x, so every term of an update
    (and any error in it) feeds into the next steps."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(STEPS, 5, N, generator=g, dtype=torch.float64)
    b = torch.randn(STEPS, 5, generator=g, dtype=torch.float64)
    x0 = torch.randn(N, generator=g, dtype=torch.float64)
    return x0, lambda x, t: A[t].T @ (A[t] @ x - b[t])   # ∇f_t(x), t = 0-based step


def cosine_eta(t, T):
    return 0.5 + 0.5 * math.cos(math.pi * t / T)  # η_t of the seed's AdamWR slide, t 0-based


# ---------------------------------------------------------------- transcriptions of 004
def algorithm1(x0, grad, alpha, beta1, w, etas, decoupled):
    """004, Algorithm 1: SGD with L2 (line 6) or SGDW (line 9), both with momentum."""
    x, m, xs = x0.clone(), torch.zeros_like(x0), []
    for t, eta in enumerate(etas):               # line 4: t <- t + 1
        g = grad(x, t)                           # line 5
        if not decoupled:
            g = g + w * x                        # line 6
        m = beta1 * m + eta * alpha * g          # line 8
        x = x - m - (eta * w * x if decoupled else 0)  # line 9
        xs.append(x)
    return xs


def algorithm2(x0, grad, alpha, w, etas, decoupled, beta1=0.9, beta2=0.999, eps=1e-8):
    """004, Algorithm 2: Adam with L2 (line 6) or AdamW (line 12)."""
    x, m, v, xs = x0.clone(), torch.zeros_like(x0), torch.zeros_like(x0), []
    for i, eta in enumerate(etas):
        t = i + 1                                # line 4
        g = grad(x, i)                           # line 5
        if not decoupled:
            g = g + w * x                        # line 6
        m = beta1 * m + (1 - beta1) * g          # line 7
        v = beta2 * v + (1 - beta2) * g * g      # line 8
        mh = m / (1 - beta1 ** t)                # line 9
        vh = v / (1 - beta2 ** t)                # line 10
        x = x - eta * (alpha * mh / (vh.sqrt() + eps) + (w * x if decoupled else 0))  # line 12
        xs.append(x)
    return xs


def run_torch(opt_fn, x0, grad, steps, schedule=None):
    """Iterates of a torch optimizer on the same problem; ``schedule(opt)`` an LR scheduler."""
    x = x0.clone().requires_grad_(True)
    opt = opt_fn([x])
    sched = schedule(opt) if schedule else None
    xs = []
    for t in range(steps):
        x.grad = grad(x.detach(), t)
        opt.step()
        if sched:
            sched.step()
        xs.append(x.detach().clone())
    return xs


def cosine(T):
    return lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda t: cosine_eta(t, T))


def assert_same(a, b, tol=1e-10):
    for i, (u, v) in enumerate(zip(a, b)):
        assert torch.allclose(u, v, rtol=tol, atol=tol), (i, (u - v).abs().max().item())


def max_gap(a, b):
    return max((u - v).abs().max().item() for u, v in zip(a, b))


# ---------------------------------------------------------------- SGDW / SGD+L2
@pytest.mark.parametrize("steps", [1, STEPS])
@pytest.mark.parametrize("decoupled", [True, False])
def test_algorithm1_constant_lr(steps, decoupled):
    x0, grad = problem()
    alpha, beta1, w = 0.05, 0.9, 0.03
    cls = optim.SGDW if decoupled else optim.SGDL2
    ours = run_torch(lambda p: cls(p, lr=alpha, momentum=beta1, weight_decay=w), x0, grad, steps)
    assert_same(ours, algorithm1(x0, grad, alpha, beta1, w, [1.0] * steps, decoupled))


@pytest.mark.parametrize("decoupled", [True, False])
def test_algorithm1_schedule_scales_step_and_decay(decoupled):
    """η_t read from the group's lr (set by a torch scheduler) multiplies line 8 and line 9."""
    x0, grad = problem(1)
    alpha, beta1, w = 0.05, 0.9, 0.03
    etas = [cosine_eta(t, STEPS) for t in range(STEPS)]
    cls = optim.SGDW if decoupled else optim.SGDL2
    ours = run_torch(lambda p: cls(p, lr=alpha, momentum=beta1, weight_decay=w), x0, grad, STEPS,
                     cosine(STEPS))
    ref = algorithm1(x0, grad, alpha, beta1, w, etas, decoupled)
    assert_same(ours, ref)
    # and the decay really follows η_t: a run whose decay ignored the schedule differs
    if decoupled:
        unscheduled_decay = algorithm1(x0, grad, alpha, beta1, 0.0, etas, True)
        assert max_gap(ours, unscheduled_decay) > 1e-3


def test_sgdw_alpha_survives_onecycle():
    """One-cycle rewrites lr and torch's initial_lr; α (and so η_t) stays the constructor's lr."""
    x = torch.zeros(3, requires_grad=True)
    opt = optim.SGDW([x], lr=0.1, momentum=0.9, weight_decay=0.01)
    torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    assert opt.param_groups[0]["alpha"] == 0.1
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0 / 25)


def test_torch_sgd_is_l2_with_constant_lr_only():
    """torch SGD(weight_decay) = Algorithm 1's L2 variant while the LR is constant; with a
    schedule torch rescales its whole momentum buffer by the current LR and drifts away."""
    x0, grad = problem(2)
    alpha, beta1, w = 0.05, 0.9, 0.03
    mk = lambda p: torch.optim.SGD(p, lr=alpha, momentum=beta1, weight_decay=w)  # noqa: E731
    assert_same(run_torch(mk, x0, grad, STEPS), algorithm1(x0, grad, alpha, beta1, w, [1.0] * STEPS, False))
    etas = [cosine_eta(t, STEPS) for t in range(STEPS)]
    assert max_gap(run_torch(mk, x0, grad, STEPS, cosine(STEPS)),
                   algorithm1(x0, grad, alpha, beta1, w, etas, False)) > 1e-4


@pytest.mark.parametrize("schedule", [None, "cosine"])
def test_sgd_l2_equals_sgdw_without_momentum_after_conversion(schedule):
    """004: 'Both are equivalent when we use simple SGD': w_SGDW = α · w_L2, any schedule."""
    x0, grad = problem(3)
    alpha, w_l2 = 0.05, 0.4
    w = optim.decoupled_from_l2(w_l2, alpha)
    sch = cosine(STEPS) if schedule else None
    l2 = run_torch(lambda p: torch.optim.SGD(p, lr=alpha, momentum=0.0, weight_decay=w_l2), x0, grad, STEPS, sch)
    dw = run_torch(lambda p: optim.SGDW(p, lr=alpha, momentum=0.0, weight_decay=w), x0, grad, STEPS, sch)
    assert_same(l2, dw)
    # unconverted constants are not the same optimizer
    raw = run_torch(lambda p: optim.SGDW(p, lr=alpha, momentum=0.0, weight_decay=w_l2), x0, grad, STEPS, sch)
    assert max_gap(l2, raw) > 1e-3
    assert optim.l2_from_decoupled(w, alpha) == pytest.approx(w_l2)


def test_sgd_l2_and_sgdw_differ_with_momentum():
    x0, grad = problem(4)
    alpha, w_l2, beta1 = 0.05, 0.4, 0.9
    w = optim.decoupled_from_l2(w_l2, alpha)
    l2 = run_torch(lambda p: optim.SGDL2(p, lr=alpha, momentum=beta1, weight_decay=w_l2), x0, grad, STEPS)
    dw = run_torch(lambda p: optim.SGDW(p, lr=alpha, momentum=beta1, weight_decay=w), x0, grad, STEPS)
    assert max_gap(l2[:1], dw[:1]) < 1e-12       # the first step coincides (m starts at 0) ...
    assert max_gap(l2, dw) > 1e-3                 # ... then L2's decay is carried by momentum


# ---------------------------------------------------------------- Adam / AdamW
@pytest.mark.parametrize("steps", [1, STEPS])
@pytest.mark.parametrize("schedule", [None, "cosine"])
def test_torch_adam_is_algorithm2_l2(steps, schedule):
    x0, grad = problem(5)
    alpha, w = 0.01, 0.05
    etas = [cosine_eta(t, steps) if schedule else 1.0 for t in range(steps)]
    ours = run_torch(lambda p: torch.optim.Adam(p, lr=alpha, betas=(0.9, 0.999), eps=1e-8, weight_decay=w),
                     x0, grad, steps, cosine(steps) if schedule else None)
    assert_same(ours, algorithm2(x0, grad, alpha, w, etas, False))


@pytest.mark.parametrize("steps", [1, STEPS])
@pytest.mark.parametrize("schedule", [None, "cosine"])
def test_torch_adamw_is_algorithm2_decoupled_after_conversion(steps, schedule):
    """torch decays by lr·λ = η_t·α·λ, the paper by η_t·w: λ = w/α."""
    x0, grad = problem(6)
    alpha, w = 0.01, 0.02
    etas = [cosine_eta(t, steps) if schedule else 1.0 for t in range(steps)]
    sch = cosine(steps) if schedule else None
    lam = optim.torch_adamw_wd(w, alpha)
    ours = run_torch(lambda p: torch.optim.AdamW(p, lr=alpha, betas=(0.9, 0.999), eps=1e-8, weight_decay=lam),
                     x0, grad, steps, sch)
    ref = algorithm2(x0, grad, alpha, w, etas, True)
    assert_same(ours, ref)
    # torch's weight_decay is not the paper's w: passing w unconverted decays α times less
    raw = run_torch(lambda p: torch.optim.AdamW(p, lr=alpha, weight_decay=w), x0, grad, steps, sch)
    assert max_gap(raw, ref) > 1e-5
    assert optim.paper_w_from_torch_adamw(lam, alpha) == pytest.approx(w)


def test_make_adamw_converts_to_torch_units():
    x = torch.zeros(3, 2, requires_grad=True)
    opt = optim.make("adamw")([x], lr=0.01, momentum=0.9, weight_decay=1e-4)
    assert isinstance(opt, torch.optim.AdamW)
    assert opt.param_groups[0]["weight_decay"] == pytest.approx(1e-2)
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)
    opt = optim.make("adam_l2")([x], lr=0.01, momentum=0.9, weight_decay=1e-4)
    assert type(opt) is torch.optim.Adam and opt.param_groups[0]["weight_decay"] == 1e-4


# ---------------------------------------------------------------- no bias decay
def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def test_param_groups_exclude_biases_and_norm_parameters():
    net = small_net()
    groups = optim.param_groups(net, 0.1)
    decay, rest = groups
    assert decay["weight_decay"] == 0.1 and rest["weight_decay"] == 0.0
    ids = lambda ps: {id(p) for p in ps}  # noqa: E731
    assert ids(decay["params"]) == ids([net[0].weight, net[4].weight])
    assert ids(rest["params"]) == ids([net[1].weight, net[1].bias, net[4].bias])
    # the tensor-only path (what fit hands an optimizer callable) picks the same split
    g2 = optim.param_groups(net.parameters(), 0.1)
    assert [ids(g["params"]) for g in g2] == [ids(g["params"]) for g in groups]
    # switched off: one group with everything
    (one,) = optim.param_groups(net, 0.1, no_bias_decay=False)
    assert len(one["params"]) == len(list(net.parameters()))


def test_no_bias_decay_leaves_biases_and_bn_untouched():
    net = small_net()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = optim.make("sgdw", no_bias_decay=True)(net.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)   # no gradient: only the decay moves anything
    opt.step()
    for n, p in net.named_parameters():
        if n in ("0.weight", "4.weight"):
            assert torch.allclose(p, before[n] * 0.9), n
        else:
            assert torch.equal(p, before[n]), n


def test_fit_accepts_the_callables():
    h = train.run(dataset="digits", model="simple", epochs=1, batch_size=64, lr=0.05, n_train=256,
                  n_test=128, optimizer=optim.make("sgdw", no_bias_decay=True), momentum=0.9,
                  weight_decay=1e-3, schedule="cosine", progress=False)
    assert h.config["optimizer"] == "sgdw+nbd"
    assert math.isfinite(h.train_loss[0]) and len(h.lr) == h.steps_per_epoch


def test_track_norms_records_every_step():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would be printed into the chapter's page
        out = optim.track_norms(dataset="digits", model="simple", epochs=2, batch_size=64, lr=0.05,
                                method="sgdw", momentum=0.9, weight_decay=1e-2, n_train=256, n_test=128)
    steps = 2 * out["steps_per_epoch"]
    assert len(out["loss"]) == steps
    assert all(len(v) == steps for v in out["grad_norm"].values())
    assert min(min(v) for v in out["grad_norm"].values()) > 0
    assert min(min(v) for v in out["weight_norm"].values()) > 0
    st = out["stationary"]["head"]
    assert -1 <= st["cos"] <= 1 and st["predicted_norm"] > 0
    assert out["num_classes"] == 10  # the chapter's chance gate is 1/num_classes


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, match", [
    (lambda: optim.make("sgdx"), "method"),
    (lambda: optim.make("sgdw", no_bias_decay="yes"), "no_bias_decay"),
    (lambda: optim.SGDW([torch.zeros(1, requires_grad=True)], lr=0.0), "lr"),
    (lambda: optim.SGDW([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=1.0), "momentum"),
    (lambda: optim.SGDW([torch.zeros(1, requires_grad=True)], lr=0.1, weight_decay=-1), "weight_decay"),
    (lambda: optim.param_groups(small_net(), -0.1), "weight_decay"),
])
def test_bad_input_is_one_line_config_error(call, match):
    with pytest.raises(ConfigError, match=match) as e:
        call()
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------- separability numbers
def synthetic_grid(coupled):
    """Error surface whose valley follows log w = -log α (coupled) or a fixed w (separable)."""
    from sclib import wdgrid
    import numpy as np

    lrs, wds = wdgrid.log_grid(0.1, 2, 5), wdgrid.log_grid(1e-3, 2, 5)
    L, W = np.meshgrid(np.log10(lrs), np.log10(wds))
    valley = (-L - 4) if coupled else np.full_like(L, -3.0)
    err = 0.1 + 0.05 * (W - valley) ** 2 + 0.02 * (L + 1) ** 2
    return dict(method="x", lrs=lrs, wds=wds, err=err)


def test_log_grid_is_centred_and_spans_the_decades():
    from sclib import wdgrid

    g = wdgrid.log_grid(1e-2, 2, 5)
    assert g[2] == pytest.approx(1e-2) and g[0] == pytest.approx(1e-3) and g[-1] == pytest.approx(1e-1)
    with pytest.raises(ConfigError, match="grid"):
        wdgrid.log_grid(1e-2, 2, 1)


def test_separability_numbers():
    from sclib import wdgrid

    c, s = wdgrid.separability(synthetic_grid(True)), wdgrid.separability(synthetic_grid(False))
    assert c["slope"] == pytest.approx(-1.0) and c["span"] == pytest.approx(2.0)
    assert s["slope"] == pytest.approx(0.0) and s["span"] == pytest.approx(0.0)
    assert s["interaction"] == pytest.approx(0.0, abs=1e-12)
    assert c["interaction"] > 0.01
    assert s["best_wd"] == pytest.approx(1e-3) and s["best_lr"] == pytest.approx(0.1)
