"""nbval still sees a real change: a 10% larger learning rate moves a chapter's checked outputs.

The outputs nbval compares are computed in float64 at the smoke profile, so that they do not
move between CPUs (see ``sclib.profiles.DTYPES``); this test makes sure that portability was
not bought by checking nothing. A copy of the library and one notebook runs under nbval twice:
as it is (it must pass: the copy is faithful) and with ``make_optimizer`` planting lr × 1.1
(it must fail).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "lr_onecycle"  # the range test, constant, CLR and one-cycle runs all use the optimizer's LR
ANCHOR = '    check_number("lr", lr, lo=0, lo_open=True)\n'


def _copy(dst: Path, plant: bool) -> Path:
    shutil.copytree(ROOT / "sclib", dst / "sclib", ignore=shutil.ignore_patterns("__pycache__"))
    (dst / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / f"{NOTEBOOK}.ipynb", dst / "notebooks")
    for f in ("conftest.py", "pytest.ini"):
        shutil.copy(ROOT / f, dst / f)
    if plant:
        train = dst / "sclib" / "train.py"
        src = train.read_text()
        assert src.count(ANCHOR) == 1, "make_optimizer changed: move the planted change"
        train.write_text(src.replace(ANCHOR, ANCHOR + "    lr = lr * 1.1  # planted\n"))
    return dst


def _nbval(repo: Path, first_failure: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(repo))  # the copy's sclib, not this checkout's
    env.pop("SCLIB_DURATIONS", None)  # the copy's run is not one of this suite's units
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *(["-x"] if first_failure else []), f"notebooks/{NOTEBOOK}.ipynb"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("plant", [False, True], ids=["as-is", "lr-x1.1"])
def test_nbval_fails_when_training_changes(tmp_path, plant):
    r = _nbval(_copy(tmp_path, plant), first_failure=plant)  # the planted copy: its first failure is enough
    tail = (r.stdout + r.stderr)[-3000:]
    if plant:
        assert r.returncode != 0, f"nbval did not notice a 10% larger learning rate:\n{tail}"
        assert "failed" in r.stdout, tail
    else:
        assert r.returncode == 0, f"the unchanged copy should pass nbval:\n{tail}"
