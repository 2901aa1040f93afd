"""Execute chapter notebooks with papermill into ``book/``, and know when a page is stale.

A page is stale when its source notebook, the sclib code that computes results, or its profile
changed since it was executed. The fingerprint of each is stored in the executed notebook's
metadata (``metadata.sclib``), so a rebuild with nothing changed executes nothing. The runner
and CLI modules are not part of the fingerprint: they do not change any result.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

from . import profiles
from .errors import ConfigError, check_choice

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BOOK = ROOT / "book"
BOOK_PROFILE = "cpu"
_NOT_RESULTS = {"cli.py", "__main__.py", "runner.py"}


def notebook_names() -> tuple:
    return tuple(sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def source_hash(name: str) -> str:
    """Hash of the cells' sources (not outputs, which nbval stores in notebooks/)."""
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    cells = [[c["cell_type"], "".join(c["source"]), c.get("metadata", {}).get("tags", [])]
             for c in nb["cells"]]
    return _sha(json.dumps(cells, sort_keys=True).encode())


def _module_imports(path: Path) -> set:
    """sclib modules a module imports (relative or absolute), found with ast."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:              # from .x import y
                found.add(node.module.split(".")[0])
            elif node.level == 1:                            # from . import x, y
                found.update(a.name for a in node.names)
            elif node.module and node.module.startswith("sclib."):
                found.add(node.module.split(".")[1])
            elif node.module == "sclib":
                found.update(a.name for a in node.names)
    return found


def notebook_modules(name: str) -> set:
    """The sclib modules a notebook uses, closed over their own sclib imports."""
    import re

    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    mods = set(re.findall(r"\bsclib\.(\w+)", code))
    for group in re.findall(r"from[ \t]+sclib[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)", code):
        for item in group.strip("()").split(","):
            if item.strip():
                mods.add(item.split()[0])  # "x as y" -> x
    todo, seen = set(mods) | {"__init__"}, set()
    while todo:
        m = todo.pop()
        path = ROOT / "sclib" / f"{m}.py"
        if m in seen or not path.exists():
            continue
        seen.add(m)
        todo |= _module_imports(path) - seen
    return seen


def _notebook_code(name: str) -> str:
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def _registry_entries(module: str, name: str) -> bytes:
    """The shared registries are hashed by the entries this notebook uses, so a later chapter
    adding its own profile table or paper values does not make every page stale.

    Both files are read as literals with ``ast`` (no import, no evaluation of code)."""
    import ast

    src = (ROOT / "sclib" / f"{module}.py").read_text()
    if module == "profiles":
        for node in ast.parse(src).body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "CHAPTERS":
                for k, v in zip(node.value.keys, node.value.values):
                    if isinstance(k, ast.Constant) and k.value == name:
                        return ast.dump(v).encode()
        return b""
    # papers: the PAPER entries whose keys the notebook names literally, and the seed names
    code = _notebook_code(name)
    used = []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and isinstance(k.value, str) and k.value in code:
                    used.append(ast.dump(k) + ast.dump(v))
        elif isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "").startswith("SEED_"):
            used.append(ast.dump(node))
    return "\n".join(used).encode()


def sclib_hash(name: str) -> str:
    """Hash of the sclib code that can change the notebook's results."""
    h = hashlib.sha256()
    for m in sorted(notebook_modules(name)):
        if f"{m}.py" in _NOT_RESULTS:
            continue
        if m in ("papers", "profiles"):
            h.update(m.encode() + _registry_entries(m, name))
        else:
            h.update(m.encode() + (ROOT / "sclib" / f"{m}.py").read_bytes())
    return h.hexdigest()[:16]


def fingerprint(name: str, profile: str) -> dict:
    return {"source": source_hash(name), "sclib": sclib_hash(name), "profile": profile}


def recorded(name: str) -> dict | None:
    p = BOOK / f"{name}.ipynb"
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text())["metadata"].get("sclib")
    except (json.JSONDecodeError, KeyError):
        return None


