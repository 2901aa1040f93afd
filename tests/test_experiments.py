"""Time-to-target bookkeeping shared by the chapters (sclib.experiments), labelled by the engine."""
import math

import pytest

from sclib import data, experiments, report
from sclib.errors import ConfigError
from sclib.train import History


def _h(accs):
    return History(epoch=list(range(1, len(accs) + 1)), test_acc=list(accs), seconds=[1.0] * len(accs))


def test_tta_rows_never_when_not_reached():
    runs = {"constant": [_h([0.3, 0.5, 0.6])], "SC": [_h([0.4, 0.6, 0.7])], "CLR": [_h([0.2, 0.3, 0.4])]}
    rows = {r["method"]: r for r in experiments.tta_rows("x", runs, "constant")}
    assert rows["constant"]["epochs_to_target"] == 3 and rows["SC"]["epochs_to_target"] == 2
    assert rows["SC"]["speedup_vs_baseline"] == 1.5 and rows["SC"]["seconds_to_target"] == 2.0
    assert rows["CLR"]["epochs_to_target"] == "never"
    assert rows["constant"]["target"] == 60.0
    # one seed decides nothing, however fast
    assert report.label_of(rows["SC"]["verdict"]) == report.INCONCLUSIVE and rows["constant"]["verdict"] == "—"


def test_target_is_the_baselines_final_accuracy_not_the_worse_runs_best():
    # issue 16: aiming at the worse run's best made a run that ends 15 points lower "faster"
    base = [_h([0.3, 0.5, 0.6, 0.7, 0.8, 0.8, 0.85, 0.9])] * 3
    oc = [_h([0.6, 0.75])] * 3
    sp = experiments.speed(oc, base)
    assert sp["target"] == pytest.approx(0.9)
    assert all(math.isinf(e) for e in sp["ours_epochs"])
    assert sp["verdict"].label == report.CONTRADICTED
    with pytest.raises(ValueError):
        experiments.speed(oc, base[:2])


def test_tta_rows_read_histories_of_trained_objects():
    class Trained:  # a measured run: the History is an attribute
        def __init__(self, h):
            self.history = h
    runs = {0.0: [Trained(_h([0.5, 0.6]))] * 3, 0.2: [Trained(_h([0.6, 0.7]))] * 3}
    rows = experiments.tta_rows("mixup", runs, 0.0)
    assert [r["method"] for r in rows] == ["0.0", "0.2"] and rows[1]["epochs_to_target"] == 1


def test_updates_at_each_evaluation_with_a_fixed_a_grown_and_a_stopped_batch():
    fixed = History(epoch=[1, 2, 3], steps_per_epoch=10, batch_size=[8, 8, 8], lr=[0.1] * 30)
    assert list(experiments.updates_at(fixed)) == [10, 20, 30]
    stopped = History(epoch=[1, 2], steps_per_epoch=10, batch_size=[8, 8], lr=[0.1] * 15)  # max_steps=15
    assert list(experiments.updates_at(stopped)) == [10, 15]
    grown = History(config=dict(n_train=100), epoch=[1, 2, 3], batch_size=[10, 20, 50], lr=[0.1] * 17)
    assert list(experiments.updates_at(grown)) == [10, 15, 17]
    grown_stopped = History(config=dict(n_train=100), epoch=[1, 2, 3], batch_size=[10, 20, 50], lr=[0.1] * 12)
    assert list(experiments.updates_at(grown_stopped)) == [10, 12, 12]  # never more updates than steps run
    with pytest.raises(ConfigError, match="n_train"):
        experiments.updates_at(History(epoch=[1, 2], batch_size=[10, 20]))


def test_time_to_target_in_updates_favours_the_run_with_fewer_updates_not_fewer_epochs():
    # same curve per epoch, but the grown batch needs fewer updates per epoch: equal in epochs, faster in updates
    small = [History(config=dict(n_train=100), epoch=[1, 2, 3], batch_size=[10] * 3, lr=[0.1] * 30,
                     test_acc=[0.5, 0.7, 0.8], seconds=[1.0] * 3)] * 3
    grown = [History(config=dict(n_train=100), epoch=[1, 2, 3], batch_size=[10, 20, 50], lr=[0.1] * 17,
                     test_acc=[0.5, 0.7, 0.8], seconds=[1.0] * 3)] * 3
    assert experiments.speed(grown, small)["verdict"].diff == pytest.approx(1.0)
    rows = {r["method"]: r for r in experiments.tta_rows("x", {"small": small, "grown": grown}, "small", cost="updates")}
    assert rows["grown"]["updates_to_target"] == 17 and rows["small"]["updates_to_target"] == 30
    assert rows["grown"]["speedup_in_updates"] == pytest.approx(30 / 17, abs=0.01)
    assert rows["grown"]["epochs_to_target"] == 3 and rows["grown"]["total_updates"] == 17
    assert "speedup_vs_baseline" not in rows["grown"] and "updates_to_target" not in experiments.tta_rows(
        "x", {"small": small}, "small")[0]
    with pytest.raises(ConfigError, match=r"^cost='steps' is not one of: epochs, updates$"):
        experiments.speed(grown, small, cost="steps")
    curveless = [History(config=dict(n_train=100), epoch=[1, 2, 3], batch_size=[10] * 3, lr=[0.1] * 30)] * 3
    with pytest.raises(ConfigError, match="curve"):  # no curve is an error, never a "never reached"
        experiments.tta_rows("x", {"small": small, "none": curveless}, "small", cost="updates")


