"""Tables and verdicts: how a measured result is set beside a paper's.

- The verdict engine: :func:`verdict` (paired t-tests / TOST on per-seed values),
  :func:`speed_verdict` (paired bootstrap of a time-to-target ratio) with
  :func:`epochs_to_target` and :func:`baseline_target`; both return a :class:`Verdict` labelled
  from the fixed vocabulary :data:`LABELS`.
- Summary rows in one vocabulary for every chapter: :func:`row`, :func:`exact`, :func:`not_run`,
  :func:`table` (columns :data:`ROW_COLUMNS`), :func:`label_of`, :func:`counts`.
- The plateau rule every chapter gates its end-of-training rows on: :data:`PLATEAU_POINTS`,
  :func:`at_plateau`, :func:`plateau_text`, :func:`gated`.
- :func:`mean_std` for display; :func:`publish`, :func:`read_rows` and :func:`count_table` carry
  a chapter's rows to the summary page.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .errors import ConfigError, check_choice, check_number


def mean_std(values, scale: float = 100.0, digits: int = 1) -> str:
    """'91.2 ± 0.3': mean ± sample standard deviation over seeds, for display (a fraction is
    scaled to percent by default); just the mean for one seed. Never a verdict: see verdict()."""
    a = np.asarray(values, dtype=float) * scale
    if a.size < 2:
        return f"{a.mean():.{digits}f}"
    return f"{a.mean():.{digits}f} ± {a.std(ddof=1):.{digits}f}"


# ====================================================================== verdict engine
# One vocabulary for every chapter's summary. A label is earned by the 95% CI the row prints
# (one-sided tests at 2.5%), never by a point estimate alone.
REPRODUCED, CONTRADICTED, INCONCLUSIVE, EXACT, NOT_RUN = LABELS = (
    "reproduced", "contradicted", "inconclusive", "exact", "not run")
CLAIMS = ("greater", "less", "equivalent", "no_worse")
ROW_COLUMNS = ["claim", "source", "paper", "ours", "95% CI", "seeds", "scale", "verdict"]
_MAX_SEEDS = 10_000  # search cap for "how many seeds would resolve the paper's effect"
_NAN_CI = (math.nan, math.nan)


@dataclass(frozen=True)
class Verdict:
    """One measured claim: the label, the paired difference (or speed ratio) and its 95% CI."""
    label: str
    diff: float
    ci: tuple
    n: int
    claim: str
    margin: float | None = None
    note: str = ""

    @property
    def text(self) -> str:
        return f"{self.label} ({self.note})" if self.note else self.label

    def __str__(self) -> str:
        return self.text


def _scalar(param, value, **limits):
    if isinstance(value, np.generic):  # numpy scalars pass as Python numbers
        value = value.item()
    check_number(param, value, **limits)
    return float(value)


def _paired(ours, baseline, names=("ours", "baseline")):
    a = np.asarray(ours, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if a.ndim != 1 or b.ndim != 1:
        raise ConfigError(f"{names[0]} and {names[1]} must be 1-D per-seed values, "
                          f"got shapes {a.shape} and {b.shape}")
    if a.shape != b.shape:
        raise ConfigError(f"{names[0]} and {names[1]} must be paired by seed (same length), "
                          f"got lengths {a.size} and {b.size}")
    return a, b


def _short(x: float) -> str:
    """Two significant digits, trailing zeros kept: 0.41, 0.20, 0.0041, 1.5, 12."""
    if not math.isfinite(x) or x == 0:
        return f"{x:g}"
    decimals = max(0, 1 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}"


def seeds_to_resolve(sd: float, effect: float, level: float = 0.95) -> int | None:
    """Smallest n with t_{(1+level)/2, n−1}·sd/√n ≤ |effect| (None beyond 10,000 seeds)."""
    if sd == 0:
        return 2
    n = np.arange(2, _MAX_SEEDS + 1)
    ok = stats.t.ppf((1 + level) / 2, n - 1) * sd / np.sqrt(n) <= abs(effect)
    return int(n[ok.argmax()]) if ok.any() else None


def verdict(ours, baseline, *, claim: str, margin: float | None = None, alpha: float = 0.05,
            paper_effect: float | None = None, chance: float | None = None,
            gate: float = 0.05) -> Verdict:
    """Label a paper's claim about ``ours − baseline`` from per-seed values paired by seed.

    One rule, read off the interval the row prints: the two-sided (1−``alpha``) t-interval of the
    mean paired difference, 95% by default. Each label below is therefore a one-sided paired
    t-test at ``alpha``/2 (2.5%), and a reader can check it against the row's "95% CI" column.

    - ``claim="greater"``/``"less"``: reproduced when the CI lies wholly on the paper's side of 0;
      contradicted when it lies wholly on the other side; else inconclusive.
    - ``claim="equivalent"`` (needs ``margin`` > 0, metric units): TOST. Reproduced when the CI
      lies inside ±margin; contradicted when it lies wholly above +margin or below −margin.
    - ``claim="no_worse"`` (needs ``margin`` > 0): non-inferiority, "ours is at most ``margin``
      below the baseline". Reproduced when the CI lies wholly above −margin; contradicted when
      it lies wholly below −margin.
    - Always inconclusive: fewer than 3 pairs; a non-finite value (a diverged run); a baseline
      whose mean is below ``chance + gate`` (it did not train); and, when ``paper_effect`` is
      given, a CI half-width wider than |paper_effect| (the note says about how many seeds
      the observed sd would need to resolve it).
    - A constant difference (zero sd) counts as infinitely significant in its sign; a constant
      zero difference is no evidence for greater/less and lies inside any margin.

    ``diff`` is the mean paired difference, ``ci`` that interval (nan when n < 2).
    """
    check_choice("claim", claim, CLAIMS)
    alpha = _scalar("alpha", alpha, lo=0, hi=0.5, lo_open=True, hi_open=True)
    if claim in ("equivalent", "no_worse") and margin is None:
        raise ConfigError(f"margin is required for claim={claim!r} (metric units, > 0)")
    if margin is not None:
        margin = _scalar("margin", margin, lo=0, lo_open=True)
    if paper_effect is not None:
        paper_effect = _scalar("paper_effect", paper_effect)
    if chance is not None:
        chance = _scalar("chance", chance)
    gate = _scalar("gate", gate)
    a, b = _paired(ours, baseline)
    n = a.size
    out = dict(n=n, claim=claim, margin=margin)

    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        with np.errstate(invalid="ignore"):
            diff = float(np.mean(a - b)) if n else math.nan
        return Verdict(INCONCLUSIVE, diff, _NAN_CI, note="a run diverged", **out)
    d = a - b
    diff = float(d.mean()) if n else math.nan
    sd = float(d.std(ddof=1)) if n >= 2 else math.nan
    # Differences equal to within rounding are constant: ulp noise must not become "significant".
    tol = 64 * np.finfo(float).eps * float(max(np.abs(a).max(initial=0), np.abs(b).max(initial=0)))
    if sd <= tol:
        sd = 0.0
    se = sd / math.sqrt(n) if n >= 2 else math.nan
    half = float(stats.t.ppf(1 - alpha / 2, n - 1)) * se if n >= 2 else math.nan
    ci = (diff - half, diff + half) if n >= 2 else _NAN_CI
    out.update(diff=diff, ci=ci)

    if chance is not None and n and b.mean() < chance + gate:
        return Verdict(INCONCLUSIVE, note="baseline did not train", **out)
    if n < 3:
        return Verdict(INCONCLUSIVE, note="n < 3", **out)

    def rejects(mu0: float, side: str) -> bool:
        """One-sided test of H1: mean > mu0 (side 'above') or mean < mu0 ('below') at alpha/2:
        it rejects exactly when the printed (1−alpha) CI lies wholly on that side of mu0."""
        delta = diff - mu0
        if sd == 0:  # constant difference: decided by its sign, ties are no evidence
            return (delta > tol) if side == "above" else (delta < -tol)
        t = delta / se if side == "above" else -delta / se
        return float(stats.t.sf(t, n - 1)) < alpha / 2

    if claim == "no_worse":
        label = (REPRODUCED if rejects(-margin, "above")
                 else CONTRADICTED if rejects(-margin, "below") else INCONCLUSIVE)
    elif claim == "equivalent":
        if rejects(-margin, "above") and rejects(margin, "below"):
            label = REPRODUCED
        elif rejects(margin, "above") or rejects(-margin, "below"):
            label = CONTRADICTED
        else:
            label = INCONCLUSIVE
    else:
        toward, away = ("above", "below") if claim == "greater" else ("below", "above")
        label = (REPRODUCED if rejects(0.0, toward)
                 else CONTRADICTED if rejects(0.0, away) else INCONCLUSIVE)

    if paper_effect is not None and half > abs(paper_effect):
        k = seeds_to_resolve(sd, paper_effect, level=1 - alpha)
        seeds = f"≈{k}" if k is not None else f"> {_MAX_SEEDS}"
        return Verdict(INCONCLUSIVE, note=(f"CI ±{_short(half)} wider than the paper's effect "
                                           f"{_short(abs(paper_effect))}; {seeds} seeds would "
                                           f"resolve it"), **out)
    return Verdict(label, **out)


# ---------------------------------------------------------------- speed claims
def epochs_to_target(curves, target: float) -> np.ndarray:
    """Per seed, the first 1-based epoch whose accuracy reaches ``target`` (inf if never)."""
    target = _scalar("target", target)
    # A seed whose final accuracy *is* the target must reach it despite the mean's rounding.
    reach = target - 1e-12 * max(1.0, abs(target))
    out = []
    for curve in curves:
        hit = np.flatnonzero(np.asarray(curve, dtype=float) >= reach)
        out.append(float(hit[0] + 1) if hit.size else math.inf)
    return np.array(out, dtype=float)


def baseline_target(baseline_curves) -> float:
    """The common target of a speed claim: the baseline's final accuracy, averaged over seeds.

    Never the worse run's accuracy: a target the slow arm barely reaches says nothing."""
    finals = [np.asarray(c, dtype=float)[-1] for c in baseline_curves]
    if not finals:
        raise ConfigError("baseline_curves must hold at least one per-seed curve")
    return float(np.mean(finals))


