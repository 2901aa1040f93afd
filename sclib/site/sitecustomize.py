"""Run at the start of every Python process whose PYTHONPATH holds this folder: only the
processes started by a dry run (``SCLIB_DRYRUN``: ``python -m sclib run ... --dry-run``) and by
``python -m sclib gpu --data DIR`` (``SCLIB_DATA``), never the book's. It installs
``sclib.dryrun``'s patches (or points ``sclib.data`` at the carried data files) in the notebook's
kernel and in every process that kernel starts (torchrun workers, spawned pools).

A process that cannot install them stops at once (status 3): a dry run must never go on at
full size, and a GPU run never on data from elsewhere."""
import os

if os.environ.get("SCLIB_DRYRUN") or os.environ.get("SCLIB_DATA"):
    try:
        from sclib import dryrun

        dryrun.on_start()
    except Exception as e:  # noqa: BLE001 -- report in one line, then stop
        import sys

        print(f"sclib: error: sclib/site/sitecustomize.py could not set up this process: "
              f"{type(e).__name__}: {e}", file=sys.stderr, flush=True)
        os._exit(3)
