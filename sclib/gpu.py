"""``python -m sclib gpu --budget MINUTES``: the ``gpu`` profile on a GPU, in priority order,
within a time budget (``make gpu BUDGET=MINUTES``).

1. Without CUDA it stops at once (status 2) with one line pointing at the dry run.
2. The chapters run one after another in :data:`PRIORITY` order (then the book's order):
   Smith & Topin's ResNet-56 one-cycle vs piecewise constant (``resnet_superconvergence``),
   the KTH CIFAR-10 rows (``kth_verification``), CLR Table 3 at full scale (``clr_sgdr``), the
   rest. Each is executed by ``sclib.runner.execute`` at profile ``gpu`` into
   ``OUT_DIR/NAME-gpu.ipynb`` (default ``runs/``; ``--into-book``: ``book/NAME.ipynb``), in a
   child process that is stopped (with every process it started) when the budget runs out.
3. A chapter is started when its estimated GPU time (``sclib/gpu_plan.json``, written by
   ``python -m sclib gpu --dry-run`` from the dry runs' counted FLOPs) fits the time left; one
   that does not is skipped, so that a short lease finishes the pages that fit. With ``--bank``
   the first chapter of a call is started even when it does not fit, to bank its finished runs
   (worth it where the run store outlives the call). Finished runs stay in the run store
   (``--store DIR`` sets ``SCLIB_RUNS``); a run that was stopped resumes from its last epoch, so
   the next call with that store goes on where this one stopped. A chapter whose page is already
   there with the current code and parameters is not rerun.
4. Data: ``--data DIR`` (default ``data/`` when it exists) may hold ``cifar10-jpeg.tar.gz``,
   ``fashion-mnist/`` (the four idx files), ``oxflower17/``, ``tiny-imagenet-200/`` and
   ``quickdraw/`` (``<word>.ndjson`` files) or ``quickdraw*.tar.gz``; CIFAR-10, Fashion-MNIST and
   the Quick, Draw! sample are also found in their usual places (``../shared/data``,
   ``/usr/share/datasets/fashion-mnist``). A chapter whose
   data is missing is skipped, saying so; ``kth_verification`` drops the Oxflower17 and Tiny
   ImageNet runs it has no files for (the CIFAR-10 rows remain).
5. What it did is appended to ``OUT_DIR/gpu-log.json``: per chapter the estimate, the seconds it
   took and how it ended (done, stopped at the budget, failed, skipped and why).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import dryrun, procs, profiles, runner
from .errors import ConfigError

PRIORITY = ("resnet_superconvergence", "kth_verification", "clr_sgdr")
PLAN = Path(__file__).with_name("gpu_plan.json")
MARGIN_S = 30.0      #: stop the running chapter this long before the budget ends
MIN_START_S = 60.0   #: never start a chapter with less time left than this
EXTRA_DATA = {"oxflower17": ("oxflower17_root", "oxflower17"),
              "tinyimagenet": ("tinyimagenet_root", "tiny-imagenet-200")}
#: Parameters ``sclib gpu`` changes from the gpu profile, and why (the page records them).
GPU_OVERRIDES = {
    "performance": ({"bench_build": False},
                    "building the book twice is no GPU measurement (and needs jupyter-book there)"),
}


def order(names=None) -> list:
    """The chapters in the order ``sclib gpu`` runs them: :data:`PRIORITY`, then the book's."""
    chapters = [n for n in runner.toc_pages() if n in profiles.CHAPTERS]
    chapters += [n for n in profiles.CHAPTERS if n not in chapters]
    out = [n for n in PRIORITY if n in chapters] + [n for n in chapters if n not in PRIORITY]
    if names:
        for n in names:
            profiles.check_choice("notebook", n, tuple(profiles.CHAPTERS))
        out = [n for n in out if n in names]
    return out


# ------------------------------------------------------------------ data
def datasets_of(name: str, profile: str = "gpu") -> set:
    """The datasets a chapter's profile names (in any parameter, lists included)."""
    from . import data

    found = set()

    def walk(v):
        if isinstance(v, str) and v in data.NAMES:
            found.add(v)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)

    for v in profiles.CHAPTERS[name][profile].values():
        walk(v)
    if name == "quickdraw":
        found.add("quickdraw")
    return found