def _speed_ratio(mean_base, mean_ours):
    """mean(baseline)/mean(ours) where never reaching the target (inf) is the slowest possible:
    ours inf → 0, baseline inf → inf, both inf → 1 (neither is faster)."""
    mb, mo = np.asarray(mean_base, dtype=float), np.asarray(mean_ours, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = mb / mo
    r = np.where(np.isinf(mo), 0.0, r)
    return np.where(np.isinf(mo) & np.isinf(mb), 1.0, r)


def speed_verdict(ours_epochs, baseline_epochs, *, claim_ratio: float | None = None,
                  alpha: float = 0.05, n_boot: int = 2000, seed: int = 0) -> Verdict:
    """Label "ours reaches the baseline's accuracy faster" from per-seed epochs (or steps) to a
    common target (:func:`baseline_target`, :func:`epochs_to_target`; inf = never), paired by seed.

    Statistic: ratio = mean(baseline_epochs)/mean(ours_epochs) (> 1: ours faster). A paired
    bootstrap over seeds (indices resampled jointly, fixed RNG ``seed``, so the output is
    deterministic) gives its (1−alpha) percentile CI, 95% by default. Reproduced when the CI's
    lower bound is > 1, contradicted when its upper bound is < 1, else inconclusive; n < 3 is
    always inconclusive. A point ratio > 1 alone never earns a label. With ``claim_ratio`` (the
    paper's speed-up) the note says when the paper's ratio lies outside the CI.
    ``diff`` holds the point ratio, ``ci`` its CI, ``claim`` is "faster".
    """
    alpha = _scalar("alpha", alpha, lo=0, hi=0.5, lo_open=True, hi_open=True)
    if isinstance(n_boot, np.integer):
        n_boot = int(n_boot)
    check_number("n_boot", n_boot, lo=100, integer=True)
    if claim_ratio is not None:
        claim_ratio = _scalar("claim_ratio", claim_ratio, lo=0, lo_open=True)
    o, b = _paired(ours_epochs, baseline_epochs, ("ours_epochs", "baseline_epochs"))
    if np.isnan(o).any() or np.isnan(b).any() or (o <= 0).any() or (b <= 0).any():
        raise ConfigError("ours_epochs and baseline_epochs must be > 0 (inf = never reached); "
                          "got nan or a non-positive value")
    n = o.size
    ratio = float(_speed_ratio(b.mean(), o.mean())) if n else math.nan
    out = dict(diff=ratio, n=n, claim="faster")
    if n < 2:
        return Verdict(INCONCLUSIVE, ci=_NAN_CI, note="n < 3", **out)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    boot = _speed_ratio(b[idx].mean(axis=1), o[idx].mean(axis=1))
    # inverted_cdf picks resampled values: no interpolation between inf and inf
    lo, hi = (float(x) for x in np.quantile(boot, [alpha / 2, 1 - alpha / 2],
                                            method="inverted_cdf"))
    out["ci"] = (lo, hi)
    if n < 3:
        return Verdict(INCONCLUSIVE, note="n < 3", **out)
    if np.isinf(o).all():
        note = "neither reached the target" if np.isinf(b).all() else "ours never reached the target"
        return Verdict(INCONCLUSIVE if np.isinf(b).all() else CONTRADICTED, note=note, **out)
    label = REPRODUCED if lo > 1 else CONTRADICTED if hi < 1 else INCONCLUSIVE
    note = ""
    if claim_ratio is not None and label == REPRODUCED and not lo <= claim_ratio <= hi:
        side = "above" if claim_ratio > hi else "below"
        note = f"paper's ×{claim_ratio:g} {side} the CI"
    return Verdict(label, note=note, **out)


# ---------------------------------------------------------------- summary rows
def row(claim: str, source: str, paper, v: Verdict, *, scale: str, fmt: str = "{:+.2f}",
        unit: str = "", ours: str | None = None) -> dict:
    """A summary row from a :class:`Verdict`; "ours" is the measured difference (``fmt`` + ``unit``,
    e.g. "+0.42 points") unless ``ours`` overrides it (e.g. "84.1 vs 83.7 (Δ +0.4)")."""
    def num(x):
        return "—" if math.isnan(x) else fmt.format(x)
    lo, hi = v.ci
    return {"claim": claim, "source": source, "paper": paper,
            "ours": ours if ours is not None else num(v.diff) + ("" if math.isnan(v.diff) else unit),
            "95% CI": "—" if math.isnan(lo) else f"[{num(lo)}, {num(hi)}]",
            "seeds": v.n, "scale": scale, "verdict": v.text}


def exact(claim: str, source: str, paper, ours, *, scale: str, holds: bool = True) -> dict:
    """A deterministic check (no seeds, no CI): "exact" when it holds, else contradicted."""
    return {"claim": claim, "source": source, "paper": paper, "ours": ours, "95% CI": "—",
            "seeds": "—", "scale": scale,
            "verdict": EXACT if holds else f"{CONTRADICTED} (exact check)"}


def not_run(claim: str, source: str, paper, *, scale: str, reason: str) -> dict:
    return {"claim": claim, "source": source, "paper": paper, "ours": "—", "95% CI": "—",
            "seeds": "—", "scale": scale, "verdict": f"{NOT_RUN} ({reason})"}


# ---------------------------------------------------------------- the plateau rule
#: A run is near its plateau when the same recipe with twice its budget (epochs, or updates)
#: raises its accuracy by at most this many points. A row that compares accuracies at the end of
#: training is decided only when every run it rests on passes (:func:`gated`): a gap between runs
#: that more training would still close or open is not yet the paper's claim.
PLATEAU_POINTS = 2.0


def at_plateau(gain) -> bool:
    """Whether a run that twice the budget raises by ``gain`` points (nan: it diverged) is near
    its plateau (:data:`PLATEAU_POINTS`)."""
    return bool(float(gain) <= PLATEAU_POINTS)  # nan compares False: a diverged run is not


def plateau_text(gain, what: str = "the run") -> str:
    """One clause for a page's prose: ``what`` and whether it is near its plateau, with the gain."""
    ok = at_plateau(gain)
    return (f"twice the budget changes {what} by {float(gain):+.2f} points, "
            + (f"within the {PLATEAU_POINTS:g} points the study allows: near its plateau" if ok else
               f"more than the {PLATEAU_POINTS:g} points the study allows: short of its plateau"))


def gated(gains: dict, make, claim: str, source: str, paper, *, scale: str, why: str = "") -> dict:
    """``make()`` (a row) when every run in ``gains`` (name -> points that twice its budget adds)
    is near its plateau (:func:`at_plateau`); otherwise a not-run row naming the runs that are
    short of it, their gains and ``why`` (what that means for this claim)."""
    short = {k: g for k, g in gains.items() if not at_plateau(g)}
    if not short:
        return make()
    parts = "; ".join(f"{k}: twice the budget adds {float(g):+.2f} points" for k, g in short.items())
    reason = f"short of its plateau at this scale ({parts}; the study allows {PLATEAU_POINTS:g})"
    return not_run(claim, source, paper, scale=scale, reason=reason + (f"; {why}" if why else ""))


def label_of(text) -> str:
    """The LABELS entry a verdict cell starts with ("inconclusive (n < 3)" → "inconclusive")."""
    if isinstance(text, str):
        for label in LABELS:
            if text == label or text.startswith(label + " "):
                return label
    raise ConfigError(f"verdict {text!r} does not start with one of: {', '.join(LABELS)}")


def table(rows: list[dict], chapter: str | None = None) -> pd.DataFrame:
    """Summary rows as a DataFrame with exactly ROW_COLUMNS (a leading "chapter" when given)."""
    for r in rows:
        if set(r) != set(ROW_COLUMNS):
            raise ConfigError(f"row keys must be exactly {ROW_COLUMNS}, got {list(r)}")
        label_of(r["verdict"])
    df = pd.DataFrame(list(rows), columns=ROW_COLUMNS)
    if chapter is not None:
        df.insert(0, "chapter", chapter)
    return df


def counts(df: pd.DataFrame) -> dict:
    """Label → number of rows, every label present (zeros included)."""
    found = [label_of(t) for t in df["verdict"]]
    return {label: found.count(label) for label in LABELS}


# ---------------------------------------------------------------- the summary page
ROWS_GLUE = "summary_rows_{}"


#: how each label looks in a table (colour and weight), so a reader finds the verdicts at a glance
VERDICT_CSS = {REPRODUCED: "color: #1a7f37; font-weight: 600",
               CONTRADICTED: "color: #c62828; font-weight: 600",
               INCONCLUSIVE: "color: #7a5c00",
               EXACT: "color: #1f4e9c",
               NOT_RUN: "color: #6e6e6e"}


def styled(summary: pd.DataFrame, uid: str | None = None):
    """A summary table as a reader sees it: no index, headers aligned with their text, the verdict
    coloured by label, and the scale said once in the caption when every row shares it.

    ``uid`` fixes the Styler's element ids (default: the chapter), so a re-executed page differs
    from the last one only where a number changed."""
    shown = summary.drop(columns="chapter") if "chapter" in summary else summary.copy()
    caption = None
    if "scale" in shown and len(shown) and shown["scale"].nunique() == 1:
        caption = f"Scale of every row: {shown['scale'].iloc[0]}"
        shown = shown.drop(columns="scale")
    if uid is None and "chapter" in summary and len(summary):
        uid = f"summary_{summary['chapter'].iloc[0]}"
    sty = shown.style.hide(axis="index").set_uuid(uid or "summary")
    if "verdict" in shown:
        sty = sty.map(lambda t: VERDICT_CSS.get(label_of(t), ""), subset=["verdict"])
    sty = sty.set_table_styles([{"selector": "th", "props": "text-align: left;"},
                                {"selector": "td", "props": "text-align: left; vertical-align: top;"}])
    return sty.set_caption(caption) if caption else sty


def publish(summary: pd.DataFrame, chapter: str) -> None:
    """Glue a chapter's summary table (``summary_<chapter>``, shown on the page and the summary
    page, as :func:`styled`) and its rows as JSON (``summary_rows_<chapter>``, read back by
    :func:`read_rows`)."""
    from myst_nb import glue

    shown = summary.drop(columns="chapter") if "chapter" in summary else summary
    glue(f"summary_{chapter}", styled(shown, uid=f"summary_{chapter}"), display=False)
    glue(ROWS_GLUE.format(chapter), shown.to_json(orient="records", force_ascii=False), display=False)


def read_rows(page) -> list[dict] | None:
    """The rows a chapter published in its executed page (``book/<chapter>.ipynb``); None when
    the page is missing or published none (executed before the verdict engine)."""
    import ast
    import json
    from pathlib import Path

    page = Path(page)
    if not page.exists():
        return None
    name = ROWS_GLUE.format(page.stem)
    for cell in json.loads(page.read_text()).get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("metadata", {}).get("scrapbook", {}).get("name") == name:
                # glue stores it under its mime prefix: application/papermill.record/text/plain
                data = out.get("data", {})
                text = next((v for k, v in data.items() if k.endswith("text/plain")), "")
                text = "".join(text) if isinstance(text, list) else text
                return json.loads(ast.literal_eval(text))
    return None


def count_table(rows_by_chapter: dict) -> pd.DataFrame:
    """Rows per label and chapter (chapters whose page published no rows are left out), with a
    total line. ``exact`` rows are deterministic checks, not reproductions: they are counted apart."""
    out = []
    for chapter, rows in rows_by_chapter.items():
        if rows is None:
            continue
        c = counts(pd.DataFrame(rows, columns=ROW_COLUMNS))
        out.append({"chapter": chapter, **c, "rows": len(rows)})
    df = pd.DataFrame(out, columns=["chapter", *LABELS, "rows"])
    if len(df):
        total = {"chapter": "all chapters", **{k: int(df[k].sum()) for k in [*LABELS, "rows"]}}
        df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    return df


def findings(rows_by_chapter: dict, titles: dict | None = None) -> str:
    """The study's answer in a few lines of Markdown, from the chapters' published rows: the
    claims reproduced and contradicted at our scale (with the measured value, the CI and n), and
    why the rest are undecided. ``titles`` maps a chapter to the name shown."""
    titles = titles or {}
    by = {label: [] for label in LABELS}
    notes: dict = {}
    for chapter, rows in rows_by_chapter.items():
        for r in rows or []:
            label = label_of(r["verdict"])
            by[label].append((titles.get(chapter, chapter), r))
            if label == INCONCLUSIVE:
                why = _reason(r["verdict"])
                notes[why] = notes.get(why, 0) + 1

    def item(chapter, r):
        ci = "" if r["95% CI"] == "—" else f", 95% CI {r['95% CI']}"
        return f"- *{chapter}*: {r['claim']} — ours {r['ours']}{ci}, {r['seeds']} seeds ({r['scale']})"

    out = []
    for label, head in ((REPRODUCED, "Reproduced at our scale"), (CONTRADICTED, "Contradicted at our scale")):
        out.append(f"**{head}** ({len(by[label])} of "
                   f"{sum(len(v) for k, v in by.items() if k not in (EXACT, NOT_RUN))} tested claims):")
        out += [item(c, r) for c, r in by[label]] or ["- none"]
        out.append("")
    reasons = "; ".join(f"{k}: {v}" for k, v in sorted(notes.items(), key=lambda kv: -kv[1]))
    out.append(f"**Undecided**: {len(by[INCONCLUSIVE])} claims are {INCONCLUSIVE} ({reasons or 'none'}). "
               f"{len(by[EXACT])} rows are {EXACT} checks of formulas and schedules, "
               f"{len(by[NOT_RUN])} did not run at this profile.")
    return "\n".join(out)


def _reason(verdict_text: str) -> str:
    """Why an inconclusive row is undecided, in a few words."""
    why = verdict_text[len(INCONCLUSIVE):].strip(" ()") or "the test decided neither way"
    return "the CI is wider than the paper's effect" if why.startswith("CI ±") else why


def headline(rows_by_chapter: dict) -> str:
    """One sentence: how many tested claims were reproduced, contradicted and left undecided
    (and the commonest reason), from the chapters' published rows."""
    rows = [r for rs in rows_by_chapter.values() for r in rs or []]
    found = [label_of(r["verdict"]) for r in rows]
    why = [_reason(r["verdict"]) for r, lab in zip(rows, found) if lab == INCONCLUSIVE]
    tested = sum(found.count(k) for k in (REPRODUCED, CONTRADICTED, INCONCLUSIVE))
    top = max(sorted(set(why)), key=why.count) if why else None
    tail = f" (most often {top}: {why.count(top)})" if top else ""
    return (f"Of {tested} claims tested at our scale: {found.count(REPRODUCED)} {REPRODUCED}, "
            f"{found.count(CONTRADICTED)} {CONTRADICTED}, {found.count(INCONCLUSIVE)} "
            f"{INCONCLUSIVE}{tail}; {found.count(EXACT)} further rows are {EXACT} checks.")
