"""The summary page's forest plot and per-part conclusions, read from the rows the chapters
publish (:func:`sclib.report.read_rows`, gathered by :func:`sclib.runner.chapter_rows`).

A row's cells are strings that :mod:`sclib.report` formatted ("+8.26%", "[-2.47%, +18.99%]",
"1.27× (to 77.5%)", "32.5 vs 35.2 % (-2.8 points)", ...). :func:`parse_row` reads back, for
every statistical claim, our effect, its 95% CI and their unit, and the paper's effect where the
paper's cell gives one in the same unit (else it is absent: "qualitative", or a number in other
units). It refuses a row it cannot read (:class:`RowParseError`): every row of every committed
page is parsed by ``tests/test_forest.py``. Deterministic checks and rows that did not run are
recognised with report's own vocabulary (:data:`report.EXACT`, :func:`report.exact`,
:data:`report.NOT_RUN`) and left out of the plot.

Units: "points" (accuracy differences in percentage points, printed "%" or "points"), "×"
(speed-ups: a ratio, 1 = no difference), "log₂" (a log₂ ratio) and "" (the metric's own units:
fractions of accuracy, MAP@3, a loss, a gradient norm; the row says which).
"""
from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import report

# ------------------------------------------------------------------------------ parsing
_MINUS = str.maketrans({"−": "-", "–": "-"})
_NUM = r"[+-]?\d+(?:,\d{3})*(?:\.\d+)?(?:e[+-]?\d+)?"      # 1,000  0.0016  1e-07  +8.26
_SIGNED = r"[+-]\d+(?:\.\d+)?(?:e[+-]?\d+)?"                  # an explicit difference: +8.26
_UNIT = r"(%|points?|×)?"
POINTS, RATIO, LOG2, RAW = "points", "×", "log₂", ""
UNIT_NAMES = {POINTS: "points", RATIO: "×", LOG2: "log₂ ratio", RAW: "metric units"}
QUALITATIVE = "qualitative"
OTHER_UNITS = "other units"


class RowParseError(ValueError):
    """A published row whose numbers cannot be read back."""


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def _unit(text: str | None) -> str:
    if not text:
        return RAW
    return RATIO if text == "×" else POINTS


def _decimals(text: str) -> int:
    m = re.search(r"\.(\d+)", text)
    return len(m.group(1)) if m else 0


def _diff_text(x: float, *texts: str) -> str:
    """A difference computed from printed numbers, with as many decimals as the finest of them."""
    return f"{x:+.{max(_decimals(t) for t in texts)}f}"


def _half_ulp(text: str) -> float:
    """Half a unit in the last printed digit of a number ("8.26" → 0.005)."""
    m = re.fullmatch(r"[+-]?[\d,]*(?:\.(\d+))?(?:e([+-]?\d+))?", text.strip())
    if not m:
        return 0.0
    return 0.5 * 10.0 ** (-len(m.group(1) or "") + int(m.group(2) or 0))


@dataclass(frozen=True)
class Effect:
    """One published row read back. ``kind`` is "claim" (a statistical claim), "check" (a
    deterministic check, :func:`report.exact`) or "not run"."""
    kind: str
    label: str
    claim: str
    seeds: int | None = None
    unit: str | None = None
    effect: float | None = None
    lo: float | None = None
    hi: float | None = None
    paper: tuple = ()
    paper_bound: str | None = None          # "≥" / "≤" when the paper gives a bound, not a value
    paper_absent: str | None = None         # QUALITATIVE or OTHER_UNITS when paper is ()
    shown: tuple = ()                       # the printed numbers: (effect, lo, hi), paper's
    paper_shown: tuple = ()
    text: dict = field(default_factory=dict, compare=False)

    @property
    def has_ci(self) -> bool:
        return self.lo is not None


