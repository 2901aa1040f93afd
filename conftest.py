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
