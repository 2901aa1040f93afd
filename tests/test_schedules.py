"""Schedule values at chosen iterations against each policy's closed form."""
import math

import pytest
import torch

from sclib import schedules
from sclib.errors import ConfigError


def applied(spec, total, spe=10, lr=0.1, momentum=0.9):
    """LR and momentum the optimizer holds at each of ``total`` iterations."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr, momentum=momentum)
    s = schedules.build(spec, opt, total, spe)
    lrs, moms = [], []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        s.step()
    return lrs, moms


def test_constant():
    lrs, _ = applied("constant", 50)
    assert all(v == pytest.approx(0.1) for v in lrs)


def test_step_decays_at_milestones():
    lrs, _ = applied({"kind": "step", "milestones": [2, 4], "gamma": 0.1}, 60, spe=10)
    for i, v in enumerate(lrs):
        assert v == pytest.approx(0.1 * 0.1 ** ((i >= 20) + (i >= 40)))


def clr_closed_form(it, base, mx, step, mode, gamma=1.0):
    # Smith (2017), the triangular policy's formula
    cycle = math.floor(1 + it / (2 * step))
    x = abs(it / step - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": gamma ** it}[mode]
    return base + (mx - base) * max(0.0, 1 - x) * scale


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_clr_matches_closed_form(mode):
    spec = {"kind": "clr", "mode": mode, "base_lr": 0.01, "max_lr": 0.05, "step_epochs": 2, "gamma": 0.99}
    lrs, moms = applied(spec, 100, spe=10)
    for it in (0, 5, 10, 20, 25, 40, 55, 80, 99):
        assert lrs[it] == pytest.approx(clr_closed_form(it, 0.01, 0.05, 20, mode, 0.99), rel=1e-6)
    assert set(moms) == {0.9}  # CLR keeps momentum constant


def test_onecycle_three_phase_closed_form():
    total, mx = 200, 1.0
    spec = {"kind": "onecycle", "max_lr": mx, "div_factor": 10, "final_div_factor": 100, "pct_start": 0.45}
    lrs, moms = applied(spec, total)
    init, low = mx / 10, mx / 10 / 100
    up = 0.45 * total - 1          # torch's phase ends: 89, 178, 199
    down = 2 * 0.45 * total - 2
    assert lrs[0] == pytest.approx(init)
    assert lrs[int(up)] == pytest.approx(mx)
    assert lrs[int(down)] == pytest.approx(init)
    assert lrs[-1] == pytest.approx(low, rel=1e-6)
    assert lrs[45] == pytest.approx(init + (mx - init) * 45 / up)            # linear warm-up
    assert lrs[150] == pytest.approx(mx + (init - mx) * (150 - up) / (down - up))
    assert lrs[190] == pytest.approx(init + (low - init) * (190 - down) / (total - 1 - down))
    assert moms[0] == pytest.approx(0.95) and moms[int(up)] == pytest.approx(0.85)
    assert moms[int(down)] == pytest.approx(0.95) and moms[-1] == pytest.approx(0.95)
    assert max(lrs) == pytest.approx(mx)


def test_cosine_and_sgdr_closed_form():
    lrs, _ = applied({"kind": "cosine", "eta_min": 0.0}, 100)
    for t in (0, 25, 50, 99):
        assert lrs[t] == pytest.approx(0.1 * (1 + math.cos(math.pi * t / 100)) / 2, abs=1e-9)
    lrs, _ = applied({"kind": "sgdr", "t0_epochs": 1, "t_mult": 2}, 70, spe=10)
    # restarts at 10 and 30 (T0 = 10 iterations, then 20, then 40)
    for t, (start, T) in {0: (0, 10), 5: (0, 10), 10: (10, 20), 20: (10, 20), 30: (30, 40), 60: (30, 40)}.items():
        assert lrs[t] == pytest.approx(0.1 * (1 + math.cos(math.pi * (t - start) / T)) / 2, abs=1e-9)


def test_linear_warmup_then_schedule():
    lrs, _ = applied({"kind": "cosine", "warmup_epochs": 1, "warmup_start_factor": 0.1}, 60, spe=10)
    assert lrs[0] == pytest.approx(0.01)
    assert lrs[5] == pytest.approx(0.01 + (0.1 - 0.01) * 5 / 10)
    assert lrs[10] == pytest.approx(0.1)
    assert lrs[35] == pytest.approx(0.1 * (1 + math.cos(math.pi * 25 / 50)) / 2, abs=1e-9)


@pytest.mark.parametrize("spec, word", [
    ({"kind": "nope"}, "schedule kind"),
    ({"kind": "onecycle", "max_lr": -1}, "max_lr"),
    ({"kind": "clr", "base_lr": 0.1, "max_lr": 0.01}, "base_lr"),
    ({"kind": "clr", "mode": "sine"}, "mode"),
    ({"kind": "cosine", "bogus": 1}, "bogus"),
    ({"kind": "onecycle", "pct_start": 0.7}, "pct_start"),
    ({"kind": "sgdr"}, "t0_epochs"),
    (42, "schedule"),
])
def test_bad_specs_name_the_field(spec, word):
    with pytest.raises(ConfigError, match=word):
        schedules.normalize(spec)


def test_clr_step_epochs_within_bounds():
    assert schedules.clr_step_epochs(6) == 3
    assert schedules.clr_step_epochs(30) == 7.5
    assert 2 <= schedules.clr_step_epochs(100) <= 10


def test_exponential_linear_and_pipeline_tables():
    lrs, _ = applied({"kind": "exponential", "end_lr": 10.0}, 5, lr=1e-3)
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(10.0)
    assert all(b / a == pytest.approx(10.0) for a, b in zip(lrs, lrs[1:]))
    lrs, _ = applied({"kind": "linear", "start_lr": 0.0, "end_lr": 3.0}, 4)
    assert lrs == pytest.approx([0.0, 1.0, 2.0, 3.0])
    lrs, _ = applied({"kind": "pipeline"}, 100, lr=1.0)
    assert lrs == [float(v) for v in schedules.pipeline_lrs(1.0, 100)]
    assert lrs[0] == pytest.approx(0.1) and max(lrs) == pytest.approx(1.0) and lrs[-1] == pytest.approx(0.001)
    with pytest.raises(ConfigError, match="end_lr"):
        schedules.normalize({"kind": "linear"})
    with pytest.raises(ConfigError, match="tail"):
        schedules.normalize({"kind": "pipeline", "peak": 0.5, "tail": 0.6})
    with pytest.raises(ConfigError, match="unknown field"):
        schedules.normalize({"kind": "pipeline", "warmup_epochs": 1})
