"""Bad input at the CLI: status != 0, one line naming the parameter, nothing left in book/."""
import subprocess
import sys

import pytest

from conftest import ROOT


def cli(*args):
    return subprocess.run([sys.executable, "-m", "sclib", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def book_files():
    return sorted(p.name for p in (ROOT / "book").iterdir())


@pytest.mark.parametrize("args, word", [
    (["run", "no_such_notebook"], "notebook"),
    (["run", "lr_onecycle", "--profile", "laptop"], "profile"),
    (["run", "lr_onecycle", "-p", "epochs", "0"], "epochs"),
    (["run", "lr_onecycle", "-p", "epochs", "two"], "epochs"),
    (["run", "lr_onecycle", "-p", "momentum", "1.5"], "momentum"),
    (["run", "lr_onecycle", "-p", "dataset", "mnist"], "dataset"),
    (["run", "lr_onecycle", "-p", "learning_rate", "0.1"], "learning_rate"),
    (["run", "lr_onecycle", "-p", "profile", "gpu"], "profile"),
])
def test_bad_cli_input(args, word):
    before = book_files()
    r = cli(*args)
    assert r.returncode == 2, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and word in lines[0] and lines[0].startswith("sclib: error:"), r.stderr
    assert book_files() == before


def test_missing_real_data_fails_cleanly_and_leaves_nothing(tmp_path):
    before = book_files()
    r = cli("run", "lr_onecycle", "--profile", "smoke", "-p", "dataset", "fashion_mnist",
            "-p", "root", str(tmp_path))
    assert r.returncode != 0
    assert "DataMissingError" in r.stderr and "dataset-fashion-mnist" in r.stderr
    assert book_files() == before
