"""The summary page's forest plot reads back every row the chapters publish (sclib.forest).

Every row of every committed book page must parse: a chapter that prints its effect in a new way
fails here, not silently as a missing dot on the summary page."""
import json
from pathlib import Path

import numpy as np
import pytest

from sclib import forest, report, runner

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
PAGES_WITH_ROWS = [p.stem for p in sorted(BOOK.glob("*.ipynb")) if report.read_rows(p)]


def test_some_pages_publish_rows():
    assert len(PAGES_WITH_ROWS) >= 5


@pytest.mark.parametrize("name", PAGES_WITH_ROWS)
def test_every_published_row_parses(name):
    for r in report.read_rows(BOOK / f"{name}.ipynb"):
        try:
            e = forest.parse_row(r)
        except forest.RowParseError as exc:
            pytest.fail(f"{name}: cannot read back a row: {exc}")
        label = report.label_of(r["verdict"])
        if e.kind != "claim":
            assert label in (report.EXACT, report.NOT_RUN) or r["seeds"] == "—", (name, r)
            continue
        assert e.seeds == int(r["seeds"]), (name, r)
        if r["95% CI"] != "—":  # a row with a CI is always plotted, in a known unit
            assert e.has_ci and e.effect is not None and e.unit in forest.UNIT_NAMES, (name, r)
            assert e.lo <= e.hi, (name, r)
        if e.paper:
            assert e.paper_absent is None and len(e.paper) == len(e.paper_shown)
        else:
            assert e.paper_absent in (forest.QUALITATIVE, forest.OTHER_UNITS)
        assert forest.value_text(e)


def _row(ours, ci, paper="qualitative", verdict=None, seeds=3):
    return {"claim": "c", "source": "s", "paper": paper, "ours": ours, "95% CI": ci, "seeds": seeds,
            "scale": "x", "verdict": verdict or report.INCONCLUSIVE}


@pytest.mark.parametrize("ours, ci, paper, want", [
    ("+8.26%", "[-2.47%, +18.99%]", "+1.20% (ResNet-56, CIFAR-10)", (8.26, "points", (1.2,))),
    ("1.27× (to 77.5%)", "[1.00, 1.50]", "8× fewer iterations", (1.27, "×", (8.0,))),
    ("-4.13 points (71.8 ± 1.0 vs 76.0 ± 0.3)", "[-6.86, -1.41]", "≥ −3 points at 0.25·N epochs",
     (-4.13, "points", (-3.0,))),
    ("32.5 vs 35.2 % (-2.8 points)", "[-12.3, +6.8]", "81.3 vs 82.1 % (-0.8 points)", (-2.8, "points", (-0.8,))),
    ("+0.8 points", "[-5.6, +7.1]", "+1.4 vs -2.4 points", (0.8, "points", (3.8,))),
    ("error 29.42 vs 23.24 % (accuracy -6.18 points)", "[-6.37, -5.99]", "error 23.74 vs 23.60 % (kn 8192 vs 256)",
     (-6.18, "points", (-0.14,))),
    ("79.94% vs 80.19% (Δ -0.24%)", "[-1.23%, +0.74%]",
     "Inception-v2: top-1 error 23.1% → 22.8%; ResNet-50-D: top-1 77.91% → 78.31%", (-0.24, "points", (0.3, 0.4))),
    ("-0.040", "[-0.075, -0.004]", "CIFAR-10 PreAct ResNet-18: error 5.6% → 4.2% (+0.014)", (-0.04, "", (0.014,))),
    ("-0.006", "[-0.025, +0.014]", "+0.0016 (75.87 → 76.03%, Table 4 (BS=256))", (-0.006, "", (0.0016,))),
    ("√v̂/|g| 0.96 (β₂ 0.999) vs 1.01 (0.9)", "[-0.53, +0.44]", "~1000 steps", (-0.05, "", ())),
    ("‖ḡ‖/predicted 1.07 (geometric mean, log₂ +0.10); cos 0.95", "[-0.25, +0.46]", "∂L/∂W = −βW", (0.1, "log₂", ())),
])
def test_effects_and_paper_values_in_the_same_units(ours, ci, paper, want):
    e = forest.parse_row(_row(ours, ci, paper))
    assert e.kind == "claim"
    assert e.effect == pytest.approx(want[0]) and e.unit == want[1]
    assert e.paper == pytest.approx(want[2])


