"""sclib's CLR policies and SGDR against their closed forms (004: CLR pages, SGDR Figure 1).

The closed forms live in sclib.clr_study; the values checked are the LRs the optimizer held,
both through schedules.build and through train.fit's History.lr (what the chapter plots)."""
import math

import pytest
import torch

from sclib import clr_study, data, schedules, train


def applied(spec, total, spe=10, lr=0.1):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr, momentum=0.9)
    s = schedules.build(spec, opt, total, spe)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        s.step()
    return out


@pytest.mark.parametrize("mode,gamma", [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.99)])
@pytest.mark.parametrize("step_epochs", [0.5, 2.0, 3.5])
def test_clr_matches_closed_form(mode, gamma, step_epochs):
    spe, total = 10, 140
    spec = dict(kind="clr", mode=mode, base_lr=0.01, max_lr=0.05, step_epochs=step_epochs, gamma=gamma)
    step = round(step_epochs * spe)
    for it, v in enumerate(applied(spec, total, spe)):
        assert v == pytest.approx(clr_study.clr_lr(it, 0.01, 0.05, step, mode, gamma), rel=1e-9, abs=1e-12), it


def test_closed_form_known_points():
    # triangular: base at 0, max at step, base at 2*step; triangular2 halves the 2nd peak
    f = clr_study.clr_lr
    assert f(0, 1, 3, 5) == 1 and f(5, 1, 3, 5) == 3 and f(10, 1, 3, 5) == 1 and f(15, 1, 3, 5) == 3
    assert f(15, 1, 3, 5, "triangular2") == 2 and f(25, 1, 3, 5, "triangular2") == 1.5
    assert f(5, 1, 3, 5, "exp_range", 0.5) == pytest.approx(1 + 2 * 0.5 ** 5)
    assert f(2, 1, 3, 4) == 2  # halfway up


@pytest.mark.parametrize("t0_epochs", [1, 3])
def test_sgdr_matches_closed_form(t0_epochs):
    spe, total = 10, 150
    spec = dict(kind="sgdr", t0_epochs=t0_epochs, t_mult=2, eta_min=0.0)
    for it, v in enumerate(applied(spec, total, spe, lr=0.05)):
        assert v == pytest.approx(clr_study.sgdr_lr(it, 0.05, t0_epochs * spe, 2), rel=1e-9, abs=1e-12), it


def test_sgdr_closed_form_restarts():
    f = clr_study.sgdr_lr
    # T0 = 4, T_mult = 2: restarts at 4, 12, 28
    for r in (0, 4, 12, 28):
        assert f(r, 0.05, 4) == pytest.approx(0.05)
    assert f(2, 0.05, 4) == pytest.approx(0.025)      # half-way through the first period
    assert f(8, 0.05, 4) == pytest.approx(0.025)      # half-way through the second (length 8)
    assert f(11, 0.05, 4) < f(12, 0.05, 4)
    assert clr_study.restart_epochs(1, 2, 15) == [1, 3, 7, 15]
    assert clr_study.restart_epochs(10, 2, 15) == [10]


def _tiny_batches(n=60, bs=10):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 255, (n, 1, 8, 8), generator=g, dtype=torch.uint8)
    y = torch.arange(n) % 3
    return data.Batches(x, y, bs, shuffle=True, seed=0, device=torch.device("cpu"))


@pytest.mark.parametrize("spec", [
    dict(kind="clr", mode="triangular", base_lr=0.01, max_lr=0.04, step_epochs=1.5),
    dict(kind="clr", mode="triangular2", base_lr=0.01, max_lr=0.04, step_epochs=1),
    dict(kind="clr", mode="exp_range", base_lr=0.01, max_lr=0.04, step_epochs=1, gamma=0.98),
    dict(kind="sgdr", t0_epochs=1, t_mult=2),
])
def test_history_lr_is_the_closed_form(spec):
    tr = _tiny_batches()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
    h = train.fit(net, tr, None, epochs=6, lr=0.04, schedule=spec, progress=False)
    spe = h.steps_per_epoch
    assert len(h.lr) == 6 * spe
    for it, v in enumerate(h.lr):
        if spec["kind"] == "sgdr":
            want = clr_study.sgdr_lr(it, 0.04, spe, 2)
        else:
            want = clr_study.clr_lr(it, 0.01, 0.04, round(spec["step_epochs"] * spe), spec["mode"],
                                    spec.get("gamma", 1.0))
        assert v == pytest.approx(want, rel=1e-9, abs=1e-12), it
