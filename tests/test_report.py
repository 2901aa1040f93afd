"""The verdict engine (sclib.report): its error rates by simulation, its edge cases, its tables.

The simulations use fixed numpy seeds. Where a rate's nominal value sits exactly on the bound
(a test's size), the bound carries a Monte Carlo allowance of 3 standard errors."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sclib import report
from sclib.report import (CONTRADICTED, EXACT, INCONCLUSIVE, LABELS, NOT_RUN, REPRODUCED,
                          ROW_COLUMNS, Verdict, verdict)

DRAWS = 4000


def mc_slack(p: float, draws: int = DRAWS) -> float:
    return 3 * math.sqrt(p * (1 - p) / draws)


def simulate(mean: float, sd: float, n: int, *, draws: int = DRAWS, seed: int = 0, **kw):
    """Labels of ``draws`` simulated experiments: n seeds, paired differences ~ N(mean, sd)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0.7, 0.05, size=(draws, n))
    ours = base + rng.normal(mean, sd, size=(draws, n))
    return np.array([verdict(o, b, **kw).label for o, b in zip(ours, base)])


def rate(labels, label) -> float:
    return float(np.mean(labels == label))


# ------------------------------------------------------------------ error rates
def test_no_effect_rarely_gets_a_verdict():
    labels = simulate(0.0, 1.0, 5, claim="greater")
    wrong = rate(labels, REPRODUCED) + rate(labels, CONTRADICTED)
    print(f"\nno effect, n=5: reproduced {rate(labels, REPRODUCED):.3f}, "
          f"contradicted {rate(labels, CONTRADICTED):.3f}")
    # nominal 2.5% each side (the printed 95% CI excludes 0), 5% in all
    assert rate(labels, REPRODUCED) <= 0.025 + mc_slack(0.025)
    assert wrong <= 0.05 + mc_slack(0.05)


def test_a_three_sd_effect_is_reproduced():
    assert rate(simulate(3.0, 1.0, 5, claim="greater", seed=1), REPRODUCED) >= 0.80
    assert rate(simulate(-3.0, 1.0, 5, claim="less", seed=2), REPRODUCED) >= 0.80


def test_an_effect_the_wrong_way_is_contradicted():
    labels = simulate(-3.0, 1.0, 5, claim="greater", seed=3)
    assert rate(labels, CONTRADICTED) >= 0.80
    assert rate(labels, REPRODUCED) == 0


@pytest.mark.parametrize("sd", [1.0, 2.0])
def test_equivalence_is_not_granted_to_a_difference_of_twice_the_margin(sd):
    # at sd = 2·margin, "not significantly different" would pass for equivalent ~40% of the time
    labels = simulate(2.0, sd, 5, claim="equivalent", margin=1.0, seed=4)
    assert rate(labels, REPRODUCED) <= 0.05


def test_equivalence_at_the_margin_holds_its_size():
    # true difference exactly +margin: TOST says "equivalent" at most alpha/2 of the time
    labels = simulate(1.0, 1.0, 5, claim="equivalent", margin=1.0, seed=5)
    assert rate(labels, REPRODUCED) <= 0.025 + mc_slack(0.025)


def test_no_worse_holds_its_size_at_the_margin_and_finds_a_real_match():
    # non-inferiority: true difference exactly −margin is "no worse" at most alpha/2 of the time
    at_margin = simulate(-1.0, 1.0, 5, claim="no_worse", margin=1.0, seed=7)
    assert rate(at_margin, REPRODUCED) <= 0.025 + mc_slack(0.025)
    worse = simulate(-3.0, 0.5, 5, claim="no_worse", margin=1.0, seed=8)
    assert rate(worse, CONTRADICTED) >= 0.80 and rate(worse, REPRODUCED) == 0
    same = simulate(0.0, 0.5, 5, claim="no_worse", margin=1.0, seed=9)
    assert rate(same, REPRODUCED) >= 0.80
    v = verdict([0.80, 0.815, 0.79], [0.81, 0.82, 0.80], claim="no_worse", margin=0.03)
    d = -0.025 / 3                                          # the unshifted paired difference
    assert v.diff == pytest.approx(d) and v.ci[0] < d < v.ci[1] and v.label == REPRODUCED
    with pytest.raises(ValueError, match="margin"):  # ConfigError is a ValueError
        verdict([1, 2, 3], [1, 2, 3], claim="no_worse")