def test_bounds_and_absent_paper_values():
    e = forest.parse_row(_row("-1.93 points", "[-6.78, +2.91]", "≥ −3 points at 0.25·N epochs"))
    assert e.paper_bound == "≥" and "≥ -3 points" in forest.value_text(e)
    assert forest.parse_row(_row("+3.95%", "[-5.82%, +13.73%]", "close (qualitative)")).paper_absent == forest.QUALITATIVE
    assert forest.parse_row(_row("+3.95%", "[-5.82%, +13.73%]", "fails at LR 0.1 (Figure 3)")).paper_absent == \
        forest.OTHER_UNITS
    # a paper value in other units than ours is not plotted beside it
    e = forest.parse_row(_row("-0.086", "[-0.2, +0.03]", "ResNet-50: 24.0% vs 23.3%; ResNet-101: 21.4% vs 20.8%"))
    assert e.paper == () and e.paper_absent == forest.OTHER_UNITS


def test_rows_without_a_ci():
    e = forest.parse_row(_row("17.9% vs 44.2% (Δ -26.30%)", "—", seeds=1))
    assert (e.effect, e.unit, e.has_ci) == (-26.3, "points", False) and "1 seed: no CI" in forest.value_text(e)
    e = forest.parse_row(_row("diverged (NaN loss)", "—", seeds=1))
    assert e.kind == "claim" and e.effect is None


def test_checks_and_rows_not_run_are_recognised_by_reports_own_rows():
    for holds in (True, False):
        r = report.exact("c", "s", "as stated", "1.6661", scale="x", holds=holds)
        assert forest.parse_row(r).kind == "check"
    assert forest.parse_row(report.not_run("c", "s", "+20 points", scale="x", reason="no GPU")).kind == "not run"


@pytest.mark.parametrize("ours, ci", [
    ("about eight points", "[+1.0, +9.0]"),       # no number to read
    ("+5.2 points", "[+1.4, +9.0"),               # a malformed CI
    ("+12.0 points", "[+1.4, +9.0]"),             # the number read lies outside its CI
    ("+2.0 points", "[+1.4, +9.0]"),              # inside, but not the centre of a t-interval
    ("+5.2 points", "[+1.4%, +9.0×]"),            # two units
    ("+5.2", "[+1.4%, +9.0%]"),                   # ours and the CI in different units
])
def test_a_row_that_cannot_be_read_is_refused(ours, ci):
    with pytest.raises(forest.RowParseError):
        forest.parse_row(_row(ours, ci))


def test_report_rows_round_trip():
    """Rows made by report.row, as chapters make them, read back to the verdict's numbers."""
    rng = np.random.default_rng(0)
    base = rng.normal(0.80, 0.01, 5)
    v = report.verdict(base + 0.02 + rng.normal(0, 0.003, 5), base, claim="greater")
    for kw in ({"fmt": "{:+.2%}"}, {"fmt": "{:+.3f}"}):
        e = forest.parse_row(report.row("c", "s", "qualitative", v, scale="x", **kw))
        scale = 100 if "%" in kw["fmt"] else 1
        assert e.effect == pytest.approx(v.diff * scale, abs=0.006 * scale)
        assert (e.lo, e.hi) == pytest.approx(tuple(x * scale for x in v.ci), abs=0.006 * scale)
    s = report.speed_verdict([2.0, 3.0, 2.0, 2.0], [8.0, 8.0, 7.0, 8.0], claim_ratio=4.0)
    e = forest.parse_row(report.row("c", "s", "4× fewer epochs", s, scale="x", fmt="{:.2f}", unit="×"))
    assert e.unit == "×" and e.effect == pytest.approx(s.diff, abs=0.005) and e.paper == (4.0,)


