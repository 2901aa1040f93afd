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


try:  # pytest-xdist (``make test`` runs ``pytest -n N``); without it pytest runs in one process
    from xdist.scheduler import LoadScopeScheduling
except ImportError:
    pass
else:
    class NotebookScheduling(LoadScopeScheduling):
        """Every unit test is its own work unit; a notebook's cells share one kernel, so a
        notebook is one unit that runs, in order, on one worker (the largest units go first);
        the browser test renders the built book once per worker, so it is one unit too.
        (xdist's own ``--dist loadgroup`` does not group nbval's cells under pytest 9.)"""

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.endswith((".ipynb", "test_browser.py")) else nodeid

    def pytest_xdist_make_scheduler(config, log):
        return NotebookScheduling(config, log)
