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
    shutil.copytree(runner.ROOT / "sclib", tmp_path / "sclib", ignore=shutil.ignore_patterns("__pycache__"))
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


def _chapter_page(tree, name="lr_onecycle"):
    """A notebook named after a chapter (its profile table is in its fingerprint), and its page."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"from sclib import profiles\nprofiles.resolve({name!r}, profile)")])
    nbformat.write(nb, tree / "notebooks" / f"{name}.ipynb")
    nb.metadata["sclib"] = {"fingerprint": runner.fingerprint(name, "cpu")}
    nbformat.write(nb, tree / "book" / f"{name}.ipynb")
    return tree / "book" / f"{name}.ipynb"


def test_a_profile_table_is_fingerprinted_by_its_values_not_its_layout(tree):
    """Sections and key order are layout: writing big=dict(epochs=8) as big_epochs=8, or moving a
    key, leaves a page fresh; a changed value (even 8 -> 8.0) makes it stale."""
    prof = tree / "sclib" / "profiles.py"
    src = prof.read_text()
    flat = src  # lr_onecycle's section big (plateau runs) written as flat keys, in another place
    for a, b in (("rule_seeds=3, big=dict(epochs=8, seeds=3),", "big_seeds=3, big_epochs=8, rule_seeds=3,"),
                 ("big=dict(seeds=1)", "big_seeds=1"), ("big=dict(epochs=64)", "big_epochs=64")):
        assert src.count(a) == 1
        flat = flat.replace(a, b)
    _chapter_page(tree)
    assert runner.stale_reason("lr_onecycle") is None
    prof.write_text(flat)
    assert runner.stale_reason("lr_onecycle") is None
    prof.write_text(flat.replace("big_epochs=8", "big_epochs=8.0"))
    assert runner.stale_reason("lr_onecycle") == "sclib changed"


def _migrates_once(page, what, migrate, capsys):
    """``sclib restyle --migrate`` rewrites the page's ``what`` hash, the page is then fresh, and a
    second migration changes nothing."""
    from sclib import cli

    assert cli.main(["restyle", "--migrate"]) == 0
    assert f"migrated the {what} hash of book/{page.name}" in capsys.readouterr().out
    assert runner.stale_reason(page.stem) is None
    after = page.read_bytes()
    assert migrate(page.stem) is False and page.read_bytes() == after   # idempotent


def test_profile_hash_migration_rewrites_fresh_pages_only_and_is_idempotent(tree, capsys):
    p = _chapter_page(tree)
    page = nbformat.read(p, 4)
    page.metadata["sclib"]["fingerprint"]["sclib"] = runner.sclib_hash("lr_onecycle", rule=1)  # an old page
    nbformat.write(page, p)
    assert runner.stale_reason("lr_onecycle") == "sclib changed"
    _migrates_once(p, "profile", runner.migrate_profile_hash, capsys)
    # a page stale under the old rule (recorded from another table) stays stale
    prof = tree / "sclib" / "profiles.py"
    nbformat.write(page, p)
    prof.write_text(prof.read_text().replace("suggestion_epochs=2,", "suggestion_epochs=3,", 1))
    assert runner.migrate_profile_hash("lr_onecycle") is False
    assert runner.stale_reason("lr_onecycle") == "sclib changed"
    # a page recorded before the tables had sections: its hash is looked up, nothing else moves
    page.metadata["sclib"]["fingerprint"]["sclib"] = "7b8a77f33ed6b7d9"
    nbformat.write(page, p)
    assert runner.migrate_profile_hash("lr_onecycle") is True
    assert runner.recorded("lr_onecycle")["fingerprint"]["sclib"] == runner.RULE1_RECORDED["7b8a77f33ed6b7d9"]


# ---------------------------------------------------------------- presentation-only changes
def _edit(tree, fn):
    p = tree / "notebooks" / "demo.ipynb"
    nb = nbformat.read(p, 4)
    fn(nb)
    nbformat.write(nb, p)


def _prose_notebook(tree):
    """demo as a chapter: a title, a parameters cell, a plumbing cell, prose between."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Demo\n\nIntro with a tpyo."),
        nbformat.v4.new_code_cell("profile = 'smoke'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from sclib import metrics\nx = 1\nx"),
        nbformat.v4.new_markdown_cell("## Results\n\nSome prose."),
        nbformat.v4.new_code_cell("glue_x = x"),
    ])
    nbformat.write(nb, tree / "notebooks" / "demo.ipynb")