def available(data_dir) -> dict:
    """What data this machine has: dataset -> path (None: in sclib.data's usual place)."""
    d = Path(data_dir) if data_dir else None
    have = {"digits": None}
    if d is not None and (d / "cifar10-jpeg.tar.gz").is_file():
        have["cifar10"] = d / "cifar10-jpeg.tar.gz"
    elif dryrun._real_cifar10():
        have["cifar10"] = None
    if d is not None and any((d / "fashion-mnist" / f"train-images-idx3-ubyte{s}").exists() for s in (".gz", "")):
        have["fashion_mnist"] = d / "fashion-mnist"
    elif dryrun._real_fashion_mnist():
        have["fashion_mnist"] = None
    for ds, (_, folder) in EXTRA_DATA.items():
        if d is not None and (d / folder).is_dir():
            have[ds] = d / folder
    from . import strokes

    sample = getattr(strokes, "SHARED_SAMPLE", None)
    tarballs = sorted(d.glob("quickdraw*.tar.gz")) if d is not None else []
    if d is not None and (d / "quickdraw").is_dir():
        have["quickdraw"] = d / "quickdraw"
    elif tarballs:
        have["quickdraw"] = tarballs[0]
    elif sample is not None and Path(sample).is_file():
        have["quickdraw"] = Path(sample)
    return have


def chapter_params(name: str, have: dict) -> tuple:
    """(parameters for ``runner.execute``, why it cannot run or None, notes) for one chapter."""
    params, notes = {}, []
    if name in GPU_OVERRIDES:
        over, why = GPU_OVERRIDES[name]
        params.update(over)
        notes.append(f"{', '.join(f'{k}={v}' for k, v in over.items())}: {why}")
    gpu = profiles.CHAPTERS[name]["gpu"]
    need = datasets_of(name) - set(EXTRA_DATA)
    if name == "kth_verification":
        keep = [[ds, net] for ds, net in gpu["extra_runs"] if ds not in EXTRA_DATA or ds in have]
        dropped = sorted({ds for ds, _ in gpu["extra_runs"]} - {ds for ds, _ in keep})
        for ds in {ds for ds, _ in keep}:
            if ds in EXTRA_DATA:
                params[EXTRA_DATA[ds][0]] = str(have[ds])
        if dropped:
            params["extra_runs"] = keep
            notes.append(f"no {', '.join(dropped)} files: those runs dropped (the CIFAR-10 rows remain)")
    else:
        need |= datasets_of(name) & set(EXTRA_DATA)
    if name == "quickdraw" and "quickdraw" in have:
        params["root"] = str(have["quickdraw"])
    missing = sorted(need - set(have))
    why = None
    if missing:
        why = f"no {', '.join(missing)} files (see --data)"
    return params, why, notes


def data_env(have: dict) -> dict:
    """Environment for the child: point sclib.data at CIFAR-10 / Fashion-MNIST given in --data."""
    paths = {}
    if have.get("cifar10") is not None:
        paths["cifar10_tarball"] = str(have["cifar10"])
    if have.get("fashion_mnist") is not None:
        paths["fashion_mnist_dir"] = str(have["fashion_mnist"])
    if not paths:
        return {}
    return {"SCLIB_DATA": json.dumps(paths),
            "PYTHONPATH": os.pathsep.join([str(dryrun.SITE), str(runner.ROOT)]
                                          + [p for p in [os.environ.get("PYTHONPATH")] if p])}


# ------------------------------------------------------------------ the estimates
def read_plan() -> dict:
    try:
        return json.loads(PLAN.read_text())
    except (OSError, json.JSONDecodeError):
        return {"chapters": {}}


