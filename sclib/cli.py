"""Command line: ``python -m sclib run|book|stale``.

    python -m sclib run NOTEBOOK [--profile smoke|cpu|gpu] [-p NAME VALUE]... [--out PATH | --into-book]
    python -m sclib book [--check] [--strict]
    python -m sclib stale [--check]   # --check: exit 1 when a page is stale (CI)
    python -m sclib nbval-refresh [NOTEBOOK...]
    python -m sclib restamp [NOTEBOOK...]   # rewrite the run-info note of executed pages, no rerun
    python -m sclib restyle [NOTEBOOK...] [--migrate]   # copy prose and tags into executed pages, no rerun
    python -m sclib run NOTEBOOK --profile gpu --dry-run   # every code path on the CPU, tiny; the GPU plan
    python -m sclib gpu --budget MINUTES [--data DIR]    # the gpu profile, in priority order (sclib/gpu.py)
    python -m sclib lease pack|rehearse|unpack   # a run on a lent GPU machine (sclib/lease.py)
    python -m sclib times [--write]   # the README's wall-time and GPU-plan tables, from the pages' records

Bad input exits with status 2 and one line naming the parameter; nothing is left in book/.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from . import runner
from .errors import ConfigError, DataMissingError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, like every other bad input
        print(f"sclib: error: {message}", file=sys.stderr)
        sys.exit(2)


def _parser():
    p = _Parser(prog="python -m sclib", description="Run the study's notebooks and build its book.")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute notebooks/NOTEBOOK.ipynb with papermill "
                                   "(into runs/NOTEBOOK-PROFILE.ipynb unless --out or --into-book)")
    r.add_argument("notebook")
    r.add_argument("--profile", default=runner.BOOK_PROFILE)
    r.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    where = r.add_mutually_exclusive_group()
    where.add_argument("--out", metavar="PATH", help="write the executed notebook here (a .ipynb file)")
    where.add_argument("--into-book", action="store_true",
                       help="replace the book page book/NOTEBOOK.ipynb (what `make book` would do)")
    r.add_argument("--dry-run", action="store_true",
                   help="run every cell on the CPU at a tiny size, two steps per run (sclib/dryrun.py), "
                        "then print the profile's planned runs and their GPU time; writes nothing but --out")
    r.add_argument("--synthetic", action="store_true",
                   help="with --dry-run: synthetic stand-ins for every dataset, even where real files are here")
    b = sub.add_parser("book", help="execute stale notebooks, then build the HTML book in _build/html")
    b.add_argument("--check", action="store_true",
                   help="never execute: report stale pages and build from what is committed")
    b.add_argument("--strict", action="store_true", help="treat Sphinx warnings as errors")
    st = sub.add_parser("stale", help="list pages whose executed copy is missing or stale")
    st.add_argument("--check", action="store_true",
                    help="exit with status 1 when any page is stale (CI: a page must show what the code measures)")
    n = sub.add_parser("nbval-refresh", help="re-record the smoke outputs nbval checks in notebooks/")
    n.add_argument("notebooks", nargs="*", help="default: all")
    s = sub.add_parser("restamp", help="rewrite the 'How this page was produced' note of book/ pages "
                                       "from their recorded metadata (never retrains)")
    s.add_argument("notebooks", nargs="*", help="default: every executed page")
    y = sub.add_parser("restyle", help="copy a notebook's markdown cells, cell tags/metadata and "
                                       "notebook metadata into its executed book/ page, outputs kept "
                                       "(never retrains; refuses when the code differs)")
    y.add_argument("notebooks", nargs="*", help="default: every executed page")
    y.add_argument("--migrate", action="store_true",
                   help="only rewrite old-style recorded hashes of fresh pages (source: every cell; "
                        "profile: the table's syntax) to the current rules; idempotent")
    from . import gpu, lease, walltimes

    gpu.add_parser(sub)
    lease.add_parser(sub)
    walltimes.add_parser(sub)
    return p


def _stale():
    # derived pages last: they read what the others publish
    names = sorted(runner.notebook_names(), key=lambda n: n in runner.DERIVED)
    return {n: r for n in names if (r := runner.stale_reason(n))}


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "run":
            params = {}
            for k, v in args.param:
                if k == "profile":
                    raise ConfigError("give the profile with --profile, not -p profile")
                params[k] = runner.parse_value(v, k)
            if args.dry_run:
                from . import dryrun

                if args.into_book:
                    raise ConfigError("--dry-run never writes a book page: drop --into-book")
                r = dryrun.dry_run(args.notebook, args.profile, params, synthetic=args.synthetic,
                                   out=Path(args.out).resolve() if args.out else None)
                print(dryrun.report(r))
                return 0
            if args.into_book:
                out = runner.BOOK / f"{args.notebook}.ipynb"
            else:
                out = Path(args.out) if args.out else runner.default_out(args.notebook, args.profile)
            out = runner.execute(args.notebook, args.profile, params, out=out.resolve())
            shown = out.relative_to(runner.ROOT) if out.is_relative_to(runner.ROOT) else out
            print(f"wrote {shown}")
            return 0
        if args.cmd == "gpu":
            from . import gpu

            return gpu.main(args)
        if args.cmd == "lease":
            from . import lease

            return lease.main(args)
        if args.cmd == "times":
            from . import walltimes

            return walltimes.main(args)
        if args.cmd == "nbval-refresh":
            for n in args.notebooks or runner.notebook_names():
                runner.validate(n, "smoke", {})
                print(f"recorded {runner.refresh_nbval(n).relative_to(runner.ROOT)}", flush=True)
            return 0
        if args.cmd == "restyle":
            names = args.notebooks or [n for n in runner.notebook_names() if (runner.BOOK / f"{n}.ipynb").exists()]
            for n in names:
                runner.check_choice("notebook", n, runner.notebook_names())
            failed = 0
            for n in names:
                if runner.migrate_source_hash(n):
                    print(f"migrated the source hash of book/{n}.ipynb", flush=True)
                if runner.migrate_profile_hash(n):
                    print(f"migrated the profile hash of book/{n}.ipynb", flush=True)
                if args.migrate:
                    continue
                try:
                    changed = runner.restyle(n)
                except ConfigError as e:
                    print(f"sclib: error: {e}", file=sys.stderr, flush=True)
                    failed += 1
                    continue
                print(f"{'restyled' if changed else 'unchanged'} book/{n}.ipynb", flush=True)
            return 2 if failed else 0
        if args.cmd == "restamp":
            names = args.notebooks or [n for n in runner.notebook_names() if (runner.BOOK / f"{n}.ipynb").exists()]
            for n in names:
                runner.check_choice("notebook", n, runner.notebook_names())
                print(f"restamped {runner.restamp(n).relative_to(runner.ROOT)}", flush=True)
            return 0
        stale = _stale()
        if args.cmd == "stale":
            for n, why in stale.items():
                print(f"{n}: {why}")
            print(f"{len(stale)} stale page(s)")
            if args.check and stale:
                print(f"sclib: error: {len(stale)} page(s) in book/ do not show what the code in this repo "
                      f"measures ({', '.join(stale)}); re-execute them: python -m sclib book", file=sys.stderr)
                return 1
            return 0
        if args.check:
            for n, why in stale.items():
                print(f"STALE (not retrained here): book/{n}.ipynb: {why}", file=sys.stderr)
        else:
            for n, why in stale.items():
                if n not in runner.DERIVED:
                    print(f"executing {n} at profile {runner.BOOK_PROFILE} ({why}) ...", flush=True)
                    runner.execute(n, runner.BOOK_PROFILE)
            for n in runner.DERIVED:  # after the chapters: they may have changed its inputs
                why = runner.stale_reason(n) if n in runner.notebook_names() else None
                if why:
                    print(f"executing {n} at profile {runner.BOOK_PROFILE} ({why}) ...", flush=True)
                    runner.execute(n, runner.BOOK_PROFILE)
        jb = Path(sys.executable).parent / "jupyter-book"  # the venv's own console script
        cmd = [str(jb), "build", str(runner.ROOT)]
        if args.strict:
            cmd += ["-W", "-n", "--keep-going"]
        return subprocess.call(cmd)
    except (ConfigError, DataMissingError) as e:
        print(f"sclib: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # papermill reports an exception raised inside the notebook
        if type(e).__name__ == "PapermillExecutionError":
            print(f"sclib: error: {e.ename}: {e.evalue}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
