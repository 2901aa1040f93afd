"""sclib.pipeline_study: fractional budgets run exactly their share of iterations under 003's
schedule, both arms are built on LR₀ as the papers say, the tuning grid keeps ×1 within its
tolerance and extends at an edge, time to target counts epochs of data, and a design's cost adds up."""
import math

import numpy as np
import pytest

from sclib import data, experiments, lr_rules, papers, pipeline_study as ps, report, schedules, train
from sclib.errors import ConfigError


def _scale(**kw):
    args = dict(dataset="digits", model="simple", n_train=600, n_test=None, n_holdout=200, augment=False,
                batch_size=64, momentum=0.9, weight_decay=5e-4, device="cpu")
    args.update(kw)
    return ps.Scale(**args)


# ---------------------------------------------------------------- budgets and schedules
@pytest.mark.parametrize("epochs, spe, want", [
    (4, 157, (4, None)), (4.0, 157, (4, None)), (0.5, 157, (1, 78)), (0.75, 157, (1, 118)),
    (2.5, 10, (3, 25)), (0.001, 157, (1, 1)),
])
def test_plan_epochs(epochs, spe, want):
    assert ps.plan_epochs(epochs, spe) == want


def test_plan_epochs_rejects_nonsense():
    with pytest.raises(ConfigError):
        ps.plan_epochs(0, 10)
    with pytest.raises(ConfigError):
        ps.plan_epochs(1, 0)


def test_arms_are_built_on_lr0_as_002_and_003_say():
    assert ps.anchor("step", 0.05) == pytest.approx(0.05)
    assert ps.anchor("onecycle", 0.05) == pytest.approx(10 * 0.05)  # 002 §4.4: max = 10 × LR₀
    # so one-cycle's minimum (003: max/10) is LR₀
    assert ps.anchor("onecycle", 0.05) * papers.value("pipeline.min_over_max") == pytest.approx(0.05)
    step = ps.schedule("step", 8)
    assert step == {"kind": "step", "milestones": [4.0, 6.0], "gamma": 0.1}
    oc = schedules.normalize(ps.schedule("onecycle", 2))
    assert oc["kind"] == "pipeline" and oc["peak"] == 0.5 and oc["tail"] == 0.1
    assert oc["min_ratio"] == 0.1 and oc["final_ratio"] == 0.01
    with pytest.raises(ConfigError):
        ps.schedule("cosine", 4)


def test_003s_schedule_needs_room_for_its_tail():
    assert ps.planned_steps(_scale(), 0.5) == 5 and ps.planned_steps(_scale(), 2) == 20
    assert ps.planned_steps(_scale(dataset="fashion_mnist", n_train=None, batch_size=128), 0.5) == 234
    with pytest.raises(ConfigError, match="needs at least 10"):
        ps.check_onecycle_budget(_scale(), 0.5)  # 5 iterations: no last 10% to anneal in
    ps.check_onecycle_budget(_scale(), 1)


def test_a_fraction_of_an_epoch_runs_its_share_under_003s_whole_schedule():
    sc = _scale(batch_size=16)
    tr = ps.train_batches(sc, 0)
    spe = len(tr)
    h = ps.run(sc, "onecycle", 0.2, 0.5, seed=0)
    assert len(h.lr) == round(0.5 * spe) and h.epoch == [1] and len(h.test_acc) == 1
    lrs = np.asarray(h.lr)
    assert lrs[0] == pytest.approx(0.02) and 0.1 < lrs.max() <= 0.2 + 1e-12
    assert abs(int(np.argmax(lrs)) - 0.5 * len(lrs)) <= 1  # the peak at 50% of the iterations run
    assert lrs[-1] == pytest.approx(0.02 * 0.01)  # annihilated at the last iteration run
    assert experiments.data_epochs(h).tolist() == [pytest.approx(round(0.5 * spe) / spe)]
    assert h.config["planned_epochs"] == 0.5 and h.config["eval"] == "test"


def test_eval_sets_and_augmentation():
    sc = _scale()
    assert ps.eval_batches(sc, "holdout").num_examples == 200
    assert ps.eval_batches(sc, "test").num_examples == len(data.load("digits", "test")[1])  # all of it
    assert ps.train_batches(sc, 3).num_examples == 600 and ps.train_batches(sc, 3).seed == 3
    tr = ps.train_batches(_scale(augment=True), 0)
    assert tr.flip is False and tr.crop_pad == 0  # digits has no augmentation to switch on
    h = ps.run(sc, "step", 0.05, 1, seed=1, eval="holdout", bn_momentum=0.3)
    assert h.config["eval"] == "holdout" and h.config["n_test"] == 200 and h.config["bn_momentum"] == 0.3
    assert "simple, digits (600 train, all test), batch 64, no augmentation" == sc.describe()