def _execute_like_papermill(tree):
    """book/demo.ipynb as runner.execute writes it, without a kernel: injected parameters after
    the parameters cell, outputs, papermill's cell records, the run-info note, the fingerprint."""
    nb = nbformat.read(tree / "notebooks" / "demo.ipynb", 4)
    for c in nb.cells:
        c.metadata.setdefault("tags", [])
        c.metadata["papermill"] = {"status": "completed"}
        if c.cell_type == "code":
            c.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=1)]
            c.execution_count = 1
    i = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata["tags"])
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell("# Parameters\nprofile = 'cpu'\n",
                                                     metadata={"tags": [runner.INJECTED_TAG]}))
    runner._insert_header(nb, runner._header_cell("demo", "cpu", {}, 60.0, "HW", "9.9", "WHEN"))
    nb.metadata["papermill"] = {"parameters": {"profile": "cpu"}}
    nb.metadata["sclib"] = {"fingerprint": runner.fingerprint("demo", "cpu"), "parameters": {},
                            "seconds": 60.0, "hardware": "HW", "torch": "9.9", "executed": "WHEN"}
    nbformat.write(nb, tree / "book" / "demo.ipynb")


def test_prose_and_presentation_tags_do_not_make_stale(tree):
    _prose_notebook(tree)
    _execute_like_papermill(tree)
    assert runner.stale_reason("demo") is None

    def prose(nb):
        nb.cells[0].source = "# Demo\n\nIntro without a typo."
        nb.cells.insert(3, nbformat.v4.new_markdown_cell("A new paragraph."))
        nb.cells[2].metadata["tags"] = ["remove-input", "hide-output"]
        nb.cells[5].metadata["tags"] = ["remove-cell"]
        nb.metadata["sclib"] = {"reproduces": "Fig. 2"}
    _edit(tree, prose)
    assert runner.stale_reason("demo") is None


@pytest.mark.parametrize("change", ["code", "result tag"])
def test_code_and_result_tags_make_stale(tree, change):
    _prose_notebook(tree)
    _execute_like_papermill(tree)

    def edit(nb):
        if change == "code":
            nb.cells[2].source += "\ny = 2"
        else:  # a tag that changes what runs: not presentation
            nb.cells[2].metadata["tags"] = ["raises-exception"]
    _edit(tree, edit)
    assert runner.stale_reason("demo") == "source changed"