def test_equivalence_with_no_difference_and_small_noise_is_reproduced():
    labels = simulate(0.0, 0.25, 5, claim="equivalent", margin=1.0, seed=6)
    assert rate(labels, REPRODUCED) >= 0.90
    assert rate(labels, CONTRADICTED) == 0


def test_labels_agree_with_scipys_one_sided_t_tests_and_with_the_printed_ci():
    # One rule: a label is read off the 95% CI the row prints, i.e. one-sided tests at 2.5%.
    # (A one-sided 5% test beside a printed 95% CI let "+0.30 [−0.02, +0.61]" read reproduced.)
    rng = np.random.default_rng(7)
    for _ in range(400):
        n = int(rng.integers(3, 9))
        d = rng.normal(rng.normal(0, 1), rng.uniform(0.2, 2), n)
        p_gt = stats.ttest_1samp(d, 0, alternative="greater").pvalue
        p_lt = stats.ttest_1samp(d, 0, alternative="less").pvalue
        want = REPRODUCED if p_gt < 0.025 else CONTRADICTED if p_lt < 0.025 else INCONCLUSIVE
        v = verdict(d, np.zeros(n), claim="greater")
        assert v.label == want
        lo, hi = stats.t.interval(0.95, n - 1, loc=d.mean(), scale=stats.sem(d))
        assert v.ci == pytest.approx((lo, hi))
        assert v.diff == pytest.approx(d.mean()) and v.n == n
        assert v.label == (REPRODUCED if lo > 0 else CONTRADICTED if hi < 0 else INCONCLUSIVE)
        m = 1.0
        inside = (stats.ttest_1samp(d, -m, alternative="greater").pvalue < 0.025
                  and stats.ttest_1samp(d, m, alternative="less").pvalue < 0.025)
        outside = (stats.ttest_1samp(d, m, alternative="greater").pvalue < 0.025
                   or stats.ttest_1samp(d, -m, alternative="less").pvalue < 0.025)
        want = REPRODUCED if inside else CONTRADICTED if outside else INCONCLUSIVE
        e = verdict(d, np.zeros(n), claim="equivalent", margin=m)
        assert e.label == want
        assert e.label == (REPRODUCED if -m < lo and hi < m else
                           CONTRADICTED if lo > m or hi < -m else INCONCLUSIVE)
        w = verdict(d, np.zeros(n), claim="no_worse", margin=m)
        assert w.label == (REPRODUCED if lo > -m else CONTRADICTED if hi < -m else INCONCLUSIVE)


def test_the_row_prints_the_interval_that_decided_it():
    # the case that was misread before: CI from −0.02 to +0.61 must not be "reproduced"
    d = np.array([0.10, 0.62, 0.05, 0.55, 0.18])
    v = verdict(d, np.zeros(5), claim="greater")
    assert v.ci[0] < 0 < v.ci[1] and v.label == INCONCLUSIVE
    r = report.row("x", "s", "p", v, scale="s")
    assert r["verdict"] == INCONCLUSIVE and r["95% CI"].startswith("[-")


# ------------------------------------------------------------------ the old rule, for comparison
def old_rule(ours, baseline) -> np.ndarray:
    """The study's former rule (rows of unpaired seeds): reproduced/contradicted when
    |mean(ours) − mean(baseline)| exceeds the larger per-arm std (numpy, ddof=0)."""
    diff = ours.mean(axis=-1) - baseline.mean(axis=-1)
    noise = np.maximum(ours.std(axis=-1), baseline.std(axis=-1))
    return np.where(diff > noise, REPRODUCED, np.where(diff < -noise, CONTRADICTED, INCONCLUSIVE))