def _ci(text: str):
    """'[-2.47%, +18.99%]' → (-2.47, 18.99, unit, tolerance); '—' → None."""
    text = text.strip().translate(_MINUS)
    if text == "—":
        return None
    m = re.fullmatch(rf"\[\s*(×)?\s*({_NUM})\s*{_UNIT}\s*,\s*(×)?\s*({_NUM})\s*{_UNIT}\s*\]", text)
    if not m:
        raise RowParseError(f"95% CI {text!r} is not '[lo, hi]'")
    p1, lo, u1, p2, hi, u2 = m.groups()  # a ratio may be printed ×1.0 as well as 1.0×
    u1, u2 = u1 or p1, u2 or p2
    if (u1 or "") != (u2 or ""):
        raise RowParseError(f"95% CI {text!r} has two units")
    return _num(lo), _num(hi), (u1 and _unit(u1)), max(_half_ulp(lo), _half_ulp(hi)), (lo, hi)


def _ours(text: str, with_ci: bool):
    """(effect, unit, tolerance) read from the 'ours' cell, or None. Rules, first match wins:
    "(Δ x)", "(x points)" / "(accuracy x points)", a leading signed number or ratio
    ("+8.26%", "-4.13 points (...)", "1.27× (...)"), "log₂ x"; with a CI also "A vs B" → A − B."""
    t = text.translate(_MINUS)
    m = re.search(rf"Δ\s*({_NUM})\s*{_UNIT}", t)
    if m:
        return _num(m.group(1)), _unit(m.group(2)), _half_ulp(m.group(1)), m.group(1)
    m = re.search(rf"\((?:accuracy\s+)?({_SIGNED})\s*(%|points?)\)", t)
    if m:
        return _num(m.group(1)), POINTS, _half_ulp(m.group(1)), m.group(1)
    m = re.match(rf"\s*({_SIGNED})\s*{_UNIT}(?![\w.])", t) or re.match(rf"\s*({_NUM})\s*(×)", t)
    if m:
        return _num(m.group(1)), _unit(m.group(2)), _half_ulp(m.group(1)), m.group(1)
    m = re.search(rf"log₂\s*({_SIGNED})", t)
    if m:
        return _num(m.group(1)), LOG2, _half_ulp(m.group(1)), m.group(1)
    if with_ci:
        flat = re.sub(r"\([^()]*\)", "", t)
        m = re.search(rf"(?<![\w.])({_NUM})\s*(%?)\s+vs\s+({_NUM})\s*(%?)(?![\w.])", flat)
        if m:
            a, ua, b, ub = m.groups()
            d = _num(a) - _num(b)
            return d, POINTS if (ua or ub) else RAW, _half_ulp(a) + _half_ulp(b), _diff_text(d, a, b)
    return None


def _paper(text: str) -> list:
    """Candidate paper effects [(values, unit, bound)] in the order of the rules:
    "(x unit)" a stated difference; "A vs B unit" → A − B; "error A vs B %" → B − A (accuracy);
    "≥ x unit" a bound; a leading signed number or ratio; "error A% → B%" → A − B and
    "A% → B%" → B − A for every such pair."""
    t = str(text).translate(_MINUS)
    out = []

    def add(values, unit, bound, shown):
        out.append((tuple(round(v, 9) for v in values), unit, bound, tuple(shown)))

    for m in re.finditer(rf"\(\s*({_SIGNED})\s*(%|points?)?\s*\)", t):
        add([_num(m.group(1))], _unit(m.group(2)), None, [m.group(1)])
    m = re.match(rf"\s*({_NUM})\s*(%|points?)?\s+vs\s+({_NUM})\s*(%|points?)(?![\w.])", t)
    if m:
        d = _num(m.group(1)) - _num(m.group(3))
        add([d], POINTS, None, [_diff_text(d, m.group(1), m.group(3))])
    m = re.match(rf"\s*error\s+({_NUM})\s*%?\s+vs\s+({_NUM})\s*%", t)
    if m:
        d = _num(m.group(2)) - _num(m.group(1))
        add([d], POINTS, None, [_diff_text(d, m.group(1), m.group(2))])
    m = re.match(rf"\s*(≥|≤|>=|<=|>|<)\s*({_NUM})\s*{_UNIT}", t)
    if m:
        add([_num(m.group(2))], _unit(m.group(3)), m.group(1), [m.group(2)])
    m = re.match(rf"\s*({_SIGNED})\s*{_UNIT}(?![\w.])", t) or re.match(rf"\s*~?({_NUM})\s*(×)", t)
    if m:
        add([_num(m.group(1))], _unit(m.group(2)), None, [m.group(1)])
    pairs, shown = [], []
    for clause in t.split(";"):
        for m in re.finditer(rf"({_NUM})\s*%\s*→\s*({_NUM})\s*%", clause):
            a, b = m.group(1), m.group(2)
            d = _num(a) - _num(b) if "error" in clause[:m.start()] else _num(b) - _num(a)
            pairs.append(d)
            shown.append(_diff_text(d, a, b))
    if pairs:
        add(pairs, POINTS, None, shown)
    return out


