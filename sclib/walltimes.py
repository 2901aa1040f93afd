"""The README's cost tables, made from the records the pages keep (``python -m sclib times``).

Nothing in them is typed by hand:

- ``smoke``: the kernel time of ``notebooks/NAME.ipynb`` (the smoke outputs nbval compares),
  from its cells' ``execution`` timestamps: first cell started to last cell replied.
- ``cpu``, last execution: ``metadata.sclib`` of ``book/NAME.ipynb`` (seconds, date, machine).
- ``cpu``, longest recorded: the longest ``cpu`` execution of that page in the git history (each
  commit's copy of the page, dated by its own record; earlier designs of the page too), never
  below the last one. The records do not say which runs were trained and which read from the
  run store, so this is not an estimate of a first ``make book``.
- ``gpu``: the planned time of ``sclib/gpu_plan.json`` (the dry run's estimate).

``--write`` replaces the text between the markers in README.md. It refuses a shallow clone,
whose history is cut short (the longest column would shrink).
"""
from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

from . import dryrun, gpu, runner
from .errors import ConfigError

README = runner.ROOT / "README.md"
TIMES = ("<!-- begin: python -m sclib times --write (page times) -->", "<!-- end: page times -->")
PLAN = ("<!-- begin: python -m sclib times --write (gpu plan) -->", "<!-- end: gpu plan -->")


def pages() -> list:
    """The book's pages that are notebooks, in the table of contents' order."""
    return [n for n in runner.toc_pages() if n in runner.notebook_names()]


