"""The README's cost tables come from the pages' records (sclib.walltimes), never by hand."""
import json
import subprocess
from argparse import Namespace

import pytest

from sclib import runner, walltimes
from sclib.errors import ConfigError


def _full_clone() -> bool:
    try:
        return not walltimes.shallow()
    except ConfigError:  # no git, or not a clone
        return False


@pytest.mark.skipif(not _full_clone(), reason="needs the repository's whole git history (not a shallow clone)")
def test_readme_holds_the_tables_the_records_make():
    text = walltimes.README.read_text()
    assert walltimes.render(text, walltimes.blocks()) == text, \
        "README.md's cost tables differ from the pages' records: run `make times` and commit README.md"


def _cell(start, end):
    return {"cell_type": "code", "metadata": {"execution": {
        "iopub.execute_input": start, "shell.execute_reply": end}}}


def test_smoke_time_spans_first_start_to_last_reply():
    nb = {"cells": [_cell("2026-01-01T10:00:05.000000Z", "2026-01-01T10:00:07.500000Z"),
                    {"cell_type": "markdown", "metadata": {}},
                    _cell("2026-01-01T10:00:08.000000Z", "2026-01-01T10:01:05.250000Z")]}
    assert walltimes.smoke_seconds(nb) == pytest.approx(60.25)
    assert walltimes.smoke_seconds({"cells": [{"cell_type": "code", "metadata": {}}]}) is None


def _page(seconds, profile="cpu", executed=None, end=None, hw="AMD EPYC 7B13, x86_64, 2 CPU cores, 2 torch threads",
          parameters=None):
    rec = {"fingerprint": {"profile": profile}, "seconds": seconds, "hardware": hw, "parameters": parameters or {}}
    if executed:
        rec["executed"] = executed
    meta = {"sclib": rec}
    if end:
        meta["papermill"] = {"end_time": end}
    return json.dumps({"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository with book/demo.ipynb committed three times."""
    (tmp_path / "book").mkdir()
    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)
    git("init", "-q")
    git("config", "user.email", "t@t")
    git("config", "user.name", "t")
    page = tmp_path / "book" / "demo.ipynb"
    for text in (_page(600.0, executed="2026-11-01 10:00 UTC"),     # the longest cpu execution
                 _page(999.0, profile="smoke", executed="2026-11-02 10:00 UTC"),  # not a cpu page
                 _page(888.0, executed="2026-11-03 10:00 UTC", parameters={"epochs": 50}),  # not the profile as it is
                 _page(60.0, end="2026-11-05T09:00:00+00:00")):    # dated by papermill
        page.write_text(text)
        git("add", "-A")
        git("commit", "-q", "-m", "page")
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    monkeypatch.setattr(runner, "BOOK", tmp_path / "book")
    return tmp_path


def test_longest_is_read_from_the_history_and_dated_by_the_page(repo):
    assert [r["seconds"] for r in walltimes.history("demo")] == [60.0, 600.0]   # smoke and -p pages left out
    top, last = walltimes.longest("demo"), walltimes.last("demo")
    assert top["seconds"] == 600.0 and top["executed"].startswith("2026-11-01")
    assert last["seconds"] == 60.0 and last["executed"] == "2026-11-05"


def test_longest_is_never_below_an_uncommitted_last_execution(repo):
    (repo / "book" / "demo.ipynb").write_text(_page(900.0, executed="2026-11-09 10:00 UTC"))
    assert walltimes.longest("demo")["seconds"] == 900.0


def test_write_refuses_a_shallow_clone(repo, tmp_path_factory, monkeypatch):
    assert not walltimes.shallow()
    clone = tmp_path_factory.mktemp("clone") / "c"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(clone)], check=True)
    monkeypatch.setattr(runner, "ROOT", clone)
    assert walltimes.shallow()
    readme = clone / "README.md"
    readme.write_text("x\n" + "\n".join(walltimes.TIMES + walltimes.PLAN) + "\n")
    monkeypatch.setattr(walltimes, "README", readme)
    monkeypatch.setattr(walltimes, "blocks", lambda: {walltimes.TIMES: "T", walltimes.PLAN: "P"})
    before = readme.read_text()
    with pytest.raises(ConfigError, match="shallow"):
        walltimes.main(Namespace(write=True))
    assert readme.read_text() == before


def test_render_replaces_between_the_markers_and_checks_them():
    b, e = walltimes.TIMES
    text = f"intro\n{b}\nold table\n{e}\nrest\n"
    out = walltimes.render(text, {walltimes.TIMES: "| new |"})
    assert out == f"intro\n{b}\n| new |\n{e}\nrest\n"
    assert walltimes.render(out, {walltimes.TIMES: "| new |"}) == out          # idempotent
    for bad in (f"{b}\n{e}\n{b}\n{e}", f"{e}\n{b}", "no markers"):
        with pytest.raises(ConfigError, match="markers"):
            walltimes.render(bad, {walltimes.TIMES: "x"})


def test_machine_names_are_shortened():
    assert walltimes._machine("Intel(R) Xeon(R) Processor, x86_64, 2 CPU cores, 2 torch threads") == "Intel Xeon, 2 cores"
    assert walltimes._machine("AMD EPYC 7B13 64-Core Processor, x86_64, 2 CPU cores, 2 torch threads") == \
        "AMD EPYC 7B13, 2 cores"
    assert walltimes._machine(None) == "machine not recorded"
    assert walltimes._machine("NVIDIA H200 (AMD EPYC 9654, x86_64, 16 CPU cores, 16 torch threads)") == "NVIDIA H200"


def test_without_git_history_the_error_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "ROOT", tmp_path)                # a folder that is no clone
    with pytest.raises(ConfigError, match="git history"):
        walltimes.history("demo")