_STANDALONE_NUMBER = re.compile(r"(?<![\w.-])(?<!Figure )(?<!Table )(?<!Fig\. )[+-]?~?\d[\d.,]*(?![\w-])")


def _is_check(verdict: str) -> bool:
    return verdict in {report.exact("", "", "", "", scale="", holds=h)["verdict"] for h in (True, False)}


def parse_row(row: dict) -> Effect:
    """Read one published row back (see the module's docstring); RowParseError when it cannot."""
    missing = set(report.ROW_COLUMNS) - set(row)
    if missing:
        raise RowParseError(f"row lacks {sorted(missing)}: {row}")
    label = report.label_of(row["verdict"])
    base = dict(label=label, claim=str(row["claim"]), text=dict(row))
    if label == report.NOT_RUN:
        return Effect("not run", **base)
    if _is_check(row["verdict"]):
        return Effect("check", **base)
    seeds = row["seeds"]
    if isinstance(seeds, str) and seeds.strip().isdigit():
        seeds = int(seeds)
    if not isinstance(seeds, int) or isinstance(seeds, bool):
        raise RowParseError(f"a claim's seeds must be a number, got {seeds!r}: {row['claim']!r}")
    ci = _ci(str(row["95% CI"]))
    ours = _ours(str(row["ours"]), with_ci=ci is not None)
    if ci is not None and ours is None and ci[2] and (ci[2] != RATIO or ci[0] == ci[1]):
        # prose without the difference ("WD 1e-05: 52.8%, …"): a paired t-interval's centre is
        # it (a bootstrapped ratio's interval is not centred: only a degenerate one says it)
        mid = (ci[0] + ci[1]) / 2
        ours = (mid, ci[2], ci[3], _diff_text(mid, *ci[4]))
    if ci is not None and ours is None:
        raise RowParseError(f"no effect found in ours={row['ours']!r} (claim {row['claim']!r})")
    effect, unit, tol, effect_text = ours if ours else (None, None, 0.0, None)
    lo = hi = None
    shown = (effect_text,) if ours else ()
    if ci is not None:
        lo, hi, ci_unit, ci_tol, ci_text = ci
        shown += ci_text
        if ci_unit and ci_unit != unit:
            raise RowParseError(f"ours={row['ours']!r} and CI {row['95% CI']!r} are in different units")
        slack = tol + ci_tol + 1e-9
        mid = (lo + hi) / 2
        if unit != RATIO and ci_unit and abs(effect - mid) > slack + ci_tol:
            # A paired t-interval is centred on the effect: when "ours" is prose whose numbers are
            # not the difference ("20.3% vs 90% of the peak 27.3%"), its centre is the effect.
            effect, tol, effect_text = mid, ci_tol, _diff_text(mid, *ci_text)
            shown = (effect_text,) + ci_text
        if not lo - slack <= effect <= hi + slack:
            raise RowParseError(f"effect {effect} of ours={row['ours']!r} lies outside its CI {row['95% CI']!r}")
        if unit != RATIO and abs(effect - (lo + hi) / 2) > slack + ci_tol:
            # a paired t-interval is centred on the effect (speed-ups are bootstrapped, not centred)
            raise RowParseError(f"effect {effect} of ours={row['ours']!r} is not the centre of "
                                f"its CI {row['95% CI']!r}: wrong number read")
    paper, bound, absent, paper_shown = (), None, None, ()
    if unit is not None:
        for values, u, b, texts in _paper(row["paper"]):
            if u == unit:
                paper, bound, paper_shown = values, b, texts
                break
    if not paper:
        absent = OTHER_UNITS if _STANDALONE_NUMBER.search(str(row["paper"]).translate(_MINUS)) else QUALITATIVE
    return Effect("claim", seeds=seeds, unit=unit, effect=effect, lo=lo, hi=hi, paper=paper,
                  paper_bound=bound, paper_absent=absent, shown=shown, paper_shown=paper_shown, **base)


