"""sclib.executors: one parameter picks where independent jobs run; every executor returns
the same results in job order, and jobs write into the caller's run store."""
import sys

import pytest

from sclib import bench, executors
from sclib.errors import ConfigError

# a small deterministic training run (sclib.bench.fit_job is train.run: module-level, picklable)
JOB = dict(dataset="digits", model="simple", epochs=2, batch_size=64, lr=0.05, n_train=256, n_test=200,
           schedule={"kind": "onecycle"}, augment=False, device="cpu", progress=False)


def _jobs(n):
    return [dict(JOB, seed=s) for s in range(n)]


def _numbers(h):  # what a run computed (a run's timings are its own)
    return h.loss, h.lr, h.train_loss, h.train_acc, h.test_loss, h.test_acc


def _stored(root):
    return len(list(root.glob("*/*.run.pt")))


def test_a_bad_executor_or_size_is_a_one_line_error():
    with pytest.raises(ConfigError, match=r"^executor='threads' is not one of: serial, processes, ray$"):
        executors.run(bench.fit_job, _jobs(1), executor="threads")
    with pytest.raises(ConfigError, match=r"^workers=0 is out of range"):
        executors.run(bench.fit_job, _jobs(1), executor="processes", workers=0)
    with pytest.raises(ConfigError, match="module-level function"):
        executors.run(lambda job: job, [1], executor="processes")


def _echo(job):
    return job


def test_a_notebook_function_is_refused_for_processes_also_inside_a_partial(monkeypatch):
    import functools
    import types
    main = types.ModuleType("__main__")  # no __file__: an interactive session, as in a notebook
    monkeypatch.setitem(sys.modules, "__main__", main)
    f = types.FunctionType(_echo.__code__, {}, "f")
    f.__module__, f.__qualname__, main.f = "__main__", "f", f  # picklable by reference, not importable elsewhere
    # also when bound inside a partial of an importable function (wdgrid.sweep's partial(seeded, fn, jobs))
    for fn in (f, functools.partial(f), functools.partial(_echo, f), functools.partial(_echo, g=functools.partial(f))):
        with pytest.raises(ConfigError, match="module-level function"):
            executors.check_picklable(fn, "processes")
    executors.check_picklable(functools.partial(bench.fit_job), "processes")  # an importable module's: fine


def test_plan_fills_the_cores(monkeypatch):
    monkeypatch.setattr(executors, "cores", lambda: 8)
    assert executors.plan("processes") == (8, 1)
    assert executors.plan("processes", workers=2) == (2, 4)
    assert executors.plan("processes", threads=4) == (2, 4)
    assert executors.plan("ray", workers=3) == (3, 2)
    assert executors.plan("serial") == (1, None) and executors.plan("serial", threads=2) == (1, 2)
    assert executors.plan("serial", workers=1) == (1, None)
    with pytest.raises(ConfigError, match=r"^workers=2 needs executor='processes' or 'ray'"):
        executors.plan("serial", workers=2)  # not silently one worker


def test_ray_missing_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError, match=r"^executor='ray' needs the ray package: pip install ray==2\.60\.0$"):
        executors.run(bench.fit_job, _jobs(1), executor="ray")


def test_processes_equal_serial_in_job_order_and_fill_the_callers_store(tmp_path, monkeypatch):
    monkeypatch.setenv("SCLIB_RUNS", str(tmp_path / "serial"))
    serial = executors.run(bench.fit_job, _jobs(3), executor="serial", threads=1, progress=False)
    executors.run(bench._warm, range(2), executor="processes", workers=2, progress=False)  # the pool starts
    # set after the workers started, with the serial store in their environment: they follow it
    monkeypatch.setenv("SCLIB_RUNS", str(tmp_path / "processes"))
    par = executors.run(bench.fit_job, _jobs(3), executor="processes", workers=2, threads=1, progress=False)
    assert [_numbers(h) for h in par] == [_numbers(h) for h in serial]
    assert len({tuple(h.loss) for h in par}) == 3  # three seeds, three runs: the order is tested
    assert _stored(tmp_path / "processes") == 3 and _stored(tmp_path / "serial") == 3
    assert executors.run(bench.fit_job, [], executor="processes") == []


def test_ray_equals_serial_and_fills_the_callers_store(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray", reason="executor='ray' needs the ray package (pip install ray==2.60.0)")
    monkeypatch.setenv("SCLIB_RUNS", str(tmp_path / "serial"))
    serial = executors.run(bench.fit_job, _jobs(2), executor="serial", threads=1, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:  # set after Ray started, with the serial store in its environment: the tasks follow it
        monkeypatch.setenv("SCLIB_RUNS", str(tmp_path / "ray"))
        out = executors.run(bench.fit_job, _jobs(2), executor="ray", workers=2, threads=1, progress=False)
    finally:
        ray.shutdown()
    assert [_numbers(h) for h in out] == [_numbers(h) for h in serial]
    assert _stored(tmp_path / "ray") == 2 and _stored(tmp_path / "serial") == 2
