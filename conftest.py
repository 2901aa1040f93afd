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
# One intra-op thread for tests and nbval kernels: the smoke outputs nbval compares were
# recorded so (CPU float reductions may depend on the thread count), and on a busy 2-core
# machine one thread per process is much faster than two threads fighting.
os.environ.setdefault("OMP_NUM_THREADS", "1")