@pytest.mark.parametrize("n", [2, 3, 5])
def test_false_verdicts_under_no_effect_old_rule_vs_new(n):
    rng = np.random.default_rng(100 + n)
    ours = rng.normal(0.8, 0.01, size=(DRAWS, n))  # independent arms, same mean
    base = rng.normal(0.8, 0.01, size=(DRAWS, n))
    old = float(np.mean(old_rule(ours, base) != INCONCLUSIVE))
    new = float(np.mean([verdict(o, b, claim="greater").label != INCONCLUSIVE
                         for o, b in zip(ours, base)]))
    print(f"\nno true effect, n={n}: false-verdict rate old rule {old:.3f}, new rule {new:.3f}")
    assert new <= 0.05 + mc_slack(0.05)
    if n < 3:
        assert new == 0


# ------------------------------------------------------------------ edge cases
def test_fewer_than_three_pairs_are_always_inconclusive():
    for n in (0, 1, 2):
        v = verdict([10.0] * n, [0.0] * n, claim="greater")
        assert v.label == INCONCLUSIVE and v.note == "n < 3" and v.text == "inconclusive (n < 3)"
    assert verdict([1.0], [0.0], claim="greater").ci == pytest.approx((math.nan,) * 2, nan_ok=True)
    assert set(simulate(5.0, 1.0, 2, draws=500, claim="greater")) == {INCONCLUSIVE}


def test_a_baseline_at_chance_or_a_diverged_run_gates_the_verdict():
    ours, base = [0.9, 0.91, 0.92, 0.9], [0.12, 0.11, 0.13, 0.12]
    v = verdict(ours, base, claim="greater", chance=0.1)
    assert (v.label, v.note) == (INCONCLUSIVE, "baseline did not train")
    assert verdict(ours, base, claim="greater").label == REPRODUCED  # only the gate stopped it
    assert verdict(ours, [0.5, 0.52, 0.51, 0.5], claim="greater", chance=0.1).label == REPRODUCED
    for bad_ours, bad_base in [([0.9, np.nan, 0.9, 0.9], base), (ours, [0.5, np.inf, 0.5, 0.5])]:
        v = verdict(bad_ours, bad_base, claim="greater")
        assert (v.label, v.note) == (INCONCLUSIVE, "a run diverged")


def test_a_ci_wider_than_the_papers_effect_is_inconclusive_and_says_how_many_seeds():
    d = np.array([1.0, 2.0, 3.0, 4.0, 5.0])  # mean 3, sd 1.58: clearly > 0
    assert verdict(d, np.zeros(5), claim="greater").label == REPRODUCED
    v = verdict(d, np.zeros(5), claim="greater", paper_effect=-1.0)  # sign ignored
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / math.sqrt(5)
    assert v.label == INCONCLUSIVE
    k = next(k for k in range(2, 10_001)
             if stats.t.ppf(0.975, k - 1) * d.std(ddof=1) / math.sqrt(k) <= 1.0)
    assert v.note == f"CI ±{half:.1f} wider than the paper's effect 1.0; ≈{k} seeds would resolve it"
    assert verdict(d, np.zeros(5), claim="greater", paper_effect=half * 1.01).label == REPRODUCED
    assert "> 10000 seeds" in verdict(d, np.zeros(5), claim="greater", paper_effect=1e-4).note


def test_zero_variance_differences():
    base = np.array([0.5, 0.6, 0.7, 0.8])
    v = verdict(base + 0.25, base, claim="greater")
    assert v.label == REPRODUCED and v.ci == pytest.approx((0.25, 0.25))
    assert verdict(base + 0.25, base, claim="less").label == CONTRADICTED
    for ours in (base.copy(), (base + 0.1) - 0.1):  # exactly zero; zero up to rounding
        for claim in ("greater", "less"):
            v = verdict(ours, base, claim=claim)
            assert v.label == INCONCLUSIVE and not math.isnan(v.diff) and v.note == ""
        assert verdict(ours, base, claim="equivalent", margin=0.01).label == REPRODUCED
    assert verdict(base + 0.25, base, claim="equivalent", margin=0.5).label == REPRODUCED
    assert verdict(base + 0.25, base, claim="equivalent", margin=0.1).label == CONTRADICTED


