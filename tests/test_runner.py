"""Staleness: a page is re-executed only when its source, its sclib code or its profile changed."""
import json
import shutil

import nbformat
import pytest

from sclib import runner


@pytest.fixture
def tree(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    shutil.copytree(runner.ROOT / "sclib", tmp_path / "sclib")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("from sclib import metrics\nx = 1")])
    nbformat.write(nb, tmp_path / "notebooks" / "demo.ipynb")
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    monkeypatch.setattr(runner, "NOTEBOOKS", tmp_path / "notebooks")
    monkeypatch.setattr(runner, "BOOK", tmp_path / "book")
    return tmp_path


def stamp(tree, profile="cpu"):
    nb = nbformat.read(tree / "notebooks" / "demo.ipynb", 4)
    nb.metadata["sclib"] = {"fingerprint": runner.fingerprint("demo", profile)}
    nbformat.write(nb, tree / "book" / "demo.ipynb")


def test_missing_then_fresh(tree):
    assert runner.stale_reason("demo") == "missing"
    stamp(tree)
    assert runner.stale_reason("demo") is None


def test_source_change_makes_stale(tree):
    stamp(tree)
    p = tree / "notebooks" / "demo.ipynb"
    nb = nbformat.read(p, 4)
    nb.cells[0].source += "\ny = 2"
    nbformat.write(nb, p)
    assert runner.stale_reason("demo") == "source changed"


def test_outputs_alone_do_not_make_stale(tree):
    stamp(tree)
    p = tree / "notebooks" / "demo.ipynb"
    nb = nbformat.read(p, 4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nbformat.write(nb, p)
    assert runner.stale_reason("demo") is None


def test_used_sclib_change_makes_stale_unused_does_not(tree):
    stamp(tree)
    (tree / "sclib" / "strokes_demo.py").write_text("X = 1\n")       # a module demo does not use
    (tree / "sclib" / "cli.py").write_text((tree / "sclib" / "cli.py").read_text() + "\n# doc\n")
    assert runner.stale_reason("demo") is None
    m = tree / "sclib" / "metrics.py"
    m.write_text(m.read_text() + "\n# changed\n")
    assert runner.stale_reason("demo") == "sclib changed"


def test_profile_change_makes_stale(tree):
    stamp(tree, profile="smoke")
    assert runner.stale_reason("demo", "cpu") == "profile changed"


def test_parse_value_never_evaluates():
    assert runner.parse_value("3") == 3 and runner.parse_value("0.1") == 0.1
    assert runner.parse_value("__import__('os')") == "__import__('os')"
    with pytest.raises(Exception, match="scalar"):
        runner.parse_value("[1, 2]")


def test_registries_are_fingerprinted_by_the_entries_a_page_uses(tree):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from sclib import papers, profiles\nprofiles.resolve('lr_onecycle', profile)\n"
        "papers.value('quickdraw.map3.onecycle.epoch1')")])
    nbformat.write(nb, tree / "notebooks" / "demo.ipynb")
    stamp(tree)
    fp = runner.fingerprint("demo", "cpu")
    prof = tree / "sclib" / "profiles.py"
    pap = tree / "sclib" / "papers.py"
    # a new chapter's profile table and paper value: not used by demo -> still fresh
    prof.write_text(prof.read_text().replace('CHAPTERS = {', 'CHAPTERS = {\n    "other": {"cpu": dict(epochs=1)},', 1))
    pap.write_text(pap.read_text().replace('PAPER = {', 'PAPER = {\n    "other.value": V(1.0, SEED_KTH, "x"),', 1))
    assert runner.fingerprint("demo", "cpu") == fp
    # a value demo reads changes -> stale
    pap.write_text(pap.read_text().replace("0.90641", "0.9"))
    assert runner.stale_reason("demo") == "sclib changed"