def estimate(name: str, params: dict, plan: dict) -> tuple:
    """(estimated GPU seconds or None, note) for a chapter run with ``params``."""
    e = plan.get("chapters", {}).get(name)
    if not e:
        return None, "no estimate (run `python -m sclib gpu --dry-run`)"
    s = e["gpu_seconds"]
    if "extra_runs" in params:  # kth without some extra datasets: their runs are not made
        kept = {ds for ds, _ in params["extra_runs"]}
        s -= sum(v for ds, v in e.get("by_dataset", {}).items() if ds in EXTRA_DATA and ds not in kept)
    note = "" if e.get("fingerprint") == runner.fingerprint(name, "gpu") else \
        " (estimated for an older version of the chapter)"
    if e.get("incomplete"):
        note += " (at least: its dry run failed before the end)"
    return s, note


def decide(est_s, remaining_s: float, first: bool, bank: bool = False) -> str:
    """``run``: it fits (or has no estimate); ``bank``: it does not fit but is the first of the
    call and ``bank`` is asked for (its finished runs are kept); ``skip``: it does not fit;
    ``stop``: too little left."""
    if remaining_s < MIN_START_S:
        return "stop"
    if est_s is None or est_s <= remaining_s:
        return "run"
    return "bank" if first and bank else "skip"


def schedule(names, estimates: dict, budget_s: float, bank: bool = False) -> list:
    """[(name, action, seconds it is given)] if every chapter took its estimate: the plan
    ``sclib gpu`` follows (it re-decides with the real clock after each chapter)."""
    left, out, first = budget_s - MARGIN_S, [], True
    for n in names:
        est = estimates.get(n)
        a = decide(est, left, first, bank)
        if a == "stop":
            out.append((n, "stop", 0.0))
            continue
        if a == "skip":
            out.append((n, a, 0.0))
            continue
        took = left if est is None or a == "bank" else est
        out.append((n, a, took))
        left -= took
        first = False
    return out


# ------------------------------------------------------------------ running
def page_done(out: Path, name: str, params: dict) -> bool:
    """The page is there, executed at profile gpu with this code and these parameters."""
    try:
        meta = json.loads(out.read_text())["metadata"].get("sclib") or {}
    except (OSError, json.JSONDecodeError, KeyError):
        return False
    return meta.get("fingerprint") == runner.fingerprint(name, "gpu") and meta.get("parameters", {}) == params


def _child(spec_file: str) -> int:
    """In the child process: execute one chapter (``python -m sclib.gpu SPEC.json``)."""
    spec = json.loads(Path(spec_file).read_text())
    try:
        runner.execute(spec["name"], "gpu", spec["params"], out=Path(spec["out"]))
    except Exception as e:  # one line for the log; the parent reports it
        if type(e).__name__ == "PapermillExecutionError":
            msg = f"{e.ename}: {' '.join(str(e.evalue).split())}"
        else:
            msg = f"{type(e).__name__}: {' '.join(str(e).split())}"
        print(f"sclib: error: {spec['name']}: {msg}", file=sys.stderr, flush=True)
        return 1
    return 0


