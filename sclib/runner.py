"""Execute chapter notebooks with papermill into ``book/``, and know when a page is stale.

A page is stale when its source notebook's code (code cells and their non-presentation tags:
:func:`code_signature`), the sclib code that computes results, or its profile changed since it
was executed; prose and presentation tags are copied into an executed page by :func:`restyle`.
The fingerprint of each is stored in the executed notebook's
metadata (``metadata.sclib``), so a rebuild with nothing changed executes nothing. The runner
and CLI modules are not part of the fingerprint: they do not change any result.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
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


#: Pages made from the other pages (read, never trained): executed after them, and stale when
#: the rows those pages publish change.
DERIVED = ("summary",)


def toc_pages() -> list:
    """The book's pages (stems of ``book/...`` entries) in the order of ``_toc.yml``."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    out = []

    def walk(entries):
        for e in entries or []:
            if str(e.get("file", "")).startswith("book/"):
                out.append(e["file"].split("/", 1)[1])
            walk(e.get("sections"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return out


def page_title(name: str) -> str:
    """A chapter's title: the first heading of its notebook."""
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    for c in nb["cells"]:
        if c["cell_type"] == "markdown":
            for line in "".join(c["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return name


def chapter_rows() -> dict:
    """Every chapter page's published summary rows (None where it published none), toc order."""
    from . import report

    return {n: report.read_rows(BOOK / f"{n}.ipynb") for n in toc_pages()
            if n not in DERIVED and (NOTEBOOKS / f"{n}.ipynb").exists()}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


#: Cell tags that only change how a page looks (Jupyter Book / MyST-NB), never what it computes:
#: they are left out of the page's fingerprint, so hiding a cell makes no page stale.
PRESENTATION_TAGS = frozenset({
    "remove-input", "remove-output", "remove-cell", "remove-stderr", "remove-stdout",
    "hide-input", "hide-output", "hide-cell", "full-width", "margin", "output_scroll",
    "scroll-output", "scroll-input", "popout", "sidebar", "dropdown", "toggle",
    "sclib-run-info",
})
#: The cell papermill adds with the injected parameters (a page has it, its notebook does not).
INJECTED_TAG = "injected-parameters"


def code_signature(cells) -> list:
    """What of a notebook can change its results: every code cell's source and its tags, less the
    presentation tags (``PRESENTATION_TAGS``) and less papermill's injected-parameters cell.
    Markdown cells, outputs and cell metadata other than tags are not part of it."""
    out = []
    for c in cells:
        tags = c.get("metadata", {}).get("tags", []) or []
        if c["cell_type"] != "code" or INJECTED_TAG in tags:
            continue
        src = c["source"] if isinstance(c["source"], str) else "".join(c["source"])
        out.append([src, sorted(t for t in tags if t not in PRESENTATION_TAGS)])
    return out


def source_hash(name: str) -> str:
    """Hash of the notebook's :func:`code_signature`: the code cells' sources and their
    non-presentation tags (not outputs, which nbval stores in notebooks/; not the prose, which
    ``python -m sclib restyle`` copies into an executed page without rerunning it)."""
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    return _sha(json.dumps(["code", code_signature(nb["cells"])], sort_keys=True).encode())


def _source_hash_v1(name: str) -> str:
    """The source hash pages recorded before code-only fingerprints (every cell's type, source and
    tags); only :func:`migrate_source_hash` uses it."""
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


def _registry_entries(module: str, name: str, rule: int = 2) -> bytes:
    """The shared registries are hashed by the entries this notebook uses, so a later chapter
    adding its own profile table or paper values does not make every page stale.

    Both files are read with ``ast``, never imported. A chapter's profile table is hashed by its
    values: the ``profile(...)`` call evaluated (its three profiles, flat, keys sorted), so
    writing it with sections or in another order changes no fingerprint; ``rule=1`` is the hash
    pages recorded before (the call's syntax tree), for :func:`migrate_profile_hash` only."""
    import ast

    src = (ROOT / "sclib" / f"{module}.py").read_text()
    if module == "profiles":
        for node in ast.parse(src).body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "CHAPTERS":
                for k, v in zip(node.value.keys, node.value.values):
                    if isinstance(k, ast.Constant) and k.value == name:
                        if rule == 1:
                            return ast.dump(v).encode()
                        return json.dumps(_table_value(v), sort_keys=True).encode()
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


def _table_value(node):
    """The value of a profile table's syntax tree: literals, arithmetic on numbers (``1 / 100``),
    ``dict(...)`` and ``profile(...)`` calls; anything else is refused (nothing is evaluated)."""
    import ast
    import operator

    ops = {ast.Div: operator.truediv, ast.Mult: operator.mul, ast.Add: operator.add,
           ast.Sub: operator.sub, ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos}
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_table_value(x) for x in node.elts]
    if isinstance(node, ast.Dict):
        return {_table_value(k): _table_value(x) for k, x in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and type(node.op) in ops:
        return ops[type(node.op)](_table_value(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in ops:
        return ops[type(node.op)](_table_value(node.left), _table_value(node.right))
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("dict", "profile") and not node.args:
        kw = {k.arg: _table_value(k.value) for k in node.keywords}
        return profiles.profile(**kw) if node.func.id == "profile" else kw
    raise ValueError(f"profiles.py:{getattr(node, 'lineno', '?')}: a profile table holds literals, "
                     f"dict(...) and profile(...) only, not {ast.dump(node)[:60]}")


def sclib_hash(name: str, rule: int = 2) -> str:
    """Hash of the sclib code that can change the notebook's results (``rule``: see
    :func:`_registry_entries`)."""
    h = hashlib.sha256()
    for m in sorted(notebook_modules(name)):
        if f"{m}.py" in _NOT_RESULTS:
            continue
        if m in ("papers", "profiles"):
            h.update(m.encode() + _registry_entries(m, name, rule if m == "profiles" else 2))
        else:
            h.update(m.encode() + (ROOT / "sclib" / f"{m}.py").read_bytes())
    return h.hexdigest()[:16]


def fingerprint(name: str, profile: str) -> dict:
    fp = {"source": source_hash(name), "sclib": sclib_hash(name), "profile": profile}
    if name in DERIVED:
        fp["pages"] = _sha(json.dumps(chapter_rows(), sort_keys=True).encode())
    return fp


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
    changed = [k for k in want if rec.get("fingerprint", {}).get(k) != want[k]]
    return None if not changed else f"{', '.join(changed)} changed"


def parse_value(text: str, name: str | None = None):
    """A -p value: YAML scalars (int, float, bool, null, string); nothing is evaluated."""
    import yaml

    try:
        v = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if not isinstance(v, (int, float, str, bool, type(None))):
        what = f"{name}={text!r}" if name else f"parameter value {text!r}"
        raise ConfigError(f"{what} must be a scalar (number, string, true/false, null)")
    return v


def validate(name: str, profile: str, params: dict) -> dict | None:
    """Check the notebook, profile and parameters; returns the chapter's resolved configuration
    (None for a page without parameters). A page's run resolves it once, here."""
    check_choice("notebook", name, notebook_names())
    if name in profiles.CHAPTERS:
        return vars(profiles.resolve(name, profile, **params))
    if params:
        raise ConfigError(f"notebook {name!r} takes no parameters besides profile")
    check_choice("profile", profile, profiles.PROFILES)
    return None


def _hardware() -> str:
    import torch

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip() + ", "
                break
    except OSError:
        pass
    cpu = f"{model}{platform.machine()}, {os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads"
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} ({cpu})"
    return cpu


# ------------------------------------------------------------------ the run-info header
#
# Every executed page gets, right after its title cell, a note (a markdown cell tagged
# ``sclib-run-info``) saying what the page reproduces, the profile, the data, the hardware,
# torch, the wall time and the exact command to rerun it. Its sources, in order:
#
# * **Reproduces** -- the source notebook's metadata ``sclib.reproduces`` (a markdown string,
#   e.g. ``"`002_e8e2b0b656892e08.txt` Fig. 1 and Table 2"``) when present; otherwise the
#   seed files named in the first markdown cell's ``**Reproduces:**`` paragraph (which the
#   reader sees just above the note); otherwise "nothing from the seeds".
# * **Data** -- the source notebook's metadata ``sclib.data`` (a string, or a dict
#   ``{profile: string}``) when present; otherwise the ``dataset`` (and ``n_train``/``n_test``)
#   of the chapter's parameters as :func:`sclib.profiles.resolve` resolves them for this run.
# * Profile, parameters, hardware, torch, wall time: measured by :func:`execute`, kept in the
#   executed page's metadata ``sclib`` so :func:`restamp` can rewrite the note without rerunning.

_SEED_RE = re.compile(r"\b\d{3}_[0-9a-f]{16}\.txt\b")

DATA_DESCRIPTIONS = {
    "digits": "scikit-learn's digits (8×8 grey, embedded in scikit-learn)",
    "fashion_mnist": "Fashion-MNIST (28×28 grey, the official idx files)",
    "cifar10": "CIFAR-10 (32×32 colour)",
    "oxflower17": "Oxford Flowers 17",
    "tinyimagenet": "Tiny ImageNet (64×64 colour)",
}

PROFILE_DESCRIPTIONS = {
    "smoke": "seconds, embedded toy data; what nbval checks",
    "cpu": "minutes on 2 CPU cores, real data: the book's scale",
    "gpu": "the papers' scale, one GPU",
}


def _source_nb(name: str) -> dict:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())


def reproduces_text(name: str) -> str:
    """What the page reproduces, as markdown (see the comment above for where it comes from)."""
    nb = _source_nb(name)
    meta = nb.get("metadata", {}).get("sclib", {})
    if isinstance(meta, dict) and isinstance(meta.get("reproduces"), str) and meta["reproduces"].strip():
        return meta["reproduces"].strip()
    md = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    text = "".join(md[0]["source"]) if md else ""
    for para in re.split(r"\n\s*\n", text):
        if para.lstrip().startswith("**Reproduces:**"):
            seeds = list(dict.fromkeys(_SEED_RE.findall(para)))
            if seeds:
                return ("the parts of " + ", ".join(f"`{s}`" for s in seeds)
                        + " named in the **Reproduces** paragraph above")
            return "see the **Reproduces** paragraph above"
    return "nothing from the seeds: this page measures the study itself"


_DATA_KEYS = ("root", "n_classes", "per_class", "image_size", "n_train", "n_test")


def _count(v) -> str:
    return "all" if v is None else f"{v:,}"


def data_text(name: str, profile: str, params: dict, cfg: dict | None = None) -> str:
    """The data this run used: metadata ``sclib.data`` or the resolved ``dataset`` parameter."""
    meta = _source_nb(name).get("metadata", {}).get("sclib", {})
    given = meta.get("data") if isinstance(meta, dict) else None
    if isinstance(given, dict):
        given = given.get(profile)
    ds = None
    if name in profiles.CHAPTERS:
        cfg = cfg or vars(profiles.resolve(name, profile, **params))
        ds = cfg.get("dataset")
    if isinstance(given, str) and given.strip():
        return given.strip()
    if ds is None:
        shown = {k: cfg[k] for k in _DATA_KEYS if cfg and k in cfg}
        return "described on the page" + (f" (its data parameters: `{shown}`)" if shown else "")
    text = f"`{ds}`: {DATA_DESCRIPTIONS.get(ds, ds)}"
    if "n_train" in cfg or "n_test" in cfg:
        sizes = []
        if "n_train" in cfg:
            sizes.append(f"{_count(cfg['n_train'])} training images")
        if "n_test" in cfg:
            sizes.append(f"{_count(cfg['n_test'])} test images")
        text += " — " + ", ".join(sizes)
    return text


def rerun_command(name: str, profile: str, params: dict) -> str:
    ps = " ".join(f"-p {k} {shlex.quote(str(v))}" for k, v in params.items())
    return f"python -m sclib run {name} --profile {profile}" + (f" {ps}" if ps else "")


def _example_override(name: str, profile: str, params: dict, cfg: dict | None = None) -> str | None:
    """``-p epochs N`` (N = twice this run's epochs) for the 'other parameters' example."""
    if name not in profiles.CHAPTERS:
        return None
    cfg = cfg or vars(profiles.resolve(name, profile, **params))
    for k in ("epochs", "seeds", "n_train"):
        if isinstance(cfg.get(k), int) and not isinstance(cfg.get(k), bool):
            return f"-p {k} {2 * cfg[k]}"
    return None


def run_info_text(name, profile, params, seconds, hardware, torch_version, when, cfg=None) -> str:
    params = dict(params or {})
    cmd = rerun_command(name, profile, params)
    lines = [
        "```{admonition} How this page was produced",
        ":class: note",
        f"- **Reproduces:** {reproduces_text(name)}",
        f"- **Profile:** `{profile}` ({PROFILE_DESCRIPTIONS.get(profile, profile)})"
        + (f", with parameters `{params}`" if params else ""),
        f"- **Data:** {data_text(name, profile, params, cfg)}",
        f"- **Hardware:** {hardware}; torch {torch_version}",
        f"- **Wall time of the whole notebook:** {seconds / 60:.1f} min, executed {when} by papermill",
        f"- **Rerun it:** `{cmd}`",
    ]
    example = _example_override(name, profile, params, cfg)
    if example:
        names = ", ".join(f"`{k}`" for k in profiles.chapter_params(name))
        base = rerun_command(name, profile, {})
        lines.append(f"- **With other parameters:** e.g. `{base} {example}`; "
                     f"its parameters are {names} (their values per profile: `sclib/profiles.py`)")
    lines.append("```")
    return "\n".join(lines)


def _header_cell(name, profile, params, seconds, hardware, torch_version=None, when=None, cfg=None):
    import nbformat

    if torch_version is None:
        torch_version = __import__("torch").__version__
    if when is None:
        when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = run_info_text(name, profile, params, seconds, hardware, torch_version, when, cfg)
    return nbformat.v4.new_markdown_cell(text, metadata={"tags": ["sclib-run-info"]})


def _insert_header(nb, cell) -> None:
    """Replace an existing run-info cell, or insert after the title cell (index 1)."""
    for i, c in enumerate(nb.cells):
        if "sclib-run-info" in c.get("metadata", {}).get("tags", []):
            if c.get("id"):
                cell["id"] = c["id"]  # the same cell, rewritten: a page's diff shows only the text
            nb.cells[i] = cell
            return
    title = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), 0)
    nb.cells.insert(title + 1 if nb.cells else 0, cell)  # after the title (a front-matter cell may precede it)


def restamp(name: str) -> Path:
    """Rewrite the run-info note of ``book/NAME.ipynb`` from its recorded metadata (no rerun).

    The fingerprint, outputs and everything else are kept; the write is atomic."""
    import nbformat

    final = BOOK / f"{name}.ipynb"
    if not final.exists():
        raise ConfigError(f"book/{name}.ipynb does not exist; run it first: python -m sclib run {name}")
    nb = nbformat.read(final, as_version=4)
    _restamp_nb(name, nb)
    _write_atomic(nb, final, "restamp")
    return final


def _restamp_nb(name: str, nb) -> None:
    """Rewrite, in ``nb`` (an executed page), the run-info note from its recorded metadata."""
    rec = dict(nb.metadata.get("sclib") or {})
    profile = rec.get("fingerprint", {}).get("profile", BOOK_PROFILE)
    params = rec.get("parameters", {})
    tv = rec.get("torch")
    if tv is None:  # pages executed before torch was recorded: read it from the old note
        for c in nb.cells:
            if "sclib-run-info" in c.get("metadata", {}).get("tags", []):
                m = re.search(r"torch (\S+)", c.source)
                tv = m.group(1) if m else None
        tv = tv or __import__("torch").__version__
        rec["torch"] = tv
    when = rec.get("executed")
    if when is None:
        end = nb.metadata.get("papermill", {}).get("end_time")
        when = (dt.datetime.fromisoformat(end).strftime("%Y-%m-%d %H:%M UTC") if end else "(time not recorded)")
        rec["executed"] = when
    cell = _header_cell(name, profile, params, rec.get("seconds", 0.0), rec.get("hardware", "not recorded"),
                        tv, when)
    _insert_header(nb, cell)
    nb.metadata["sclib"] = rec


def _write_atomic(nb, final: Path, what: str) -> None:
    """Write ``nb`` to ``final`` through a temporary file outside book/ and a rename."""
    import nbformat

    tmp_dir = ROOT / ".sclib-tmp"
    tmp_dir.mkdir(exist_ok=True)
    tmp = tmp_dir / f"{final.stem}.{os.getpid()}.{what}.ipynb"
    try:
        nbformat.write(nb, tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


# ------------------------------------------------------------------ presentation-only changes
#
# A page's fingerprint covers only what can change its results (code_signature). Prose, cell tags
# that hide or show things, and the notebook's metadata are copied into the executed page by
# ``python -m sclib restyle``: outputs are kept, nothing is re-executed.

#: keys of a page's ``metadata.sclib`` written by :func:`execute` (the rest comes from the notebook)
RUN_RECORD_KEYS = ("fingerprint", "parameters", "seconds", "hardware", "python", "torch", "executed")
#: cell metadata an executed page keeps from its run (the rest comes from the notebook)
_RUN_CELL_KEYS = ("execution", "papermill")


def migrate_source_hash(name: str) -> bool:
    """Rewrite a page's recorded source hash from the old style (every cell, tags included) to
    :func:`source_hash`'s, when it equals the old-style hash of the notebook as it stands (the
    page was fresh) or the page's code cells are the notebook's (only prose changed since); a
    page executed from other code stays stale. Idempotent. True when it rewrote."""
    import nbformat

    final = BOOK / f"{name}.ipynb"
    rec = recorded(name)
    if not rec or not (NOTEBOOKS / f"{name}.ipynb").exists():
        return False
    old, new = _source_hash_v1(name), source_hash(name)
    fp = rec.get("fingerprint") or {}
    if fp.get("source") == new:
        return False
    nb = nbformat.read(final, as_version=4)
    # Fresh under the old rule, or executed from exactly the notebook's code (papermill writes the
    # cells it ran, so the page's own code cells are what produced its outputs; prose may differ).
    if fp.get("source") != old and code_signature(nb.cells) != code_signature(
            nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells):
        return False
    nb.metadata["sclib"]["fingerprint"]["source"] = new
    _write_atomic(nb, final, "migrate")
    return True


#: Pages recorded under profile rule 1 before the tables were written with sections (the code of
#: commit 80dafef, and the resnet_superconvergence page of commit b3fc591): their recorded sclib
#: hash -> the rule-2 hash of the same code. Rule 1 of a sectioned table cannot reproduce them.
RULE1_RECORDED = {
    "8c358a6b4e1fed22": "12eb3ed30e36be92", "3ad96be5bd27c505": "09fe34e0b3036c69",
    "b162034487392493": "0053b78e63a4d77a", "8ffebe21d0dc0a10": "d4e1a69f6855336c",
    "7c9d6387d8eaedbf": "451e16307804df5f", "7b8a77f33ed6b7d9": "e857fdb5ca130b35",
    "5c04f41588575ae6": "f81ead7e4ce767ba", "f4228624d930175f": "550ca641683b2a34",
    "c26c715d5f9be114": "59b8cd510f3bc433", "17ae9ec765486893": "2420fb8f5e4b56d6",
    "a8f8d7466b651e9b": "fa29a04dcea465b9", "4cd200ee74767005": "91ce713e7cddd90b",
    "444a6fa39e07834f": "fbcc27104c1413e1",  # resnet_superconvergence at one-cycle 8 vs piecewise 64 epochs
}


def migrate_profile_hash(name: str) -> bool:
    """Rewrite a page's recorded sclib hash from the profile rule 1 (the profile table's syntax
    tree) to rule 2 (its values): when it equals the rule-1 hash of the code as it stands (the page
    was fresh, only the way its table is hashed changes), or is one of :data:`RULE1_RECORDED`. Any
    other page keeps its hash (a stale page stays stale). Idempotent. True when it rewrote."""
    import nbformat

    rec = recorded(name)
    fp = (rec or {}).get("fingerprint") or {}
    if not fp or not (NOTEBOOKS / f"{name}.ipynb").exists():
        return False
    old, new, have = sclib_hash(name, rule=1), sclib_hash(name), fp.get("sclib")
    target = new if have == old else RULE1_RECORDED.get(have)
    if target is None or target == have:
        return False
    final = BOOK / f"{name}.ipynb"
    nb = nbformat.read(final, as_version=4)
    nb.metadata["sclib"]["fingerprint"]["sclib"] = target
    _write_atomic(nb, final, "migrate")
    return True


def _copy_prose(page, src) -> list:
    """The cells of ``page`` (executed) rebuilt from ``src`` (its notebook, same code): the
    notebook's markdown/raw cells and cell metadata, the page's code cells with their outputs and
    execution records, papermill's injected-parameters cell and the run-info note in place."""
    import copy

    by_id = {c.get("id"): c for c in page.cells if c.get("id")}
    code = [c for c in page.cells
            if c.cell_type == "code" and INJECTED_TAG not in c.metadata.get("tags", [])]
    injected = [c for c in page.cells if INJECTED_TAG in c.get("metadata", {}).get("tags", [])]
    cells, k = [], 0
    for s in src.cells:
        if s.cell_type == "code":
            c = copy.deepcopy(code[k])
            k += 1
        else:
            c = copy.deepcopy(s)
            old = by_id.get(s.get("id"))
            c.metadata = {}
            if old is not None and old.cell_type == s.cell_type:
                c.metadata = {key: copy.deepcopy(old.metadata[key]) for key in _RUN_CELL_KEYS
                              if key in old.metadata}
        run = {key: c.metadata[key] for key in _RUN_CELL_KEYS if key in c.metadata}
        c.metadata = {**copy.deepcopy(dict(s.metadata)), **run}
        c.metadata.setdefault("tags", [])  # as papermill writes every cell
        cells.append(c)
        if s.cell_type == "code" and "parameters" in s.metadata.get("tags", []):
            cells += injected
            injected = []
    return cells + injected


def restyle(name: str) -> bool:
    """Copy the notebook's prose, cell tags/metadata and notebook metadata into ``book/NAME.ipynb``
    without re-executing it: outputs are kept, the run-info note is rewritten, the write is atomic.
    Refuses (ConfigError) when the page's code (:func:`code_signature`) differs from the
    notebook's. True when the page changed."""
    import copy

    import nbformat

    final = BOOK / f"{name}.ipynb"
    if not final.exists():
        raise ConfigError(f"book/{name}.ipynb does not exist; run it first: "
                          f"python -m sclib run {name} --into-book")
    page = nbformat.read(final, as_version=4)
    src = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    if code_signature(page.cells) != code_signature(src.cells):
        raise ConfigError(f"book/{name}.ipynb was executed from other code than notebooks/{name}.ipynb "
                          f"(restyle copies only prose and tags); re-execute it: "
                          f"python -m sclib run {name} --into-book")
    before = nbformat.writes(page)
    new = copy.deepcopy(page)
    header = [c for c in page.cells if "sclib-run-info" in c.get("metadata", {}).get("tags", [])]
    new.cells = _copy_prose(page, src)
    for c in header:  # back after the title (the note is rewritten below)
        _insert_header(new, copy.deepcopy(c))
    rec = dict(page.metadata.get("sclib") or {})
    src_sclib = src.metadata.get("sclib")
    new.metadata = {**copy.deepcopy(dict(src.metadata)),
                    **{k: copy.deepcopy(page.metadata[k]) for k in ("papermill",) if k in page.metadata}}
    new.metadata["sclib"] = {**(copy.deepcopy(src_sclib) if isinstance(src_sclib, dict) else {}),
                             **{k: rec[k] for k in RUN_RECORD_KEYS if k in rec}}
    if header:
        _restamp_nb(name, new)
    if nbformat.writes(new) == before:
        return False
    _write_atomic(new, final, "restyle")
    return True


def default_out(name: str, profile: str) -> Path:
    """``runs/NAME-PROFILE.ipynb`` (git-ignored), where ``sclib run`` writes unless told
    otherwise: a rerun with other parameters never replaces a book page."""
    return ROOT / "runs" / f"{name}-{profile}.ipynb"


def execute(name: str, profile: str = BOOK_PROFILE, params: dict | None = None, out: Path | None = None,
            log_output: bool = False) -> Path:
    """Run ``notebooks/NAME.ipynb`` with papermill into ``out`` (default: the book page
    ``book/NAME.ipynb``, which is what ``make book`` wants), atomically."""
    import nbformat
    import papermill as pm

    params = dict(params or {})
    cfg = validate(name, profile, params)
    final = Path(out) if out is not None else BOOK / f"{name}.ipynb"
    if final.suffix != ".ipynb":
        raise ConfigError(f"--out={str(out)!r} must name a .ipynb file")
    final.parent.mkdir(parents=True, exist_ok=True)
    # Work outside book/ (a build must never see a half-written page), on the same filesystem as
    # the result for an atomic rename.
    tmp_dir = ROOT / ".sclib-tmp" if final.parent.resolve() == BOOK.resolve() else final.parent
    tmp_dir.mkdir(exist_ok=True)
    tmp = tmp_dir / f".{name}.{os.getpid()}.tmp.ipynb"
    fp = fingerprint(name, profile)  # before running: a source edited meanwhile makes the page stale
    t0 = time.time()
    try:
        pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(tmp), parameters=dict(profile=profile, **params),
                            cwd=str(ROOT), progress_bar=False, log_output=log_output, kernel_name="python3")
        nb = nbformat.read(tmp, as_version=4)
        seconds = time.time() - t0
        hardware = _hardware()
        import torch

        when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        _insert_header(nb, _header_cell(name, profile, params, seconds, hardware, torch.__version__, when, cfg))
        # keep what the source notebook's own metadata says (reproduces, data), add the run record
        src_meta = nb.metadata.get("sclib")
        rec = dict(src_meta) if isinstance(src_meta, dict) else {}
        rec.update({"fingerprint": fp, "parameters": params, "seconds": round(seconds, 1),
                    "hardware": hardware, "python": sys.version.split()[0],
                    "torch": torch.__version__, "executed": when})
        nb.metadata["sclib"] = rec
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