@pytest.mark.parametrize("kwargs, param", [
    (dict(claim="bigger"), "claim"),
    (dict(claim="equivalent"), "margin"),
    (dict(claim="equivalent", margin=0.0), "margin"),
    (dict(claim="greater", margin=-1.0), "margin"),
    (dict(claim="greater", alpha=0.7), "alpha"),
    (dict(claim="greater", paper_effect=float("nan")), "paper_effect"),
    (dict(claim="greater", chance="0.1"), "chance"),
])
def test_bad_arguments_name_the_parameter(kwargs, param):
    with pytest.raises(ValueError, match=param):
        verdict([1.0, 2.0, 3.0], [0.0, 1.0, 2.0], **kwargs)


def test_unpaired_inputs_are_refused():
    with pytest.raises(ValueError, match="same length"):
        verdict([1.0, 2.0, 3.0], [1.0, 2.0], claim="greater")
    with pytest.raises(ValueError, match="1-D"):
        verdict([[1.0, 2.0]], [[1.0, 2.0]], claim="greater")
    with pytest.raises(ValueError, match="ours_epochs"):
        report.speed_verdict([1, 2, 3], [1, 2], n_boot=200)


def test_verdict_is_frozen_and_prints_its_text():
    v = verdict([1.0, 2.0], [0.0, 0.0], claim="greater")
    assert str(v) == v.text == "inconclusive (n < 3)"
    with pytest.raises(AttributeError):
        v.label = REPRODUCED


# ------------------------------------------------------------------ speed claims
def test_speed_verdicts():
    base = np.array([20.0, 22, 19, 21, 20])
    fast = report.speed_verdict(base / 2 + [0, 1, -1, 0, 1], base)
    assert fast.label == REPRODUCED and fast.claim == "faster" and fast.ci[0] > 1
    assert fast.diff == pytest.approx(base.mean() / (base / 2 + [0, 1, -1, 0, 1]).mean())
    same = report.speed_verdict(base, base)
    assert same.label == INCONCLUSIVE and same.ci == (1.0, 1.0)
    never = report.speed_verdict(np.full(5, np.inf), base)
    assert never.label == CONTRADICTED and never.diff == 0 and never.ci == (0.0, 0.0)
    slow = report.speed_verdict(base * 2, base)
    assert slow.label == CONTRADICTED and slow.ci[1] < 1
    # a ratio > 1 alone earns nothing: one seed much faster, the others not
    noisy = report.speed_verdict([2.0, 25, 24, 22, 23], base)
    assert noisy.diff > 1 and noisy.label == INCONCLUSIVE
    assert report.speed_verdict(base / 2, base, claim_ratio=5.0).note == "paper's ×5 above the CI"
    assert report.speed_verdict([10.0, 11.0], [20.0, 22.0]).text == "inconclusive (n < 3)"
    # the baseline never reaching the target (an inf) counts as slowest, not as an error
    assert report.speed_verdict(base / 2, [np.inf, 22, 19, 21, 20]).label == REPRODUCED


def test_speed_verdict_is_deterministic():
    rng = np.random.default_rng(8)
    ours, base = rng.uniform(5, 15, 12), rng.uniform(8, 18, 12)
    assert report.speed_verdict(ours, base) == report.speed_verdict(ours, base)
    # (12 seeds: with few, the bootstrap's percentiles are often the same resample for any seed)
    assert report.speed_verdict(ours, base, seed=1).ci != report.speed_verdict(ours, base).ci


def test_epochs_to_target_against_the_baselines_final_accuracy():
    base = [[0.3, 0.6, 0.8, 0.9], [0.2, 0.5, 0.85, 0.9], [0.4, 0.7, 0.88, 0.9]]
    target = report.baseline_target(base)
    assert target == pytest.approx(0.9)
    assert list(report.epochs_to_target(base, target)) == [4, 4, 4]  # rounding of the mean
    ours = [[0.5, 0.91, 0.92], [0.5, 0.6, 0.7]]
    assert list(report.epochs_to_target(ours, target)) == [2, math.inf]