# ------------------------------------------------------------------------------ parts
def parts(toc: Path | None = None) -> list:
    """[(caption, [page stems])] of the book's parts, in the order of ``_toc.yml``."""
    import yaml

    from . import runner

    toc = yaml.safe_load(Path(toc or runner.ROOT / "_toc.yml").read_text())
    out = []
    for part in toc.get("parts", []):
        pages = []

        def walk(entries):
            for e in entries or []:
                f = str(e.get("file", ""))
                if f.startswith("book/"):
                    pages.append(f.split("/", 1)[1])
                walk(e.get("sections"))

        walk(part.get("chapters"))
        out.append((part.get("caption", ""), pages))
    return out


def grouped(rows_by_chapter: dict, part_list: list) -> list:
    """[(caption, [(chapter, [Effect])])] for the parts with at least one published row."""
    out = []
    for caption, pages in part_list:
        chapters = [(ch, [parse_row(r) for r in rows_by_chapter[ch]])
                    for ch in pages if rows_by_chapter.get(ch)]
        if chapters:
            out.append((caption, chapters))
    return out


# ------------------------------------------------------------------------------ the plot
def _colour(label: str) -> str:
    m = re.search(r"color:\s*(#[0-9a-fA-F]{6})", report.VERDICT_CSS.get(label, ""))
    return m.group(1) if m else "#333333"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def value_text(e: Effect) -> str:
    """The numbers beside a plotted row: ours [CI] unit · paper."""
    def num(text):
        return f"{text}×" if e.unit == RATIO else text

    suffix = {POINTS: " points", LOG2: " (log₂)"}.get(e.unit, "")
    if e.effect is None:
        ours = "no single number (see its table)"
    else:
        ours = num(e.shown[0])
        if e.has_ci:
            ours += f" [{num(e.shown[1])}, {num(e.shown[2])}]"
        ours += suffix
        if not e.has_ci:
            ours += f", {e.seeds} seed{'s' if e.seeds != 1 else ''}: no CI"
    if e.paper:
        paper = "paper " + (f"{e.paper_bound} " if e.paper_bound else "") + \
            " / ".join(num(t) for t in e.paper_shown) + (suffix if e.unit != LOG2 else "")
    else:
        paper = f"paper: {e.paper_absent}"
    return f"{ours}; {paper}"


def _scaled(e: Effect):
    """Positions on the row's own axis: 0 = no difference (1× for speed-ups), the row's largest
    distance from it at ±1. Returns (effect, lo, hi, [paper]) or None when nothing to draw."""
    if e.effect is None:
        return None
    ref = 1.0 if e.unit == RATIO else 0.0
    vals = [e.effect, *(v for v in (e.lo, e.hi) if v is not None), *e.paper]
    span = max(abs(v - ref) for v in vals) or 1.0

    def x(v):
        return None if v is None else (v - ref) / span

    return x(e.effect), x(e.lo), x(e.hi), [x(p) for p in e.paper]


