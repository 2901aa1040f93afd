"""Stopping a process together with every process it started (papermill, its kernel, torchrun
workers), even those that left its session. Stdlib only: ``sclib.lease`` uses it on the lent
GPU machine before anything is installed there."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def descendants(pid: int) -> list:
    """Every process below ``pid`` (children, theirs, ...), read from ``/proc``."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parts = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(parts[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to ``proc`` and its descendants, SIGKILL to what is left 10 s later."""
    pids = [proc.pid] + descendants(proc.pid)
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        t0 = time.time()
        while time.time() - t0 < wait and proc.poll() is None:
            time.sleep(0.2)
        if proc.poll() is not None and not any(Path(f"/proc/{p}").exists() for p in pids[1:]):
            break
