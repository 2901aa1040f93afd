"""Bounds, budgets, verdicts and the Table 3 frame of sclib.clr_study."""
import math

import numpy as np
import pytest

from sclib import clr_study, lr_finder
from sclib.errors import ConfigError
from sclib.train import History


def fake_range_test(lr_at_min=0.1):
    lrs = list(np.logspace(-5, 1, 120))
    losses = [2.3 - 1.0 * math.exp(-(math.log10(l) - math.log10(lr_at_min)) ** 2) for l in lrs]
    return lr_finder.RangeTest(lrs=lrs, losses=losses, smoothed=losses)


def test_bounds_from_range_test():
    b = clr_study.bounds_from_range_test(fake_range_test(0.1))
    assert b["lr_min"] == pytest.approx(0.1, rel=0.15)
    assert b["fixed"] == b["base_lr"] == pytest.approx(b["lr_min"] / 10)
    assert b["max_lr"] == pytest.approx(b["lr_min"] / 3)


def test_short_epochs():
    assert clr_study.short_epochs(14) == 5
    assert clr_study.short_epochs(140) == 50   # 70,000 and 25,000 iterations at 500 per epoch
    with pytest.raises(ConfigError, match="clr_epochs"):
        clr_study.short_epochs(20)


def test_delta_verdict():
    v = clr_study.delta_verdict
    assert v(-0.5, 0.3, -0.8) == "reproduced"
    assert v(-5.0, 0.3, -0.8).startswith("partly")
    assert v(+5.0, 0.3, -2.4) == "not reproduced at this scale"
    assert v(0.2, 0.1, None) == "no paper value"
    assert v(3.0, 0.1, 0.0).startswith("not")


def _h(accs, spe=10):
    return History(test_acc=list(accs), epoch=list(range(1, len(accs) + 1)), steps_per_epoch=spe)


def test_table3_frame_layout_and_values():
    fixed = [_h([0.5] * 14), _h([0.52] * 14)]
    tri = [_h([0.4] * 4 + [0.49] + [0.5] * 8 + [0.55]), _h([0.4] * 4 + [0.51] + [0.5] * 8 + [0.57])]
    res = {"nesterov": dict(bounds=dict(fixed=0.01, base_lr=0.01, max_lr=0.033),
                            runs=dict(fixed=fixed, triangular=tri))}
    paper = {("nesterov", "fixed", "N"): 82.1, ("nesterov", "triangular", "short"): 81.3,
             ("nesterov", "bounds"): (0.001, 0.006)}
    df = clr_study.table3_frame(res, paper, 14)
    assert list(df["LR policy"]) == ["fixed", "triangular", "triangular"]
    assert list(df["iterations (ours)"]) == ["140", "50", "140"]
    assert df["accuracy % (ours)"][0] == "51.0 ± 1.0"
    assert df["accuracy % (ours)"][1] == "50.0 ± 1.0"       # read at epoch 5
    assert df["Δ vs fixed, points (paper)"][1] == "-0.8"
    assert df["Δ vs fixed, points (ours)"][1] == "-1.0 ± 0.0"
    assert df["verdict"][1] == "reproduced"
    assert df["accuracy % (paper)"][2] == "—" and df["verdict"][2] == "no paper value"
    c = clr_study.consistency(res, 14)
    assert c[("nesterov", "N")]["mean"] == pytest.approx(5.0) and c[("nesterov", "N")]["ahead"] == 2


def test_schedule_study_methods():
    m = clr_study.schedule_study_methods(0.05, 15)
    assert set(m) == {"SGDR T0=1", "SGDR T0=10", "cosine", "step"}
    assert m["step"]["schedule"]["milestones"] == pytest.approx([4.5, 9.0, 12.0])
    m = clr_study.schedule_study_methods(0.05, 15, t0_scale=0.5)
    assert "SGDR T0=5" in m and m["SGDR T0=0.5"]["schedule"]["t0_epochs"] == 0.5