def figure(rows_by_chapter: dict, part_list: list | None = None, titles: dict | None = None,
           width: float = 11.0):
    """The forest plot as a matplotlib Figure: one line per statistical claim, grouped by part
    and chapter, coloured by verdict; ours as a dot with its 95% CI (hollow: one seed, no CI),
    the paper's value as a black diamond (a triangle for a bound)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    titles = titles or {}
    groups = grouped(rows_by_chapter, part_list if part_list is not None else parts())
    lines = []  # (kind, payload)
    for caption, chapters in groups:
        lines.append(("part", caption))
        for ch, effects in chapters:
            claims = [e for e in effects if e.kind == "claim"]
            if claims:
                lines.append(("chapter", titles.get(ch, ch)))
                lines += [("claim", e) for e in claims]
    h = 0.3
    # at most the text column's width in pixels, so the browser never shrinks its text
    from .plotting import MAX_WIDTH_PX

    fig = Figure(figsize=(width, 1.5 + h * len(lines)), dpi=min(110, MAX_WIDTH_PX / width))
    top = 1 - 0.55 / fig.get_figheight()
    bottom = 0.95 / fig.get_figheight()
    ax = fig.add_axes((0.405, bottom, 0.24, top - bottom))
    n = len(lines)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlim(-1.25, 1.25)
    ax.axvline(0, color="#888888", lw=0.8, zorder=0)
    ax.set_yticks([])
    ax.set_xticks([-1, 0, 1], ["ours lower", "no difference\n(1× for speed-ups)", "ours higher"], fontsize=9)
    for s in ("top", "right", "left"):
        ax.spines[s].set_visible(False)
    fy = lambda i: 1 - (0.55 + h * (i + 0.5)) / fig.get_figheight()  # noqa: E731
    for i, (kind, payload) in enumerate(lines):
        y = fy(i)
        if kind == "part":
            fig.text(0.005, y, payload, fontsize=11.5, fontweight="bold", va="center")
            ax.axhspan(i - 0.5, i + 0.5, color="#f0f0f0", zorder=-1)
            continue
        if kind == "chapter":
            fig.text(0.012, y, _clip(payload, 64), fontsize=10, style="italic", color="#444444", va="center")
            continue
        e = payload
        col = _colour(e.label)
        fig.text(0.022, y, _clip(e.claim, 54), fontsize=9.5, va="center", color="#222222")
        fig.text(0.655, y, _clip(value_text(e), 62), fontsize=9, va="center", color=col)
        pos = _scaled(e)
        if pos is None:
            ax.text(0, i, "·", ha="center", va="center", color="#999999")
            continue
        x, lo, hi, paper = pos
        if lo is not None:
            ax.plot([lo, hi], [i, i], color=col, lw=2.2, solid_capstyle="butt")
            ax.plot([x], [i], "o", color=col, ms=5)
        else:
            ax.plot([x], [i], "o", mfc="white", mec=col, mew=1.4, ms=5)
        marker = {"≥": ">", ">=": ">", ">": ">", "≤": "<", "<=": "<", "<": "<"}.get(e.paper_bound or "", "D")
        for p in paper:
            ax.plot([p], [i], marker, mfc="none" if marker == "D" else "black", mec="black", mew=1.1, ms=5)
    handles = [Line2D([], [], color=_colour(lab), lw=2.2, marker="o", label=lab)
               for lab in report.LABELS if lab not in (report.EXACT, report.NOT_RUN)]
    handles += [Line2D([], [], ls="", marker="o", mfc="white", mec="#555555", label="one seed: no CI"),
                Line2D([], [], ls="", marker="D", mfc="none", mec="black", label="the paper's effect"),
                Line2D([], [], ls="", marker=">", color="black", label="the paper's bound")]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.text(0.525, 1 - 0.25 / fig.get_figheight(), "ours: effect and 95% CI\n(each row on its own scale)",
             fontsize=9, va="center", ha="center")
    fig.text(0.655, 1 - 0.25 / fig.get_figheight(), "ours [95% CI]; the paper, in the same units",
             fontsize=9, va="center")
    return fig


def png(fig) -> bytes:
    """The figure as PNG bytes (no timestamp or software tag: the same figure, the same bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


# ------------------------------------------------------------------------------ conclusions
def _item(chapter: str, e: Effect) -> str:
    r = e.text
    if e.kind == "check":
        return f"{e.claim} — ours {r['ours']} (an exact check; paper {r['paper']}) [*{chapter}*]"
    ci = "" if r["95% CI"] == "—" else f", 95% CI {r['95% CI']}"
    paper = "" if not e.paper else f" (paper {r['paper']})"
    seeds = f"{e.seeds} seed{'s' if e.seeds != 1 else ''}"
    return f"{e.claim} — ours {r['ours']}{ci}, {seeds}{paper} [*{chapter}*]"


def conclusions(rows_by_chapter: dict, part_list: list | None = None, titles: dict | None = None) -> str:
    """A short conclusion per part, in Markdown, written from the rows alone: what held (claims
    with report.REPRODUCED), what did not (report.CONTRADICTED, failed exact checks included, as
    :func:`report.headline` counts them), and what this scale cannot tell (report.INCONCLUSIVE, by
    reason), then how many exact checks held and how many rows did not run."""
    titles = titles or {}
    out = []
    for caption, chapters in grouped(rows_by_chapter, part_list if part_list is not None else parts()):
        by = {lab: [] for lab in report.LABELS}
        checks, not_run = 0, {}
        for ch, effects in chapters:
            for e in effects:
                if e.kind == "check" and e.label == report.EXACT:
                    checks += 1
                elif e.kind == "not run":
                    why = e.text["verdict"][len(report.NOT_RUN):].strip(" ()") or "no reason given"
                    not_run[why] = not_run.get(why, 0) + 1
                else:
                    by[e.label].append((titles.get(ch, ch), e))
        # as report.headline counts: a check that fails (the paper's printed formula) is a claim
        # that did not hold; a check that holds is counted apart
        tested = sum(len(by[k]) for k in (report.REPRODUCED, report.CONTRADICTED, report.INCONCLUSIVE))
        held, failed = by[report.REPRODUCED], by[report.CONTRADICTED]
        out.append(f"**{caption}.** Of {tested} claims tested here:")
        out.append("")
        for head, found in (("What held", held), ("What did not", failed)):
            out.append(f"- *{head}* ({len(found)})" + (":" if found else ": nothing."))
            out += [f"  - {_item(c, e)}" for c, e in found]
        why = {}
        for _, e in by[report.INCONCLUSIVE]:
            k = report._reason(e.text["verdict"])
            why[k] = why.get(k, 0) + 1
        reasons = ", ".join(f"{k} ({v})" for k, v in sorted(why.items(), key=lambda kv: (-kv[1], kv[0])))
        tail = f"- *What this scale cannot tell* ({len(by[report.INCONCLUSIVE])}): "
        tail += (f"undecided — {reasons}." if why else "nothing.")
        extra = []
        if checks:
            extra.append(f"{checks} exact check{'s' if checks != 1 else ''} of formulas and schedules held")
        if not_run:
            extra.append(f"{sum(not_run.values())} row{'s' if sum(not_run.values()) != 1 else ''} not run here ("
                         + "; ".join(not_run) + ")")
        if extra:
            tail += " Besides: " + ", and ".join(extra) + "."
        out.append(tail)
        out.append("")
    return "\n".join(out).strip() + "\n"