def _rows():
    good = report.verdict([0.9, 0.91, 0.92], [0.8, 0.8, 0.81], claim="greater")
    bad = report.verdict([0.7, 0.71, 0.72], [0.8, 0.8, 0.81], claim="greater")
    few = report.verdict([0.9, 0.91], [0.8, 0.8], claim="greater")
    return {
        "a": [report.row("A holds", "s", "+5.00 points", good, scale="x", fmt="{:+.2f}", unit=" points"),
              report.row("A fails", "s", "qualitative", bad, scale="x", fmt="{:+.2f}", unit=" points")],
        "b": [report.row("B few seeds", "s", "qualitative", few, scale="x", fmt="{:+.3f}"),
              report.exact("B formula", "s", "as stated", "1.0", scale="x"),
              report.exact("B printed formula", "s", "x²", "x³", scale="x", holds=False),
              report.not_run("B at scale", "s", "+1", scale="x", reason="no GPU here")],
        "c": None,
    }


def test_conclusions_per_part_are_written_from_the_rows():
    part_list = [("Part one", ["a"]), ("Part two", ["b", "c"]), ("Empty", ["c"])]
    text = forest.conclusions(_rows(), part_list, {"a": "Chapter A"})
    assert "**Part one.**" in text and "**Part two.**" in text and "Empty" not in text
    one, two = text.split("**Part two.**")
    assert "A holds — ours +0.11 points" in one.split("*What did not*")[0]      # a measured value, read
    assert "A fails" in one.split("*What did not*")[1].split("*What this scale")[0]
    assert "n < 3 (1)" in two and "1 exact check" in two and "no GPU here" in two
    assert "B printed formula — ours x³ (an exact check" in two.split("*What did not*")[1]
    # the same counts as the headline: a failed check is a claim that did not hold
    tested = sum(int(t.split("Of ")[1].split(" ")[0]) for t in text.split("**")[2::2])
    assert f"Of {tested} claims tested" in report.headline(_rows())


def test_the_figure_has_one_line_per_claim():
    part_list = [("Part one", ["a"]), ("Part two", ["b", "c"])]
    fig = forest.figure(_rows(), part_list)
    png = forest.png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == forest.png(forest.figure(_rows(), part_list))
    texts = [t.get_text() for t in fig.texts]
    assert {"A holds", "A fails", "B few seeds"} <= set(texts)
    assert "B formula" not in texts and "B printed formula" not in texts and "B at scale" not in texts


def test_parts_follow_the_toc():
    part_list = forest.parts()
    assert [p for _, pages in part_list for p in pages] == runner.toc_pages()
    assert all(caption for caption, _ in part_list)


def test_the_summary_page_glues_the_plot_and_the_conclusions():
    nb = json.loads((ROOT / "notebooks" / "summary.ipynb").read_text())
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    prose = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "forest.figure(" in code and "forest.conclusions(" in code
    assert "{glue:figure} summary_forest" in prose and "{glue} summary_parts" in prose
    assert prose.index("summary_forest") < prose.index("summary_parts") < prose.index("summary_counts")


def test_prose_without_the_difference_reads_the_centre_of_a_t_interval():
    # "ours" names the arms, not their difference: a paired t-interval is centred on it
    e = forest.parse_row(_row("WD 1e-05: 52.8%, WD 0.0001: 51.6%, WD 0.001: 39.2%", "[+6.67%, +20.34%]"))
    assert (e.effect, e.unit) == (pytest.approx(13.505), "points")
    e = forest.parse_row(_row("20.3% vs 90% of the peak 27.3%", "[-14.19%, +5.58%]"))
    assert e.effect == pytest.approx(-4.305)
    # a bootstrapped ratio is not centred: only a degenerate interval gives its value
    e = forest.parse_row(_row("budgets to the target: one-cycle 2, conventional 2", "[×1.0, ×1.0]"))
    assert (e.effect, e.unit) == (1.0, "×")
    with pytest.raises(forest.RowParseError):
        forest.parse_row(_row("budgets to the target: one-cycle 2, conventional 3", "[×1.0, ×2.0]"))