def test_chance_is_one_over_the_classes():
    assert data.chance("digits") == pytest.approx(0.1)


def test_each_seed_aims_at_its_own_baselines_final_accuracy():
    # a baseline seed ending below the mean final accuracy must not make the ratio infinite
    base = [_h([0.5, 0.7, 0.8]), _h([0.5, 0.6, 0.7]), _h([0.6, 0.8, 0.9])]
    ours = [_h([0.8, 0.8, 0.8]), _h([0.7, 0.7, 0.7]), _h([0.9, 0.9, 0.9])]
    sp = experiments.speed(ours, base)
    assert list(sp["baseline_epochs"]) == [3, 3, 3] and list(sp["ours_epochs"]) == [1, 1, 1]
    assert sp["target"] == pytest.approx(0.8) and sp["verdict"].diff == pytest.approx(3.0)


# ---------------------------------------------------------------- the one sweep
def test_sweep_runs_every_arm_for_every_seed_seed_by_seed_and_returns_them_in_seed_order():
    calls = []

    def fn(arm, seed):
        calls.append((arm, seed))
        return f"{arm}/{seed}"

    out = experiments.sweep(fn, {"a": 1, "b": 2}, [3, 5], progress=False)
    assert calls == [("a", 3), ("b", 3), ("a", 5), ("b", 5)]  # whole seeds first: a cut-short sweep is paired
    assert out == {"a": ["a/3", "a/5"], "b": ["b/3", "b/5"]}
    assert list(out) == ["a", "b"]
    tuples = experiments.sweep(lambda arm, s: arm[0] * s, [(2, "x"), (3, "y")], range(2), progress=False)
    assert tuples == {(2, "x"): [0, 2], (3, "y"): [0, 3]}


def test_sweep_refuses_two_arms_with_one_label():
    with pytest.raises(Exception, match="distinct"):
        experiments.sweep(lambda a, s: 0, [0.1, 0.1], [0], progress=False)


def test_sweep_on_worker_processes_returns_what_serial_returns_per_arm_in_seed_order():
    # pow(arm, seed): a module-level function, picklable for the workers
    serial = experiments.sweep(pow, [2, 3], [1, 2, 3], progress=False)
    assert serial == {2: [2, 4, 8], 3: [3, 9, 27]}
    assert experiments.sweep(pow, [2, 3], [1, 2, 3], executor="processes", workers=2, threads=1,
                             progress=False) == serial


def test_sweep_executor_errors_are_one_line_and_come_before_any_run():
    calls = []
    with pytest.raises(ConfigError, match=r"^executor='threads' is not one of: serial, processes, ray$"):
        experiments.sweep(lambda a, s: calls.append(s), ["a"], [0], executor="threads", progress=False)
    with pytest.raises(ConfigError, match=r"^workers=0 is out of range"):
        experiments.sweep(lambda a, s: calls.append(s), ["a"], [0], workers=0, progress=False)
    with pytest.raises(ConfigError, match="module-level function"):
        experiments.sweep(lambda a, s: calls.append(s), ["a"], [0], executor="processes", progress=False)
    assert calls == []


def test_no_hand_written_seed_by_arm_loop_is_left_in_sclib():
    # every seeds × arms loop is experiments.sweep (issue: the run engine, item 2)
    import pathlib
    import re
    root = pathlib.Path(experiments.__file__).parent
    pattern = re.compile(r"for \w+ in range\([^)]*seeds\)|jobs = \[\(\w+, s\) for s in|for \w+, \w+ in enumerate\(seeds\)")
    found = [(p.name, m.group(0)) for p in root.glob("*.py") if p.name != "experiments.py"
             for m in pattern.finditer(p.read_text())]
    assert not found, found


def test_no_notebook_trains_seeds_in_a_comprehension():
    # the notebooks' seeds × arms runs go through experiments.sweep too: no `[run(..., seed=s) for s in ...]`,
    # no `for s in range(cfg.seeds):` loop, no results sliced out of a flat list by seed count
    import json
    import pathlib
    import re
    pattern = re.compile(r"seed=s\b[^\n]*\bfor s in |for \w+ in range\([^)]*seeds\)|\* ?cfg\.seeds\s*:")
    found = []
    for p in sorted((pathlib.Path(experiments.__file__).parents[1] / "notebooks").glob("*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "code")
        found += [(p.name, m.group(0)) for m in pattern.finditer(code)]
    assert not found, found
