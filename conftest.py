"""Make ``import sclib`` work everywhere pytest runs, including nbval's kernels (they start in
notebooks/ and inherit this process's environment)."""
import os
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
os.environ.setdefault("SCLIB_PROGRESS", "0")
# The run store (sclib.store) of a test session starts empty and is thrown away: tests never
# read runs stored by another version of the code or by the reader's own chapters.
if "SCLIB_RUNS" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["SCLIB_RUNS"] = tempfile.mkdtemp(prefix="sclib-runs-")
    atexit.register(shutil.rmtree, os.environ["SCLIB_RUNS"], ignore_errors=True)
# One intra-op thread for tests and nbval kernels: the smoke outputs nbval compares were
# recorded so (CPU float reductions may depend on the thread count), and on a busy 2-core
# machine one thread per process is much faster than two threads fighting.
os.environ.setdefault("OMP_NUM_THREADS", "1")


#: Seconds each scheduling unit took (see :func:`scope_of`), recorded by a whole test run with
#: ``SCLIB_DURATIONS=tests/durations.json``; the xdist scheduler starts the longest first.
DURATIONS = Path(ROOT) / "tests" / "durations.json"


def scope_of(nodeid: str) -> str:
    """The unit a test is scheduled in: a notebook's cells share one kernel, so a notebook is one
    unit that runs, in order, on one worker; the browser test renders the built book once per
    worker, so it is one unit too; every other test is a unit of its own."""
    path = nodeid.split("::", 1)[0]
    return path if path.endswith((".ipynb", "test_browser.py")) else nodeid


def recorded_durations() -> dict:
    """:data:`DURATIONS` (unit -> seconds), or {} when there is none or it cannot be read."""
    import json

    try:
        d = json.loads(DURATIONS.read_text())
        return {str(k): float(v) for k, v in d.items()} if isinstance(d, dict) else {}
    except (OSError, ValueError):
        return {}


def longest_first(units: dict, known: dict) -> list:
    """``units`` (scope -> its tests) as (scope, tests) pairs in the order workers take them: the
    longest recorded (``known``: scope -> seconds) first; a unit without a record first if it has
    several tests (a new notebook may be long), last if it is one test; ties: more tests first."""
    def cost(unit):
        scope, tests = unit
        return -known.get(scope, float("inf") if len(tests) > 1 else 0.0), -len(tests)
    return sorted(units.items(), key=cost)


_seconds: dict = {}


def pytest_runtest_logreport(report):
    if os.environ.get("SCLIB_DURATIONS"):  # setup, call and teardown; on the controller too
        unit = scope_of(report.nodeid)
        _seconds[unit] = _seconds.get(unit, 0.0) + report.duration


def pytest_sessionfinish(session, exitstatus):
    """With ``SCLIB_DURATIONS=FILE``: the controller (never a worker) writes each unit's seconds
    to FILE, after a run that was not cut short (no -x, not interrupted). Units of 1 s or more;
    units this run did not run keep their record."""
    out = os.environ.get("SCLIB_DURATIONS")
    if (not out or hasattr(session.config, "workerinput") or not _seconds or exitstatus not in (0, 1)
            or session.config.option.maxfail):
        return
    import json
    import warnings

    path = Path(session.config.invocation_params.dir, out)
    try:
        old = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        old = {}
    for unit, sec in _seconds.items():
        old.pop(unit, None)
        if sec >= 1:
            old[unit] = round(sec, 1)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:  # a reader never sees half a file
        tmp.write_text(json.dumps(dict(sorted(old.items(), key=lambda kv: -kv[1])), indent=0) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        warnings.warn(f"SCLIB_DURATIONS={out}: not written ({e})")


try:  # pytest-xdist (``make test`` runs ``pytest -n N``); without it pytest runs in one process
    from xdist.scheduler import LoadScopeScheduling
except ImportError:
    pass
else:
    class NotebookScheduling(LoadScopeScheduling):
        """Units as :func:`scope_of` says, in :func:`longest_first` order of their recorded
        seconds (:func:`recorded_durations`), so that a long notebook or dry run does not start
        last and hold the run up while the other workers idle. (xdist's own ``--dist
        loadgroup`` does not group nbval's cells under pytest 9.)"""

        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

        def _assign_work_unit(self, node) -> None:
            if not getattr(self, "_ordered", False) and self.config.option.loadscopereorder:
                from collections import OrderedDict

                self.workqueue = OrderedDict(longest_first(self.workqueue, recorded_durations()))
            self._ordered = True  # once, before the first unit goes out
            super()._assign_work_unit(node)

    def pytest_xdist_make_scheduler(config, log):
        return NotebookScheduling(config, log)
