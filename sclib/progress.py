"""Progress bars on the terminal, never in a page.

Inside a Jupyter kernel (papermill, nbval) ``sys.stderr`` is a stream into the notebook: a tqdm
bar written there becomes dozens of lines of text in the executed page. ipykernel keeps a copy of
the process's original stderr (the terminal that started papermill or ``sclib run``) and returns
it from ``sys.stderr.fileno()``; bars go there. Where there is no such descriptor (a kernel that
does not watch its file descriptors, e.g. under pytest) the bars are off. ``SCLIB_PROGRESS=0``
turns them off everywhere (CI).
"""
from __future__ import annotations

import io
import os
import sys

from tqdm import tqdm

_TERMINAL: dict = {}


def enabled() -> bool:
    return os.environ.get("SCLIB_PROGRESS", "1") != "0"


def terminal():
    """A text stream on the process's original stderr (not the page's), or None."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    if fd not in _TERMINAL:
        try:
            _TERMINAL[fd] = open(fd, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        except OSError:
            _TERMINAL[fd] = None
    return _TERMINAL[fd]


def bar(iterable=None, *, desc: str = "", unit: str = "it", total=None, disable: bool = False,
        mininterval: float = 2.0, leave: bool = False, **kw) -> tqdm:
    """``tqdm`` on the terminal (see the module docstring); disabled when asked, when
    ``SCLIB_PROGRESS=0``, or when no terminal is reachable."""
    out = terminal() if enabled() and not disable else None
    return tqdm(iterable, desc=desc, unit=unit, total=total, file=out, disable=out is None,
                mininterval=mininterval, leave=leave, **kw)