# ------------------------------------------------------------------ tables
def rows():
    v = verdict([1.0, 2.0, 3.0, 4.0, 5.0], np.zeros(5), claim="greater")
    return [report.row("mixup helps", "Zhang 2018", "+1.1", v, scale="cpu", unit=" points"),
            report.row("n/a", "x", "y", verdict([1.0], [0.0], claim="less"), scale="cpu",
                       ours="84.1 vs 83.7 (Δ +0.4)"),
            report.exact("LR formula", "Smith 2017", "eq. 1", "matches", scale="unit"),
            report.exact("LR formula", "Smith 2017", "eq. 1", "differs", scale="unit",
                         holds=False),
            report.not_run("ImageNet", "Goyal 2017", "76.3", scale="—", reason="no GPU")]


def test_rows_and_table():
    r = rows()
    assert r[0]["ours"] == "+3.00 points" and r[0]["95% CI"] == "[+1.04, +4.96]"
    assert r[0]["seeds"] == 5 and r[0]["verdict"] == REPRODUCED
    assert r[1]["ours"] == "84.1 vs 83.7 (Δ +0.4)" and r[1]["95% CI"] == "—"
    assert r[2]["verdict"] == EXACT and r[2]["95% CI"] == r[2]["seeds"] == "—"
    assert r[3]["verdict"] == "contradicted (exact check)"
    assert r[4]["verdict"] == "not run (no GPU)"
    df = report.table(r)
    assert list(df.columns) == ROW_COLUMNS and len(df) == 5
    assert list(report.table(r, chapter="ch1").columns) == ["chapter"] + ROW_COLUMNS
    assert report.counts(df) == {REPRODUCED: 1, CONTRADICTED: 1, INCONCLUSIVE: 1, EXACT: 1,
                                 NOT_RUN: 1}
    assert report.counts(report.table(r[:1])) == dict.fromkeys(LABELS, 0) | {REPRODUCED: 1}


def test_table_rejects_unknown_labels_and_columns():
    bad = rows()[0] | {"verdict": "partly (faster, by less)"}
    with pytest.raises(ValueError, match="verdict"):
        report.table([bad])
    with pytest.raises(ValueError, match="verdict"):
        report.table([rows()[0] | {"verdict": "reproducedish"}])
    with pytest.raises(ValueError, match="row keys"):
        report.table([{k: v for k, v in rows()[0].items() if k != "scale"}])
    assert report.label_of("not run (no GPU)") == NOT_RUN
    assert report.label_of(str(Verdict(EXACT, 0.0, (0.0, 0.0), 1, "x"))) == EXACT


def test_mean_std_is_a_display_of_the_sample_sd():
    assert report.mean_std([0.9, 0.92]) == "91.0 ± 1.4"
    assert report.mean_std([0.9]) == "90.0"
    assert not hasattr(report, "compare") and not hasattr(report, "ratio_verdict")


def test_styled_table_hides_the_index_colours_verdicts_and_says_a_shared_scale_once():
    v = report.verdict([0.9, 0.91, 0.92, 0.93], [0.8, 0.8, 0.81, 0.8], claim="greater")
    rows = [report.row("a", "s", "p", v, scale="tiny"), report.exact("b", "s", "p", "o", scale="tiny")]
    html = report.styled(report.table(rows, "ch")).to_html()
    assert "row_heading" not in html                      # no pandas index column
    assert "Scale of every row: tiny" in html and ">tiny<" not in html
    assert report.VERDICT_CSS[report.REPRODUCED].split(";")[0] in html
    mixed = rows + [report.not_run("c", "s", "p", scale="gpu", reason="gpu only")]
    html = report.styled(report.table(mixed, "ch")).to_html()
    assert "Scale of every row" not in html and ">gpu<" in html
    assert report.styled(report.table(mixed, "ch")).to_html() == html  # fixed ids: reproducible pages


