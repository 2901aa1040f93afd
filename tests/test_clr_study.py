"""Bounds, budgets, the paper's claims, verdicts and the Table 3 frame of sclib.clr_study."""
import math

import numpy as np
import pytest

from sclib import clr_study, lr_finder, report
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


def test_claim_for_reads_the_papers_direction():
    assert clr_study.claim_for(-0.8, 1.0) == "equivalent"
    assert clr_study.claim_for(0.0, 1.0) == "equivalent"
    assert clr_study.claim_for(-2.4, 1.0) == "less"
    assert clr_study.claim_for(+1.4, 1.0) == "greater"


def _h(accs, spe=10):
    return History(test_acc=list(accs), epoch=list(range(1, len(accs) + 1)), steps_per_epoch=spe)


def _results(shift=0.0, n=2):
    """One optimizer, ``n`` seeds: fixed at 50%, 52%, ...; CLR 1 point below fixed at epoch 5
    (± 0.1 per seed) and 5 points above at epoch 14, plus ``shift`` (fraction) throughout."""
    fixed = [_h([0.5 + 0.02 * s] * 14) for s in range(n)]
    tri = [_h([0.4] * 4 + [0.49 + 0.02 * s + shift + 0.001 * (-1) ** s] + [0.5] * 8
              + [0.55 + 0.02 * s + shift]) for s in range(n)]
    return {"nesterov": dict(bounds=dict(fixed=0.01, base_lr=0.01, max_lr=0.033),
                             runs=dict(fixed=fixed, triangular=tri))}


PAPER = {("nesterov", "fixed", "N"): 82.1, ("nesterov", "triangular", "short"): 81.3,
         ("nesterov", "bounds"): (0.001, 0.006)}


def test_table3_frame_layout_and_values():
    res = _results()
    v = clr_study.table3_verdicts(res, PAPER, 14, margin=1.0, chance=10.0)
    assert set(v) == {("nesterov", "short")}                 # only rows the paper prints
    df = clr_study.table3_frame(res, PAPER, 14, v)
    assert list(df["LR policy"]) == ["fixed", "triangular", "triangular"]
    assert list(df["iterations (ours)"]) == ["140", "50", "140"]
    assert df["accuracy % (ours)"][0] == "51.0 ± 1.4"  # mean ± sample sd of 50 and 52
    assert df["accuracy % (ours)"][1] == "50.0 ± 1.3"       # read at epoch 5 (49.1, 50.9)
    assert df["Δ vs fixed, points (paper)"][1] == "-0.8"
    assert df["Δ vs fixed, points (ours)"][1] == "-1.0 ± 0.1"
    assert df["verdict"][1] == "inconclusive (n < 3)"        # two seeds: no test
    assert df["accuracy % (paper)"][2] == "—" and df["verdict"][2] == "— (no paper value)"
    assert df["verdict"][0] == "— (baseline)"
    c = clr_study.consistency(res, 14)
    assert c[("nesterov", "N")]["mean"] == pytest.approx(5.0) and c[("nesterov", "N")]["ahead"] == 2


def test_table3_verdicts_pair_by_seed_and_follow_the_papers_claim():
    # paper −0.8 points: "equivalent" within ±1 point. Ours −1.0 ± 0.1 per seed: the 90% CI
    # reaches past −1 point, so the TOST cannot show equivalence; not significantly outside either
    row = clr_study.table3_verdicts(_results(n=4), PAPER, 14, margin=1.0, chance=10.0)[("nesterov", "short")]
    assert row["claim"] == "equivalent" and row["paper_diff"] == -0.8
    assert row["verdict"].n == 4 and row["verdict"].diff == pytest.approx(-1.0)
    np.testing.assert_allclose(row["ours"] - row["fixed"], [-0.9, -1.1, -0.9, -1.1])
    assert row["verdict"].label == report.INCONCLUSIVE
    # CLR 0.5 points above its former self: −0.5 ± 0.1, inside ±1 point → reproduced
    v = clr_study.table3_verdicts(_results(0.005, n=4), PAPER, 14, margin=1.0)[("nesterov", "short")]["verdict"]
    assert v.label == report.REPRODUCED
    # CLR 3 points below: the paper's "≈" is contradicted
    v = clr_study.table3_verdicts(_results(-0.02, n=4), PAPER, 14, margin=1.0)[("nesterov", "short")]["verdict"]
    assert v.label == report.CONTRADICTED
    # a directional paper row (−2.4 points, "less") carries the paper's effect
    paper = {**PAPER, ("nesterov", "triangular", "short"): 79.7}
    row = clr_study.table3_verdicts(_results(-0.02, n=4), paper, 14, margin=1.0)[("nesterov", "short")]
    assert row["claim"] == "less" and row["verdict"].label == report.REPRODUCED
    # a fixed-LR baseline at chance gates the row
    v = clr_study.table3_verdicts(_results(n=4), PAPER, 14, margin=1.0, chance=60.0)[("nesterov", "short")]
    assert v["verdict"].text == "inconclusive (baseline did not train)"


def test_schedule_study_methods():
    m = clr_study.schedule_study_methods(0.05, 15)
    assert set(m) == {"SGDR T0=1", "SGDR T0=10", "cosine", "step"}
    assert m["step"]["schedule"]["milestones"] == pytest.approx([4.5, 9.0, 12.0])
    m = clr_study.schedule_study_methods(0.05, 15, t0_scale=0.5)
    assert "SGDR T0=5" in m and m["SGDR T0=0.5"]["schedule"]["t0_epochs"] == 0.5
