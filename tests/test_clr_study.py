"""Bounds, the fixed-LR grid, budgets, the paper's claims, verdicts, the Table 3 frame and the
runs (scored only at chosen epochs) of sclib.clr_study."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sclib import clr_study, lr_finder, report, train
from sclib.errors import ConfigError
from sclib.train import History


def fake_range_test(lr_at_min=0.1):
    lrs = list(np.logspace(-5, 1, 120))
    losses = [2.3 - 1.0 * math.exp(-(math.log10(l) - math.log10(lr_at_min)) ** 2) for l in lrs]
    return lr_finder.RangeTest(lrs=lrs, losses=losses, smoothed=losses)


def test_bounds_from_range_test():
    b = clr_study.bounds_from_range_test(fake_range_test(0.1))
    assert b["lr_min"] == pytest.approx(0.1, rel=0.15)
    assert b["base_lr"] == pytest.approx(b["lr_min"] / 10)
    assert b["max_lr"] == pytest.approx(b["lr_min"] / 3)
    b4 = clr_study.bounds_from_range_test(fake_range_test(0.1), divisors=(4, 1.5))
    assert b4["base_lr"] == pytest.approx(b["lr_min"] / 4) and b4["max_lr"] == pytest.approx(b["lr_min"] / 1.5)
    with pytest.raises(ConfigError):
        clr_study.bounds_from_range_test(fake_range_test(0.1), divisors=(3, 10))  # max below base


def test_fixed_grid_is_the_same_fractions_for_every_optimizer():
    assert clr_study.fixed_grid(0.3, [1 / 30, 1 / 10, 1 / 3]) == pytest.approx([0.01, 0.03, 0.1])
    with pytest.raises(ConfigError):
        clr_study.fixed_grid(0.3, [])
    with pytest.raises(ConfigError):
        clr_study.fixed_grid(0.0, [0.1])


def _run(acc: dict, spe=10, seed=0):
    return clr_study.Run(History(steps_per_epoch=spe), dict(acc), seed)


def _fake_compare(score):
    """A stand-in for clr_study.compare: one Run per LR whose accuracy after any epoch is score(lr)."""
    def compare(cfg, arms, seeds, epochs, progress=True):
        return {lr: [_run({epochs: score(lr)}, seed=seeds[0])] for lr in arms}
    return compare


@pytest.mark.parametrize("peak, tried, chosen", [
    (0.1, [0.01, 0.03, 0.1, 0.3], 0.1),                     # inside the grid: nothing added
    (0.5, [0.01, 0.03, 0.1, 0.3, 0.9], 0.3),                # best at the top edge: one LR above
    (100.0, [0.01, 0.03, 0.1, 0.3, 0.9, 2.7], 2.7),         # still at the edge after two: stop
    (0.001, [0.00111, 0.00333, 0.01, 0.03, 0.1, 0.3], 0.00111),  # the bottom edge, by the grid's ratio
])
def test_tune_fixed_lr_extends_the_grid_until_the_best_lr_is_bracketed(monkeypatch, peak, tried, chosen):
    score = lambda lr: 0.9 - 0.01 * abs(math.log(lr / peak))
    monkeypatch.setattr(clr_study, "compare", _fake_compare(score))
    grid = [0.01, 0.03, 0.1, 0.3]
    runs = clr_study.tune_fixed_lr(None, "sgd", grid, tune_seed=5, epochs=14)
    assert list(runs) == pytest.approx(tried, rel=1e-2)
    assert clr_study.best_lr(runs, 14) == pytest.approx(chosen, rel=1e-2)
    assert all(r.seed == 5 for r in runs.values())
    none = clr_study.tune_fixed_lr(None, "sgd", grid, tune_seed=5, epochs=14, extend=0)
    assert list(none) == grid


def test_best_lr_skips_diverged_runs_and_breaks_ties_low():
    grid = {0.01: _run({14: 0.80}), 0.03: _run({14: 0.85}), 0.1: _run({14: math.nan})}
    assert clr_study.best_lr(grid, 14) == 0.03
    assert clr_study.best_lr({0.01: _run({14: 0.8}), 0.03: _run({14: 0.8})}, 14) == 0.01
    with pytest.raises(ConfigError, match="diverged"):
        clr_study.best_lr({0.1: _run({14: math.nan})}, 14)
    with pytest.raises(ConfigError, match="evaluated at"):
        clr_study.best_lr(grid, 5)  # never scored after 5 epochs


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


def _results(shift=0.0, n=2):
    """One optimizer, ``n`` seeds: fixed at 50%, 52%, ... after 14 epochs; CLR 1 point below
    fixed after 5 epochs (± 0.1 per seed) and 5 points above after 14, plus ``shift``
    (fraction) throughout."""
    fixed = [_run({14: 0.5 + 0.02 * s}) for s in range(n)]
    tri = [_run({5: 0.49 + 0.02 * s + shift + 0.001 * (-1) ** s, 14: 0.55 + 0.02 * s + shift}) for s in range(n)]
    return {"nesterov": dict(bounds=dict(lr_min=0.1, base_lr=0.01, max_lr=0.033), fixed_lr=0.03,
                             grid={0.0033: _run({14: 0.4}), 0.01: _run({14: 0.45}), 0.033: _run({14: 0.5})},
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
    assert df["LR (ours)"][0] == "0.03"                      # the tuned fixed LR
    assert df["accuracy % (ours)"][0] == "51.0 ± 1.4"  # mean ± sample sd of 50 and 52
    assert df["accuracy % (ours)"][1] == "50.0 ± 1.3"       # read after epoch 5 (49.1, 50.9)
    assert df["Δ vs fixed, points (paper)"][1] == "-0.8"
    assert df["Δ vs fixed, points (ours, 95% CI)"][1].startswith("-1.0 [")
    assert df["verdict"][1] == "inconclusive (n < 3)"        # two seeds: no test
    assert df["accuracy % (paper)"][2] == "—" and df["verdict"][2] == "— (no paper value)"
    assert df["verdict"][0] == "— (baseline)"
    assert list(df["seeds"]) == [2, 2, 2]
    # a baseline short of its plateau: its CLR rows carry no verdict (the summary's rows are not run)
    short = clr_study.table3_frame(res, PAPER, 14, v, gains={"nesterov": report.PLATEAU_POINTS + 0.5})
    assert short["verdict"][1] == "— (baseline short of its plateau)"
    near = clr_study.table3_frame(res, PAPER, 14, v, gains={"nesterov": report.PLATEAU_POINTS})
    assert near["verdict"][1] == "inconclusive (n < 3)"
    c = clr_study.consistency(res, 14)
    assert c[("nesterov", "N")]["mean"] == pytest.approx(5.0) and c[("nesterov", "N")]["ahead"] == 2
    t = clr_study.tuning_frame(res, 14)
    assert t["chosen fixed LR"][0] == "0.03" and t["lr_min × 0.33"][0] == "0.033: 50.0"


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


def test_plateau_reads_the_first_seeds_long_run():
    res = _results()
    res["nesterov"]["runs"]["fixed"][0] = _run({14: 0.50, 21: 0.51, 28: 0.515})
    p = clr_study.plateau(res, 14)["nesterov"]
    assert p["acc"] == {14: 0.50, 21: 0.51, 28: 0.515} and p["gain"] == pytest.approx(1.5)


def test_schedule_study_methods_and_restarts():
    m = clr_study.schedule_study_methods(0.05, 15, t0s=(1, 5))
    assert list(m) == ["SGDR T0=1", "SGDR T0=5", "cosine", "step"]
    assert m["step"]["schedule"]["milestones"] == pytest.approx([4.5, 9.0, 12.0])
    assert m["SGDR T0=5"]["schedule"] == dict(kind="sgdr", t0_epochs=5, t_mult=2)
    # at 15 epochs both T0 = 1 and T0 = 5 (the paper's 10, halved) end a period with the budget
    assert clr_study.whole_restarts((1, 5), 2, 15) == {1: [1, 3, 7, 15], 5: [5, 15]}
    assert clr_study.whole_restarts((1, 10), 2, 150) == {1: [1, 3, 7, 15, 31, 63, 127], 10: [10, 30, 70, 150]}
    assert clr_study.whole_restarts((2.5,), 2, 9) == {2.5: []}  # 2.5, 7.5: no whole epoch


# ------------------------------------------------------------------ runs on real (embedded) data
CFG = SimpleNamespace(dataset="digits", model="simple", n_train=128, n_test=90, batch_size=32, clr_epochs=14,
                      clr_step_epochs=0.5, seeds=2, fractions=[1 / 30, 1 / 10, 1 / 3], momentum=0.9,
                      weight_decay=5e-4, range_iters=16, range_start_lr=1e-4, range_end_lr=10.0,
                      channels_last=False, device="cpu", root=None)


def test_load_matches_load_batches_without_augmentation():
    tr, te = clr_study.load("digits", n_train=128, n_test=90, batch_size=32, seed=3, device="cpu")
    tr2, te2 = train.load_batches("digits", batch_size=32, n_train=128, n_test=90, seed=3, augment=False,
                                  device="cpu", test_batch_size=clr_study.TEST_BATCH)
    assert torch.equal(tr.x, tr2.x) and torch.equal(te.x, te2.x) and tr.seed == 3
    for (a, ya), (b, yb) in zip(tr, tr2):
        assert torch.equal(a, b) and torch.equal(ya, yb)


def test_train_eval_scores_only_where_asked_and_does_not_change_the_run(monkeypatch):
    kw = dict(dataset="digits", model="simple", n_train=128, n_test=90, batch_size=32, epochs=4, lr=0.05,
              optimizer="nesterov", seed=1, momentum=0.9, device="cpu")
    runs = {}
    for every in (0.0, 10.0):  # a large test set: a hook (or one score after fit); a small one: fit scores
        monkeypatch.setattr(clr_study, "EVAL_EVERY_EPOCH", every)
        runs[every] = [clr_study.train_eval(**kw, eval_at=e) for e in ([2], [1, 2, 3], [])]
        assert [list(r.acc) for r in runs[every]] == [[2, 4], [1, 2, 3, 4], [4]]
        assert (runs[every][2].history.test_acc == []) == (every == 0.0)
    flat = [r for rs in runs.values() for r in rs]
    assert all(r.history.loss == flat[0].history.loss for r in flat)  # scoring leaves training alone
    for e in (1, 2, 3, 4):                                            # and every way scores the same
        assert len({r.acc[e] for r in flat if e in r.acc}) == 1
    assert all(0.0 <= v <= 1.0 for v in flat[1].acc.values())
    with pytest.raises(ConfigError, match="evaluated at"):
        flat[0].at(3)


def test_table3_runs_tune_on_another_seed_and_train_the_first_fixed_run_to_2N():
    res = clr_study.table3_runs(CFG, optimizers=("adam",), progress=False)["adam"]
    assert res["tune_seed"] == 2 and all(r.seed == 2 for r in res["grid"].values())
    grid = [res["bounds"]["lr_min"] * f for f in CFG.fractions]
    tried = list(res["grid"])
    assert tried == sorted(tried) and all(any(abs(t - g) < 1e-12 for t in tried) for g in grid)
    assert res["fixed_lr"] in res["grid"]
    # bracketed by worse neighbours, unless the two extra LRs beyond an edge were spent
    assert res["fixed_lr"] not in (tried[0], tried[-1]) or len(tried) == len(grid) + 2
    fixed, tri = res["runs"]["fixed"], res["runs"]["triangular"]
    assert [r.seed for r in fixed] == [r.seed for r in tri] == [0, 1]
    assert list(fixed[0].acc) == [14, 21, 28] and list(fixed[1].acc) == [14]
    assert list(tri[0].acc) == [5, 14]
    assert set(tri[0].history.lr) != {tri[0].history.lr[0]}  # cycling
    assert min(tri[0].history.lr) == pytest.approx(res["bounds"]["base_lr"])
    assert max(tri[0].history.lr) <= res["bounds"]["max_lr"] * (1 + 1e-9)
    # the seed-0 fixed run's first N epochs are the N-epoch run (a constant LR ignores the length)
    short = clr_study.train_eval(dataset="digits", model="simple", n_train=128, n_test=90, batch_size=32,
                                 epochs=14, lr=res["fixed_lr"], optimizer="adam", seed=0, momentum=0.9,
                                 weight_decay=5e-4, device="cpu")
    assert short.history.loss == fixed[0].history.loss[: len(short.history.loss)]
    assert short.at(14) == fixed[0].at(14)
    with pytest.raises(ConfigError, match="tune_seed"):
        clr_study.table3_runs(CFG, optimizers=("adam",), tune_seed=0, progress=False)
