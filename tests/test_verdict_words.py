"""Verdicts are made in one place: no verdict word is computed outside ``sclib/report.py``.

Scans the string literals (f-string parts included, docstrings excluded) of every sclib module
and of every notebook's code cells. Prose in markdown cells and comments may use the words; a
chapter that needs a label compares with ``report.REPRODUCED`` etc. or ``report.label_of``.
"""
import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORDS = re.compile(r"\b(reproduced|contradicted|inconclusive|not significant|partly|not testable)\b",
                   re.IGNORECASE)


def _docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                yield id(body[0].value)


def verdict_literals(source: str) -> list:
    """(line, text) of every string literal in ``source`` that holds a verdict word."""
    source = "\n".join("#" + l if l.lstrip().startswith(("%", "!")) else l for l in source.split("\n"))
    tree = ast.parse(source)
    skip = set(_docstrings(tree))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in skip and WORDS.search(node.value)]


def _modules():
    return sorted(p for p in (ROOT / "sclib").glob("*.py") if p.name != "report.py")


def _notebooks():
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_no_verdict_words_in_sclib_modules(path):
    found = verdict_literals(path.read_text())
    assert not found, f"{path.name} computes verdict text outside sclib.report: {found[:3]}"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_no_verdict_words_in_notebook_code(path):
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    found = []
    for i, c in enumerate(cells):
        found += [(i, text) for _, text in verdict_literals("".join(c["source"]))]
    assert not found, f"{path.name} computes verdict text outside sclib.report: {found[:3]}"


def test_the_scan_sees_a_planted_verdict():
    assert verdict_literals('v = "reproduced" if d > s else "not significant at this scale"')
    assert verdict_literals('v = f"{x}: contradicted"')
    assert not verdict_literals('def f():\n    """Reproduced from the paper."""\n    return 1')
    assert not verdict_literals("# reproduced in a comment\nx = 1")


# The plateau rule gates rows into "not run": it is part of the verdict, so it too lives in sclib.report
# (report.PLATEAU_POINTS, at_plateau, gated). A chapter that compares a gain with its own number, or
# declares its own plateau constant, has a second rule.
OWN_PLATEAU = re.compile(r"(\w*gain\w*\b[^\n#]*?(<=|>=|<|>)\s*\d)|(PLATEAU\w*\s*=\s*[\d.]+)")
STRING = re.compile(r'"[^"\n]*"|\'[^\'\n]*\'')  # a claim's text may say "gain > 0"


def own_plateau_rules(source: str) -> list:
    return [line.strip() for line in source.split("\n")
            if OWN_PLATEAU.search(STRING.sub('""', line).split("#")[0])]


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_no_notebook_has_its_own_plateau_rule(path):
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    found = [hit for c in cells for hit in own_plateau_rules("".join(c["source"]))]
    assert not found, f"{path.name} decides the plateau itself (use sclib.report.at_plateau / gated): {found[:3]}"


def test_the_plateau_scan_sees_a_planted_rule():
    assert own_plateau_rules("starved = gain['large'] > 2")
    assert own_plateau_rules("PLATEAU = 2.0  # points")
    assert own_plateau_rules('x = "a" if lb_gain <= 2 else "b"')
    assert not own_plateau_rules("ok = report.at_plateau(gain)\nPLATEAU = report.PLATEAU_POINTS")
    assert not own_plateau_rules("# gain > 2 in a comment")
    assert not own_plateau_rules('claim = "mixup helps (Fixup\'s gain − BatchNorm\'s > 0)"')