def test_published_rows_are_read_back_from_an_executed_page(tmp_path):
    # the shape myst_nb.glue gives an output inside an executed notebook (papermill record mime)
    import json

    rows = [report.exact("a", "s", "p", "o", scale="tiny")]
    text = repr(report.table(rows).to_json(orient="records", force_ascii=False))
    out = {"output_type": "display_data", "metadata": {"scrapbook": {
        "mime_prefix": "application/papermill.record/", "name": report.ROWS_GLUE.format("ch")}},
        "data": {"application/papermill.record/text/plain": text}}
    page = tmp_path / "ch.ipynb"
    page.write_text(json.dumps({"cells": [{"cell_type": "code", "outputs": [out]}]}))
    assert report.read_rows(page) == rows
    assert report.read_rows(tmp_path / "missing.ipynb") is None
    counts = report.count_table({"ch": rows, "old": None})
    assert list(counts["chapter"]) == ["ch", "all chapters"] and counts[report.EXACT].tolist() == [1, 1]


def test_findings_list_decided_claims_and_count_the_rest():
    v = report.verdict([0.9, 0.91, 0.92, 0.93], [0.8, 0.8, 0.81, 0.8], claim="greater")
    w = report.verdict([0.5, 0.6], [0.4, 0.5], claim="greater")
    rows = {"a": [report.row("mixup helps", "s", "p", v, scale="tiny"),
                  report.row("warmup helps", "s", "p", w, scale="tiny")],
            "b": [report.exact("formula", "s", "p", "o", scale="any")], "c": None}
    text = report.findings(rows, {"a": "Chapter A"})
    assert "**Reproduced at our scale** (1 of 2 tested claims):" in text
    assert "- *Chapter A*: mixup helps — ours +0.11, 95% CI [" in text and ", 4 seeds (tiny)" in text
    assert "**Contradicted at our scale** (0 of 2 tested claims):\n- none" in text
    assert "1 claims are inconclusive (n < 3: 1)" in text and "1 rows are exact" in text
    assert report.headline(rows) == ("Of 2 claims tested at our scale: 1 reproduced, 0 contradicted, "
                                     "1 inconclusive (most often n < 3: 1); 1 further rows are exact checks.")


# ---------------------------------------------------------------- the plateau rule
def test_at_plateau_is_the_studys_two_point_rule_and_a_diverged_run_fails_it():
    assert report.PLATEAU_POINTS == 2.0
    assert report.at_plateau(0.0) and report.at_plateau(-3.0) and report.at_plateau(2.0)
    assert not report.at_plateau(2.01)
    assert not report.at_plateau(math.nan)  # a diverged run is not near any plateau


def test_plateau_text_says_the_gain_and_which_side_of_the_rule():
    ok, short = report.plateau_text(1.5, "the baseline"), report.plateau_text(3.25, "the baseline")
    assert "+1.50 points" in ok and "near its plateau" in ok and "short" not in ok
    assert "+3.25 points" in short and "short of its plateau" in short


def test_gated_rows_are_decided_only_when_every_run_is_near_its_plateau():
    made = []

    def make():
        made.append(1)
        return report.row("c", "s", "p", report.verdict([1.0, 2, 3, 4, 5], [0.0, 0, 0, 0, 0], claim="greater"),
                          scale="x")

    ok = report.gated({"a": 0.5, "b": 2.0}, make, "c", "s", "p", scale="x")
    assert report.label_of(ok["verdict"]) == REPRODUCED and made == [1]
    short = report.gated({"a": 0.5, "b": 3.0, "c": math.nan}, make, "c", "s", "p", scale="x", why="later")
    assert report.label_of(short["verdict"]) == NOT_RUN and made == [1]  # not even computed
    assert "b: twice the budget adds +3.00 points" in short["verdict"] and "c:" in short["verdict"]
    assert "a:" not in short["verdict"] and short["verdict"].endswith("; later)")
    assert set(short) == set(report.ROW_COLUMNS)
