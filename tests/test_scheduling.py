"""How ``make test`` spreads the tests over its xdist workers (the root conftest.py): a notebook is
one unit, and the longest units start first."""
import importlib.util
import json

from conftest import ROOT
from sclib import runner

# the repository's root conftest.py (``conftest`` here is tests/conftest.py)
_spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
root_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(root_conftest)
DURATIONS, longest_first = root_conftest.DURATIONS, root_conftest.longest_first
recorded_durations, scope_of = root_conftest.recorded_durations, root_conftest.scope_of


def test_a_notebook_is_one_unit_and_a_test_its_own():
    assert scope_of("notebooks/kth_verification.ipynb::Cell 12") == "notebooks/kth_verification.ipynb"
    assert scope_of("tests/test_browser.py::test_links[summary]") == "tests/test_browser.py"
    t = "tests/test_dryrun.py::test_every_chapter_dry_runs_at_the_gpu_profile[clr_sgdr]"
    assert scope_of(t) == t


def test_the_longest_recorded_units_go_first():
    units = {"short": ["a"], "long": ["b"], "new notebook": ["c0", "c1", "c2"], "new test": ["d"],
             "mid": ["e0", "e1"]}
    known = {"short": 2.0, "long": 300.0, "mid": 40.0}
    order = [scope for scope, _ in longest_first(units, known)]
    # a unit of several tests without a record may be long: it goes first; one test without: last
    assert order == ["new notebook", "long", "mid", "short", "new test"]
    assert [scope for scope, _ in longest_first({"x": ["1"], "y": ["1", "2"]}, {})] == ["y", "x"]


def test_the_record_names_every_notebook_and_dry_run():
    """tests/durations.json is read as it is committed: every notebook and every chapter's dry run
    has its seconds there (re-record with SCLIB_DURATIONS=tests/durations.json make test)."""
    known = recorded_durations()
    assert known == {k: float(v) for k, v in json.loads(DURATIONS.read_text()).items()}
    for name in runner.notebook_names():
        assert known.get(f"notebooks/{name}.ipynb", 0) > 0, name
    for name in runner.notebook_names():
        if name != "summary":
            unit = f"tests/test_dryrun.py::test_every_chapter_dry_runs_at_the_gpu_profile[{name}]"
            assert known.get(unit, 0) > 0, unit