# ---------------------------------------------------------------- the tuning grid
def test_tune_grid_keeps_x1_within_the_tolerance():
    scores, m, edge = ps.tune_grid(lambda m: {1 / 3: 0.800, 1.0: 0.797, 3.0: 0.801}[m], tol=0.005)
    assert m == 1.0 and not edge and sorted(scores) == [1 / 3, 1.0, 3.0]


def test_tune_grid_extends_once_at_an_edge():
    table = {1 / 3: 0.70, 1.0: 0.75, 3.0: 0.80, 9.0: 0.85, 27.0: 0.90}
    calls = []

    def score(m):
        calls.append(m)
        return table[min(table, key=lambda k: abs(k - m))]

    scores, m, edge = ps.tune_grid(score, tol=0.005, extend=1)
    assert m == pytest.approx(9.0) and edge  # still at the edge after one extension: flagged
    assert len(calls) == 4
    scores, m, edge = ps.tune_grid(score, tol=0.005, extend=0)
    assert m == 3.0 and edge and len(scores) == 3
    # the low side, and an extension that brackets the best
    low = {1 / 9: 0.85, 1 / 3: 0.90, 1.0: 0.80, 3.0: 0.70}
    scores, m, edge = ps.tune_grid(lambda m: low[min(low, key=lambda k: abs(k - m))], tol=0.005)
    assert m == pytest.approx(1 / 3) and not edge and min(scores) == pytest.approx(1 / 9)


def test_tune_on_digits_scores_held_out_images():
    sc = _scale()
    t = ps.tune(sc, "step", 0.02, 1, multipliers=(0.5, 1.0), extend=0)
    assert set(t.scores) == {0.5, 1.0} and t.lr == pytest.approx(0.02 * t.multiplier)
    assert all(h.config["eval"] == "holdout" and h.config["seed"] == lr_rules.TUNE_SEED for h in t.runs.values())
    assert t.scores[1.0] == pytest.approx(t.runs[1.0].final_test_acc)


# ---------------------------------------------------------------- time to target in epochs of data
def _history(acc, spe, steps):
    return train.History(test_acc=list(acc), epoch=list(range(1, len(acc) + 1)), lr=[0.1] * steps,
                         seconds=[1.0] * len(acc), steps_per_epoch=spe)


def test_speed_counts_a_half_epoch_run_as_half_an_epoch():
    base = [_history([0.5, 0.8, 0.9, t], 10, 40) for t in (0.95, 0.94, 0.96)]
    ours = [_history([0.97], 10, 5) for _ in range(3)]
    sp = experiments.speed(ours, base, claim_ratio=4)
    assert sp["ours_epochs"].tolist() == [0.5, 0.5, 0.5] and sp["baseline_epochs"].tolist() == [4, 4, 4]
    assert sp["verdict"].diff == pytest.approx(8.0) and sp["verdict"].label == report.REPRODUCED
    rows = experiments.tta_rows("x", {"base": base, "ours": ours}, "base")
    assert rows[0]["verdict"] == "—" and rows[1]["epochs_to_target"] == 0.5 and rows[1]["seconds_to_target"] == 1.0
    never = [_history([0.5], 10, 5) for _ in range(3)]
    sp = experiments.speed(never, base)
    assert math.isinf(sp["ours_epochs"][0]) and sp["verdict"].label == report.CONTRADICTED
    with pytest.raises(ConfigError):
        experiments.speed(ours[:2], base)


def test_smallest_fraction():
    labels = {0.125: report.CONTRADICTED, 0.25: report.REPRODUCED, 0.5: report.INCONCLUSIVE, 1.0: report.REPRODUCED}
    assert ps.smallest([1.0, 0.5, 0.25, 0.125], labels) == 0.25
    assert ps.smallest([0.125], labels) is None


# ---------------------------------------------------------------- cost of a design, and the pairs
def test_planned_images_adds_up():
    n = ps.planned_images(1000, 4, seeds=5, fractions=[0.125, 0.25, 0.5, 1.0], plateau_seeds=3,
                          claim_fraction=0.25, range_iters=150, batch_size=128)
    # 5 × (N + 1.875 N) + 3 × 2N + 3 multipliers × (N + N/4), in runs of N epochs, + the range test
    assert n == 1000 * 4 * (5 * 2.875 + 6 + 3 * 1.25) + 150 * 128


def test_throughput_is_a_positive_rate():
    assert 0 < ps.throughput("simple", "digits", batch_size=16, steps=2, device="cpu") < math.inf


def test_check_pairs():
    ps.check_pairs([["a", "b"]], pair_n_train=[None], pair_run=[True])
    with pytest.raises(ConfigError, match="pair_epochs"):
        ps.check_pairs([["a", "b"], ["c", "d"]], pair_epochs=[4])
    with pytest.raises(ConfigError, match="at least one"):
        ps.check_pairs([["a", "b"]], pair_run=[False])
