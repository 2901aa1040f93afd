"""The run-info note every executed page opens with: what it reproduces, profile, data,
hardware, torch, wall time and the exact command to rerun it (sclib.runner)."""
import shutil

import nbformat
import pytest

from sclib import profiles, runner


@pytest.fixture
def tree(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    shutil.copytree(runner.ROOT / "sclib", tmp_path / "sclib", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    monkeypatch.setattr(runner, "NOTEBOOKS", tmp_path / "notebooks")
    monkeypatch.setattr(runner, "BOOK", tmp_path / "book")
    return tmp_path


def write(tree, name, title, metadata=None):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(title),
                                         nbformat.v4.new_code_cell("x = 1")])
    if metadata:
        nb.metadata["sclib"] = metadata
    nbformat.write(nb, tree / "notebooks" / f"{name}.ipynb")


def test_reproduces_from_metadata_then_first_markdown(tree):
    write(tree, "lr_onecycle", "# T\n\n**Reproduces:** Fig. 1 of `002_e8e2b0b656892e08.txt` and "
                               "`003_4ce0f1eb6a214195.txt`, again `002_e8e2b0b656892e08.txt`.\n\nMore.")
    assert runner.reproduces_text("lr_onecycle") == (
        "the parts of `002_e8e2b0b656892e08.txt`, `003_4ce0f1eb6a214195.txt` named in the "
        "**Reproduces** paragraph above")
    write(tree, "lr_onecycle", "# T", {"reproduces": "`002_e8e2b0b656892e08.txt` Table 2"})
    assert runner.reproduces_text("lr_onecycle") == "`002_e8e2b0b656892e08.txt` Table 2"
    write(tree, "lr_onecycle", "# T")
    assert "nothing from the seeds" in runner.reproduces_text("lr_onecycle")


def test_note_has_data_profile_hardware_wall_time_and_command(tree):
    write(tree, "lr_onecycle", "# T")
    text = runner.run_info_text("lr_onecycle", "cpu", {"epochs": 3}, 90.0, "HW", "9.9", "WHEN")
    assert "**Profile:** `cpu`" in text
    n_train = profiles.resolve("lr_onecycle", "cpu").n_train
    assert "`fashion_mnist`" in text and f"{n_train:,} training images" in text  # resolved parameters
    assert "HW; torch 9.9" in text and "1.5 min" in text and "WHEN" in text
    assert "`python -m sclib run lr_onecycle --profile cpu -p epochs 3`" in text
    assert "`python -m sclib run lr_onecycle --profile cpu -p epochs 6`" in text  # the example
    # the data named by metadata wins, per profile
    write(tree, "lr_onecycle", "# T", {"data": {"cpu": "generated doodles"}})
    assert "**Data:** generated doodles" in runner.run_info_text("lr_onecycle", "cpu", {}, 1, "h", "t", "w")
    assert "`digits`" in runner.run_info_text("lr_onecycle", "smoke", {}, 1, "h", "t", "w")


def test_restamp_rewrites_only_the_note_atomically(tree):
    write(tree, "lr_onecycle", "# T", {"reproduces": "Fig. 9"})
    nb = nbformat.read(tree / "notebooks" / "lr_onecycle.ipynb", 4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("old torch 1.2.3", metadata={"tags": ["sclib-run-info"]}))
    fp = runner.fingerprint("lr_onecycle", "cpu")
    nb.metadata["sclib"] = {"fingerprint": fp, "parameters": {}, "seconds": 120.0, "hardware": "HW"}
    nbformat.write(nb, tree / "book" / "lr_onecycle.ipynb")
    runner.restamp("lr_onecycle")
    out = nbformat.read(tree / "book" / "lr_onecycle.ipynb", 4)
    notes = [c for c in out.cells if "sclib-run-info" in c.metadata.get("tags", [])]
    assert len(notes) == 1 and out.cells[1] is notes[0] and len(out.cells) == 3
    assert "**Reproduces:** Fig. 9" in notes[0].source and "torch 1.2.3" in notes[0].source
    assert "2.0 min" in notes[0].source
    assert out.metadata["sclib"]["fingerprint"] == fp
    assert runner.stale_reason("lr_onecycle") is None
    assert not list((tree / ".sclib-tmp").glob("*"))