def run_chapter(name: str, params: dict, out: Path, timeout_s: float, env: dict) -> tuple:
    """(status, seconds): ``done``, ``failed`` or ``stopped`` (the budget ran out)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sclib-gpu-") as d:
        spec = Path(d) / "spec.json"
        spec.write_text(json.dumps(dict(name=name, params=params, out=str(out))))
        t0 = time.time()
        proc = subprocess.Popen([sys.executable, "-m", "sclib.gpu", str(spec)], cwd=runner.ROOT,
                                env=dict(os.environ, PYTHONUNBUFFERED="1", **env), start_new_session=True)
        try:
            rc = proc.wait(timeout=max(1.0, timeout_s))
        except subprocess.TimeoutExpired:
            procs.stop(proc)
            return "stopped", time.time() - t0
        except BaseException:  # Ctrl-C: the child is in its own session and would run on
            procs.stop(proc)
            raise
        return ("done" if rc == 0 else "failed"), time.time() - t0


def append_log(path: Path, entries) -> list:
    """Append ``entries`` to the JSON list in ``path`` (``gpu-log.json``; a missing or unreadable
    file starts a new list), leaving out those already there; returns the new list."""
    try:
        past = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        past = []
    log = past + [e for e in json.loads(json.dumps(list(entries), default=str)) if e not in past]
    Path(path).write_text(json.dumps(log, indent=1) + "\n")
    return log


def _fmt_s(s) -> str:
    return "?" if s is None else dryrun.minutes(s)


def plan_chapters(names, write: bool = True, synthetic: bool = False) -> tuple:
    """Dry-run each chapter at the full gpu profile (with :data:`GPU_OVERRIDES`) and keep its
    estimate in :data:`PLAN`; a chapter whose dry run fails keeps the plan up to the failing
    cell, marked incomplete, with its error. Returns (plan, [errors])."""
    plan = read_plan()
    plan["device"] = {k: v for k, v in dryrun.DEVICE.items()}
    errors = []
    for n in names:
        try:
            r = dryrun.dry_run(n, "gpu", dict(GPU_OVERRIDES.get(n, ({}, ""))[0]), synthetic=synthetic)
            error = None
            print(dryrun.report(r), flush=True)
        except dryrun.DryRunFailed as e:
            r, error = e.result, str(e)
            errors.append(error)
            print(f"sclib: error: {error}", file=sys.stderr, flush=True)
        by_ds = {}
        for line in r.lines:
            by_ds[line["dataset"]] = by_ds.get(line["dataset"], 0.0) + dryrun.gpu_seconds(line)
        plan.setdefault("chapters", {})[n] = dict(
            gpu_seconds=round(r.gpu_seconds, 1), runs=r.runs, by_dataset={k: round(v, 1) for k, v in by_ds.items()},
            dry_run_seconds=round(r.seconds, 1), fingerprint=runner.fingerprint(n, "gpu"), cpu=runner._hardware(),
            made=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            **({"incomplete": error} if error else {}))
        if write:
            tmp = PLAN.with_suffix(".tmp")
            tmp.write_text(json.dumps(plan, indent=1, sort_keys=True) + "\n")
            os.replace(tmp, PLAN)
    return plan, errors


def add_parser(sub) -> None:
    g = sub.add_parser("gpu", help="run the gpu profile's chapters on a GPU in priority order within "
                                   "--budget minutes (--dry-run: check them on the CPU and estimate)")
    g.add_argument("--budget", type=float, metavar="MINUTES", help="wall-clock minutes this call may use")
    g.add_argument("--data", metavar="DIR", help="folder of carried data (default: data/ when it exists)")
    g.add_argument("--store", metavar="DIR", help="the run store to use and keep (sets SCLIB_RUNS)")
    g.add_argument("--out-dir", metavar="DIR", default="runs", help="where the pages and gpu-log.json go")
    g.add_argument("--into-book", action="store_true", help="write each finished page to book/NAME.ipynb")
    g.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="these chapters only (still in priority order)")
    g.add_argument("--force", action="store_true", help="rerun chapters whose page is already there")
    g.add_argument("--bank", action="store_true",
                   help="start the first chapter even when its estimate does not fit, to keep its finished runs "
                        "(default: skip it, so that the chapters that fit finish their pages)")
    g.add_argument("--dry-run", action="store_true",
                   help="dry-run the chapters on the CPU, write their estimates to sclib/gpu_plan.json "
                        "and print what --budget would run")
    g.add_argument("--synthetic", action="store_true", help="with --dry-run: synthetic data only")


def main(args) -> int:
    names = order(args.only)
    data_dir = args.data or (str(runner.ROOT / "data") if (runner.ROOT / "data").is_dir() else None)
    if args.data and not Path(args.data).is_dir():
        raise ConfigError(f"--data={args.data!r} is not a folder")
    if args.budget is not None and args.budget <= 0:
        raise ConfigError(f"--budget must be > 0 minutes, got {args.budget:g}")
    have = available(data_dir)
    errors = []
    if args.dry_run:
        plan, errors = plan_chapters(names, synthetic=args.synthetic)
    else:
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("no CUDA device here (torch.cuda.is_available() is False): `sclib gpu` "
                              "trains only on a GPU; check the gpu profile on this machine with "
                              "`python -m sclib gpu --dry-run` or `python -m sclib run NOTEBOOK --profile gpu --dry-run`")
        if args.budget is None:
            raise ConfigError("--budget MINUTES is required (the wall-clock time this call may use)")
        plan = read_plan()
    out_dir = Path(args.out_dir) if Path(args.out_dir).is_absolute() else runner.ROOT / args.out_dir
    rows = []
    for n in names:
        params, why, notes = chapter_params(n, have)
        est, note = estimate(n, params, plan)
        out = runner.BOOK / f"{n}.ipynb" if args.into_book else out_dir / f"{n}-gpu.ipynb"
        rows.append(dict(name=n, params=params, why=why, notes=notes, estimate_s=est, note=note, out=out))
    if args.dry_run:
        print(f"\nplanned GPU time per chapter at profile gpu ({dryrun.DEVICE['name']}; data here: "
              f"{', '.join(sorted(k for k in have if k != 'digits')) or 'none'}):")
        for r in rows:
            extra = f"  [{r['why']}]" if r["why"] else ""
            extra += "".join(f"  [{x}]" for x in r["notes"])
            print(f"  {r['name']:<24} {_fmt_s(r['estimate_s']):>9}{r['note']}{extra}")
        if args.budget is not None:
            runnable = [r["name"] for r in rows if not r["why"]]
            print(f"with --budget {args.budget:g} (if every chapter took its estimate):")
            for n, a, s in schedule(runnable, {r["name"]: r["estimate_s"] for r in rows}, 60 * args.budget,
                                    args.bank):
                print(f"  {n:<24} {a:<5} {_fmt_s(s) if a in ('run', 'bank') else ''}")
        for e in errors:  # again at the end, where they are seen
            print(f"sclib: error: {e}", file=sys.stderr)
        return 1 if errors else 0
    env = data_env(have)
    if args.store:
        env["SCLIB_RUNS"] = str(Path(args.store).resolve())
        Path(env["SCLIB_RUNS"]).mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    deadline = t0 + 60 * args.budget - MARGIN_S
    log = dict(started=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               hardware=runner._hardware(), budget_min=args.budget, store=os.environ.get("SCLIB_RUNS", "")
               if not args.store else env["SCLIB_RUNS"], chapters=[])
    first = True
    print(f"sclib gpu: {len(names)} chapter(s), budget {args.budget:g} min, on {log['hardware']}", flush=True)
    for r in rows:
        entry = dict(name=r["name"], params=r["params"], estimate_s=r["estimate_s"], notes=r["notes"])
        log["chapters"].append(entry)
        if r["why"]:
            entry["status"] = f"skipped: {r['why']}"
        elif not args.force and page_done(r["out"], r["name"], r["params"]):
            entry["status"] = "already done"
        else:
            left = deadline - time.time()
            a = decide(r["estimate_s"], left, first, args.bank)
            if a == "stop":
                entry["status"] = f"not started: {left:.0f} s left"
            elif a == "skip":
                entry["status"] = f"skipped: needs ~{_fmt_s(r['estimate_s'])}, {_fmt_s(left)} left"
            else:
                first = False
                print(f"sclib gpu: {r['name']} (estimate {_fmt_s(r['estimate_s'])}{r['note']}; "
                      f"{_fmt_s(left)} left{'; may not finish: its finished runs are kept' if a == 'bank' else ''})",
                      flush=True)
                status, secs = run_chapter(r["name"], r["params"], r["out"], left, env)
                entry.update(status=status if status != "stopped" else "stopped at the budget (finished runs kept)",
                             seconds=round(secs, 1), out=str(r["out"]))
        print(f"sclib gpu: {r['name']}: {entry['status']}", flush=True)
    log["seconds"] = round(time.time() - t0, 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "gpu-log.json"
    append_log(path, [log])
    done = [c["name"] for c in log["chapters"] if c.get("status") == "done"]
    print(f"sclib gpu: {len(done)} page(s) written in {log['seconds'] / 60:.1f} min"
          + (f": {', '.join(done)}" if done else "") + f"; log: {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