def test_restyle_copies_prose_and_tags_keeps_outputs(tree):
    _prose_notebook(tree)
    _execute_like_papermill(tree)
    before = nbformat.read(tree / "book" / "demo.ipynb", 4)

    def prose(nb):
        nb.cells[0].source = "# Demo\n\nIntro without a typo."
        nb.cells[3].source = "## Results, corrected"
        nb.cells.insert(4, nbformat.v4.new_markdown_cell("A new paragraph."))
        nb.cells[5].metadata["tags"] = ["remove-input"]
        nb.metadata["sclib"] = {"reproduces": "Fig. 2"}
    _edit(tree, prose)
    assert runner.restyle("demo") is True
    page = nbformat.read(tree / "book" / "demo.ipynb", 4)
    md = [c.source for c in page.cells if c.cell_type == "markdown"
          and "sclib-run-info" not in c.metadata["tags"]]
    assert md == ["# Demo\n\nIntro without a typo.", "## Results, corrected", "A new paragraph."]
    assert page.cells[1].metadata["tags"] == ["sclib-run-info"]          # the note after the title
    assert "**Reproduces:** Fig. 2" in page.cells[1].source              # rewritten from the notebook
    assert page.cells[1].id == before.cells[1].id
    code = [c for c in page.cells if c.cell_type == "code"]
    assert [c.metadata["tags"] for c in code] == [["parameters"], [runner.INJECTED_TAG], [], ["remove-input"]]
    assert [c.outputs for c in code] == [c.outputs for c in before.cells if c.cell_type == "code"]
    assert all(c.metadata.get("papermill") for c in code if c.metadata["tags"] != [runner.INJECTED_TAG])
    assert page.metadata["sclib"]["fingerprint"] == before.metadata["sclib"]["fingerprint"]
    assert page.metadata["sclib"]["reproduces"] == "Fig. 2" and page.metadata["papermill"]
    assert runner.stale_reason("demo") is None
    assert runner.restyle("demo") is False                               # nothing left to copy
    assert not list((tree / ".sclib-tmp").glob("*"))


def test_restyle_refuses_when_the_code_differs(tree, capsys):
    from sclib import cli
    from sclib.errors import ConfigError

    _prose_notebook(tree)
    _execute_like_papermill(tree)
    _edit(tree, lambda nb: setattr(nb.cells[2], "source", "x = 2"))
    page = (tree / "book" / "demo.ipynb").read_bytes()
    with pytest.raises(ConfigError, match=r"re-execute it: python -m sclib run demo --into-book"):
        runner.restyle("demo")
    assert (tree / "book" / "demo.ipynb").read_bytes() == page
    assert cli.main(["restyle", "demo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sclib: error: book/demo.ipynb was executed from other code")


def test_migration_rewrites_old_style_hashes_of_fresh_pages_only_and_is_idempotent(tree, capsys):
    _prose_notebook(tree)
    _execute_like_papermill(tree)
    p = tree / "book" / "demo.ipynb"

    def record(source):
        nb = nbformat.read(p, 4)
        nb.metadata["sclib"]["fingerprint"]["source"] = source
        nbformat.write(nb, p)

    record(runner._source_hash_v1("demo"))            # a page executed before code-only hashes
    assert runner.stale_reason("demo") == "source changed"
    _migrates_once(p, "source", runner.migrate_source_hash, capsys)
    # a page that was stale (its old hash is of another source) stays stale
    _edit(tree, lambda nb: setattr(nb.cells[2], "source", "from sclib import metrics\nx = 3"))
    record(runner._source_hash_v1("demo"))
    _edit(tree, lambda nb: setattr(nb.cells[2], "source", "from sclib import metrics\nx = 4"))
    assert runner.migrate_source_hash("demo") is False
    assert runner.stale_reason("demo") == "source changed"


def test_a_profile_table_is_read_never_evaluated():
    import ast

    node = ast.parse("profile(cpu=dict(a=1 / 100, b=[-1, 2.0]), smoke={}, gpu=dict(a=0.5))", mode="eval").body
    assert runner._table_value(node)["gpu"] == {"a": 0.5, "b": [-1, 2.0]}
    with pytest.raises(ValueError, match="literals"):
        runner._table_value(ast.parse("profile(cpu=dict(a=open('x')), smoke={}, gpu={})", mode="eval").body)


def test_stale_check_fails_while_a_page_is_stale(tree, capsys):
    """CI's gate (`sclib stale --check`): status 1 naming the stale page, 0 once it is fresh."""
    from sclib import cli

    assert cli.main(["stale"]) == 0                       # listing alone never fails
    assert cli.main(["stale", "--check"]) == 1
    assert "demo" in capsys.readouterr().err
    stamp(tree)
    assert cli.main(["stale", "--check"]) == 0