def _stamp(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def smoke_seconds(nb: dict) -> float | None:
    """Kernel time of an executed notebook (its cells' execution timestamps), or None."""
    starts, ends = [], []
    for c in nb.get("cells", []):
        ex = c.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in ex and "shell.execute_reply" in ex:
            starts.append(_stamp(ex["iopub.execute_input"]))
            ends.append(_stamp(ex["shell.execute_reply"]))
    return (max(ends) - min(starts)).total_seconds() if starts else None


def _git(*args, must: bool = True) -> str:
    """git's output; when ``must``, a missing git or a folder outside a repository is one line."""
    try:
        return subprocess.run(["git", *args], cwd=runner.ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        if not must:
            raise
        raise ConfigError(f"`git {' '.join(args)}` failed in {runner.ROOT}: the cost tables read the pages' git "
                          f"history, so they need git and a clone of the repository") from e


def shallow() -> bool:
    return _git("rev-parse", "--is-shallow-repository").strip() == "true"


def _cpu(meta) -> dict | None:
    """A page's record (``metadata.sclib``) if the page is a timed execution of the ``cpu``
    profile as it stands (no ``-p`` overrides), else None. Pages executed before the date was
    recorded are dated by papermill's end time."""
    rec = dict(meta.get("sclib") or {})
    if rec.get("fingerprint", {}).get("profile") != "cpu" or rec.get("seconds") is None or rec.get("parameters"):
        return None
    end = meta.get("papermill", {}).get("end_time")
    rec.setdefault("executed", end[:10] if end else None)
    return rec


def _meta(text: str) -> dict:
    return json.loads(text).get("metadata", {})


def last(name: str) -> dict | None:
    p = runner.BOOK / f"{name}.ipynb"
    return _cpu(_meta(p.read_text())) if p.exists() else None


def history(name: str) -> list:
    """The page's ``cpu`` records in every commit that changed ``book/NAME.ipynb`` (newest first)."""
    path = f"book/{name}.ipynb"
    out = []
    for sha in _git("log", "--format=%H", "--", path).split():
        try:
            rec = _cpu(_meta(_git("show", f"{sha}:{path}", must=False)))
        except (subprocess.CalledProcessError, json.JSONDecodeError, AttributeError):
            continue  # the commit deleted the page, or it was not a notebook then
        if rec:
            out.append(rec)
    return out


def longest(name: str) -> dict | None:
    """The longest ``cpu`` execution of the page: in its history or, if longer, the last one."""
    recs = [r for r in history(name) + [last(name)] if r]
    return max(recs, key=lambda r: r["seconds"]) if recs else None


def _when(rec) -> str:
    return (rec.get("executed") or "date not recorded")[:10]


def _machine(hw: str | None) -> str:
    """'Intel(R) Xeon(R) Processor, x86_64, 2 CPU cores, 2 torch threads' -> 'Intel Xeon, 2 cores'."""
    if not hw:
        return "machine not recorded"
    if " (" in hw.split(",")[0]:  # a GPU page: "NVIDIA H200 (AMD EPYC ..., x86_64, 16 CPU cores, ...)"
        return hw.split(" (")[0]
    name = re.sub(r"\((R|TM)\)|\bProcessor\b|\b\d+-Core\b|\bCPU\b", "", hw.split(",")[0]).split("@")[0]
    cores = re.search(r"(\d+) CPU cores", hw)
    return " ".join(name.split()) + (f", {cores.group(1)} cores" if cores else "")


def _min(s: float) -> str:
    return dryrun.minutes(s)


def page_rows() -> list:
    plan = gpu.read_plan().get("chapters", {})
    rows = []
    for n in pages():
        nb = json.loads((runner.NOTEBOOKS / f"{n}.ipynb").read_text())
        rec, top = last(n), longest(n)
        e = plan.get(n)
        rows.append(dict(page=n, smoke=smoke_seconds(nb), last=rec, longest=top,
                         gpu=e["gpu_seconds"] if e else None,
                         gpu_current=bool(e) and e.get("fingerprint") == runner.fingerprint(n, "gpu")))
    return rows


def times_table(rows=None) -> str:
    rows = page_rows() if rows is None else rows
    out = ["| page | `smoke` (nbval) | `cpu`: last execution | `cpu`: longest recorded | `gpu`: planned |",
           "|---|---|---|---|---|"]
    for r in rows:
        smoke = "—" if r["smoke"] is None else f"{r['smoke']:.0f} s"
        lst = "not executed" if not r["last"] else \
            f"{_min(r['last']['seconds'])} ({_when(r['last'])}, {_machine(r['last'].get('hardware'))})"
        top = "—" if not r["longest"] else f"{_min(r['longest']['seconds'])} ({_when(r['longest'])})"
        g = "—" if r["gpu"] is None else _min(r["gpu"]) + ("" if r["gpu_current"] else " (plan older than the page)")
        out.append(f"| `{r['page']}` | {smoke} | {lst} | {top} | {g} |")
    smoke = sum(r["smoke"] or 0 for r in rows)
    g = sum(r["gpu"] or 0 for r in rows)
    lacks = lambda k, what: (f" (without {k} {what})" if k else "")
    no_smoke = sum(r["smoke"] is None for r in rows)
    no_gpu = sum(r["gpu"] is None for r in rows if r["page"] not in runner.DERIVED)
    old = sum(r["gpu"] is not None and not r["gpu_current"] for r in rows)
    out.append(f"| all | {smoke / 60:.1f} min{lacks(no_smoke, 'untimed')} | | | {_min(g)}{lacks(no_gpu, 'unplanned')}"
               f"{f' ({old} plan(s) older than the page)' if old else ''} |")
    return "\n".join(out)


def plan_table() -> str:
    plan = gpu.read_plan()
    ch = plan.get("chapters", {})
    out = ["| order | chapter | planned GPU time | runs | dry run (CPU) | by dataset |", "|---|---|---|---|---|---|"]
    tot = dict(s=0.0, runs=0, dry=0.0, missing=0)
    for i, n in enumerate(gpu.order(), 1):
        e = ch.get(n)
        if not e:
            out.append(f"| {i} | `{n}` | not planned | | | |")
            tot["missing"] += 1
            continue
        by = {k: v for k, v in e.get("by_dataset", {}).items() if k not in ("?", "-")}  # runs without data
        split = ", ".join(f"{k} {_min(v)}" for k, v in by.items()) if len(by) > 1 else ""
        if e.get("incomplete"):
            split = (split + "; " if split else "") + "at least: its dry run failed before the end"
        out.append(f"| {i} | `{n}` | {_min(e['gpu_seconds'])} | {e['runs']} | {e['dry_run_seconds']:.0f} s | {split} |")
        tot["s"] += e["gpu_seconds"]
        tot["runs"] += e["runs"]
        tot["dry"] += e["dry_run_seconds"]
    miss = f" (without {tot['missing']} not planned)" if tot["missing"] else ""
    out.append(f"| | all{miss} | {_min(tot['s'])} | {tot['runs']} | {tot['dry'] / 60:.1f} min | |")
    days = sorted({e["made"][:10] for e in ch.values() if e.get("made")})
    span = "—" if not days else days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
    cpus = {}
    for e in ch.values():
        m = _machine(e["cpu"]) if e.get("cpu") else "a CPU not recorded in the plan"
        cpus[m] = cpus.get(m, 0) + 1
    on = "; ".join(f"{m} ({k} chapter{'s' * (k > 1)})" for m, k in sorted(cpus.items()))
    out += ["", f"Device assumed: {plan.get('device', {}).get('name', 'not recorded')}. "
                f"Dry runs made {span}, on: {on or '—'}."]
    return "\n".join(out)


def blocks() -> dict:
    return {TIMES: times_table(), PLAN: plan_table()}


def render(text: str, made: dict) -> str:
    """``text`` with the part between each pair of markers replaced by its table."""
    for (begin, end), table in made.items():
        if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
            raise ConfigError(f"README.md must hold the markers {begin!r} and {end!r} once each, in that order")
        i, j = text.index(begin) + len(begin), text.index(end)
        text = text[:i] + "\n" + table + "\n" + text[j:]
    return text


def main(args) -> int:
    tables = blocks()
    if not args.write:
        for table in tables.values():
            print(table + "\n")
        if shallow():
            print("sclib times: this is a shallow clone: the 'longest recorded' column reads only the "
                  "history it holds", file=sys.stderr)
        return 0
    text = README.read_text()
    made = render(text, tables)
    if shallow():
        raise ConfigError("this is a shallow clone: the pages' history is cut short, so the longest "
                          "executions cannot be read; fetch the whole history (git fetch --unshallow)")
    if made != text:
        README.write_text(made)
        print("README.md: the cost tables were rewritten")
    else:
        print("README.md: the cost tables are current")
    return 0


def add_parser(sub) -> None:
    t = sub.add_parser("times", help="print the README's wall-time and GPU-plan tables from the pages' records "
                                     "(--write: put them into README.md)")
    t.add_argument("--write", action="store_true", help="replace the tables between the markers in README.md")
