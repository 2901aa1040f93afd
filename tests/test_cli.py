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


@pytest.mark.parametrize("args, line", [
    (["-p", "epoch", "2"], "sclib: error: unknown parameter(s) ['epoch'] for lr_onecycle; allowed:"),
    (["-p", "epochs", "two"], "sclib: error: epochs must be an int, got 'two'"),
    (["-p", "profile", "laptop"], "sclib: error: profile='laptop' is not one of: smoke, cpu, gpu"),
])
def test_plain_papermill_rejects_bad_parameters_in_one_line(tmp_path, args, line):
    """The notebook itself checks what papermill injected: same line as `sclib run`, exit 1."""
    out = tmp_path / "out.ipynb"
    r = subprocess.run([sys.executable, "-m", "papermill", "notebooks/lr_onecycle.ipynb", str(out), *args],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr[-2000:]
    # papermill ends its report with the cell's error: our one line, not a traceback
    assert r.stderr.rstrip().splitlines()[-1].startswith(line), r.stderr[-2000:]
    import nbformat

    errors = [o for c in nbformat.read(out, 4).cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].traceback == [errors[0].traceback[0]]
    assert errors[0].traceback[0].startswith(line)