def stale_reason(name: str, profile: str = BOOK_PROFILE) -> str | None:
    """Why ``book/NAME.ipynb`` must be re-executed, or None when it is up to date."""
    rec = recorded(name)
    if rec is None:
        return "missing"
    want = fingerprint(name, profile)
    changed = [k for k in ("source", "sclib", "profile") if rec.get("fingerprint", {}).get(k) != want[k]]
    return None if not changed else f"{', '.join(changed)} changed"


def parse_value(text: str):
    """A -p value: YAML scalars (int, float, bool, null, string); nothing is evaluated."""
    import yaml

    try:
        v = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if not isinstance(v, (int, float, str, bool, type(None))):
        raise ConfigError(f"parameter value {text!r} must be a scalar (number, string, true/false, null)")
    return v


def validate(name: str, profile: str, params: dict) -> None:
    check_choice("notebook", name, notebook_names())
    if name in profiles.CHAPTERS:
        profiles.resolve(name, profile, **params)
    elif params:
        raise ConfigError(f"notebook {name!r} takes no parameters besides profile")
    else:
        check_choice("profile", profile, profiles.PROFILES)


def _hardware() -> str:
    import torch

    cpu = f"{platform.machine()}, {os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads"
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} ({cpu})"
    return cpu


def _header_cell(name, profile, params, seconds, hardware):
    import nbformat

    ps = " ".join(f"-p {k} {shlex.quote(str(v))}" for k, v in params.items())
    cmd = f"python -m sclib run {name} --profile {profile}" + (f" {ps}" if ps else "")
    text = (
        "```{admonition} How this page was produced\n:class: note\n"
        f"- **Profile:** `{profile}`" + (f", parameters `{params}`" if params else "") + "\n"
        f"- **Hardware:** {hardware}; torch {__import__('torch').__version__}\n"
        f"- **Wall time of the whole notebook:** {seconds / 60:.1f} min, executed "
        f"{dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by papermill\n"
        f"- **Rerun it, with other parameters if you like:** `{cmd}`\n```"
    )
    return nbformat.v4.new_markdown_cell(text, metadata={"tags": ["sclib-run-info"]})


def execute(name: str, profile: str = BOOK_PROFILE, params: dict | None = None, out_dir: Path = BOOK,
            log_output: bool = False) -> Path:
    """Run ``notebooks/NAME.ipynb`` with papermill into ``out_dir/NAME.ipynb``, atomically."""
    import nbformat
    import papermill as pm

    params = dict(params or {})
    validate(name, profile, params)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{name}.ipynb"
    # Work outside book/ (a build must never see a half-written page), same filesystem for
    # an atomic rename.
    tmp_dir = ROOT / ".sclib-tmp"
    tmp_dir.mkdir(exist_ok=True)
    tmp = tmp_dir / f"{name}.{os.getpid()}.ipynb"
    fp = fingerprint(name, profile)  # before running: a source edited meanwhile makes the page stale
    t0 = time.time()
    try:
        pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(tmp), parameters=dict(profile=profile, **params),
                            cwd=str(ROOT), progress_bar=False, log_output=log_output, kernel_name="python3")
        nb = nbformat.read(tmp, as_version=4)
        seconds = time.time() - t0
        hardware = _hardware()
        nb.cells.insert(1, _header_cell(name, profile, params, seconds, hardware))
        nb.metadata["sclib"] = {"fingerprint": fp, "parameters": params,
                                "seconds": round(seconds, 1), "hardware": hardware,
                                "python": sys.version.split()[0]}
        nbformat.write(nb, tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def refresh_nbval(name: str) -> Path:
    """Execute ``notebooks/NAME.ipynb`` as it stands (its default profile is ``smoke``) and keep
    only the outputs of cells marked ``# NBVAL_CHECK_OUTPUT``: what nbval compares against."""
    import nbformat
    from nbclient import NotebookClient

    src = NOTEBOOKS / f"{name}.ipynb"
    nb = nbformat.read(src, as_version=4)
    NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        if "NBVAL_CHECK_OUTPUT" in c.source:
            c.outputs = [o for o in c.outputs if o.get("name") != "stderr"]
        else:
            c.outputs, c.execution_count = [], None
    tmp = src.with_name(f".{src.name}.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, src)
    return src
