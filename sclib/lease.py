"""A run on a lent GPU machine (the ``device`` tool's NVIDIA H200): what travels there, the one
command that runs there, and reading back what it made.

The lent machine has its own ``python3`` (3.12, torch 2.11 + CUDA and the packages of its image,
:data:`DEVICE_PACKAGES`) and no network; ``../shared`` does not travel. The working tree that
travels (tracked files, untracked files git does not ignore, and the ``carry`` paths) holds at
most 64 MiB; at most 8 files of at most 16 MiB each (64 MiB in all) come back from ``$OUT``.
Everything a lease needs is in one git-ignored folder, ``.lease/`` (:data:`LEASE`), carried whole.

- ``python -m sclib lease pack --budget MIN`` (here, before the lease): picks the chapters that
  ``sclib gpu`` would run in what the budget leaves it (the plan's estimates, the data this
  machine has), copies their data into ``.lease/data/`` and the wheels of the packages executing
  a page needs beyond the image (:data:`NEEDS`, closed over their requirements, at
  requirements.txt's pins, for CPython 3.12) into ``.lease/wheels/``, writes the manifest
  ``.lease/lease.json``, checks the 64 MiB, and prints the ``run`` call.
- ``python3 -m sclib.lease device --budget MIN --out $OUT`` (there): installs the wheels into a
  folder on ``PYTHONPATH``, runs ``python3 -m sclib gpu --only <the manifest's chapters>`` with
  what is left of the budget (stopped, with all it started, if it overruns), and always leaves in
  ``$OUT`` the pages, ``gpu-log.json`` and the console output as ``gpu-runs.tar.gz.NN`` parts
  (:data:`PART_SIZE`), and ``gpu-results.json`` (the exit status, any error, the parts).
- ``python -m sclib lease unpack DIR`` (here, after): checks that every part came back, then the
  pages and the console output into ``runs/`` and the log's entries into ``runs/gpu-log.json``.
- ``python -m sclib lease rehearse --python PY`` (here, before): the packed wheels installed as the
  lent machine installs them, then each packed chapter's ``--dry-run`` under ``PY``, an
  interpreter made like the machine's (README: Python 3.12, torch 2.11): the first lease must
  not discover a missing package or an API that torch 2.11 lacks.

The run store stays on the lent machine: its keys hold the torch version (2.11 there), so its
entries would serve only another lease, and a session has one.

Stdlib only at import (``python3 -m sclib.lease`` there runs before the wheels are installed).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from . import procs
from .errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
LEASE = ROOT / ".lease"          #: what travels beside the tree (git-ignored, carried whole)
MANIFEST = LEASE / "lease.json"
WHEELS = LEASE / "wheels"
DATA = LEASE / "data"
MiB = 1 << 20
TRAVEL_LIMIT = 64 * MiB          #: the working tree that travels, carried paths included
OUT_FILES, OUT_FILE_SIZE, OUT_TOTAL = 8, 16 * MiB, 64 * MiB  #: what comes back from $OUT
PART_SIZE = 15 * MiB             #: the parts of what comes back (under OUT_FILE_SIZE)
COMMAND_LIMIT = 2000             #: characters of one ``run`` command
RUN_LIMIT_S = 600                #: one ``run`` call's timeout_s at most
DEFAULT_BUDGET = 8.0             #: minutes: one call inside a 15-minute lease (start and transfers included)
INSTALL_RESERVE_S = 60.0         #: the wheels' install (at most half) and the results' packing
KILL_GRACE_S = 20.0              #: past its budget, ``sclib gpu`` is stopped with all it started
MIN_LEFT_S = 60.0                #: ``sclib gpu`` is not started with less time than this
SITE = "/tmp/sclib-site"         #: where the wheels are installed on the lent machine

#: The lent machine: CPython 3.12 on x86-64 Linux (the ``device`` tool's KINDS.md, 2026-11).
PYTHON_VERSION = "3.12"
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")
MARKER_ENV = dict(python_version="3.12", python_full_version="3.12.3", implementation_name="cpython",
                  platform_python_implementation="CPython", sys_platform="linux", os_name="posix",
                  platform_system="Linux", platform_machine="x86_64", extra="")
#: The Python packages of the lent machine's image ('cuda'), as the ``device`` tool's KINDS.md
#: lists them (read on a machine running it, 2026-11-17); normalized names.
DEVICE_PACKAGES = frozenset("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build
certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock
flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx
huggingface-hub humanize hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt
jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities
linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes
mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals networkx ninja numba
numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime
nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse
nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx
onnx-ir onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix
orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client
propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions
pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist python-dateutil
pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image
scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six
sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore
threadpoolctl tifffile tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric
torchmetrics torchvision tqdm transformers treescope triton typer typing-extensions typing-inspect
urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
""".split())
#: What executing a page imports beyond the image: papermill and its Jupyter kernel (nbclient,
#: ipykernel), and myst-nb, whose ``glue`` every chapter calls; ``myst_nb.glue`` imports docutils,
#: which myst-nb requires only through Sphinx (:data:`NOT_NEEDED`).
NEEDS = ("papermill", "ipykernel", "myst-nb", "docutils")
#: Requirements of NEEDS that executing a page never imports: myst-nb's Sphinx side (a chapter
#: imports only ``myst_nb.glue``) and a backport Python 3.12 has built in.
NOT_NEEDED = frozenset({"sphinx", "myst-parser", "jupyter-cache", "importlib-metadata"})


def norm(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def mib(n: int) -> str:
    return f"{n / MiB:.1f} MiB"


def gpu_budget_s(budget_min: float) -> float:
    """The seconds ``sclib gpu`` is planned with: the lease's budget less the install and packing."""
    return 60 * budget_min - INSTALL_RESERVE_S


# ------------------------------------------------------------------ what travels
def pins(requirements: Path = ROOT / "requirements.txt") -> dict:
    """``{normalized name: version}`` of requirements.txt's ``name==version`` lines."""
    out = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = (s.strip() for s in line.split("==", 1))
            out[norm(name)] = version
    return out


def wheel_requires(wheel: Path) -> list:
    """The Requires-Dist lines of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode("utf-8", "replace")
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]


def needed_by(requires: list) -> list:
    """Names among ``requires`` (Requires-Dist strings) that the lent machine must be given: their
    marker holds for CPython 3.12 on Linux with no extra, and neither the image has them nor are
    they :data:`NOT_NEEDED`."""
    from packaging.requirements import Requirement

    out = []
    for text in requires:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(MARKER_ENV):
            continue
        name = norm(req.name)
        if name not in DEVICE_PACKAGES and name not in NOT_NEEDED:
            out.append(name)
    return out


def wheel_of(name: str, version: str, folder: Path) -> Path | None:
    """The wheel of ``name==version`` in ``folder`` (its file name: ``<name>-<version>-...whl``)."""
    for w in Path(folder).glob("*.whl"):
        parts = w.name.split("-")
        if len(parts) >= 2 and norm(parts[0]) == norm(name) and parts[1] == version:
            return w
    return None


def download(name: str, version: str, folder: Path) -> Path:
    """The CPython 3.12 manylinux wheel of ``name==version`` in ``folder`` (pip downloads it once)."""
    w = wheel_of(name, version, folder)
    if w is not None:
        return w
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           "--python-version", PYTHON_VERSION, "--implementation", "cp", "-d", str(folder)]
    for p in PLATFORMS:
        cmd += ["--platform", p]
    r = subprocess.run(cmd + [f"{name}=={version}"], capture_output=True, text=True)
    w = wheel_of(name, version, folder)
    if r.returncode != 0 or w is None:
        err = " ".join(line for line in r.stderr.splitlines() if line.startswith("ERROR")) or r.stderr[-300:]
        raise ConfigError(f"wheels: pip could not download {name}=={version} for CPython {PYTHON_VERSION} "
                          f"(needs the package index): {' '.join(err.split())}")
    return w


def wheels(folder: Path = WHEELS, fetch=download, requirements: Path = ROOT / "requirements.txt") -> dict:
    """``{name: wheel}``: :data:`NEEDS` closed over their requirements (what the image lacks),
    each at its requirements.txt pin; wheels of other versions in ``folder`` are removed."""
    pinned = pins(requirements)
    todo, seen, out = [norm(n) for n in NEEDS], set(), {}
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        if name not in pinned:
            raise ConfigError(f"wheels: {name} (executing a page needs it on the lent machine, whose "
                              f"image lacks it) is not pinned in requirements.txt")
        out[name] = w = fetch(name, pinned[name], folder)
        todo += [n for n in needed_by(wheel_requires(w)) if n not in seen]
    keep = {w.name for w in out.values()}
    for w in folder.glob("*.whl"):
        if w.name not in keep:
            w.unlink()
    return out


def travel_size(carry=(), root: Path = ROOT) -> dict:
    """Bytes that travel: the tracked files, the untracked files git does not ignore, and the
    ``carry`` paths (``{"tree": n, path: n, ..., "total": n}``)."""
    def size(p: Path) -> int:
        if p.is_file():
            return p.stat().st_size
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else 0

    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    out = {"tree": sum(size(root / f) for f in set(files) if f)}
    for c in carry:
        out[str(c)] = size(root / c)
    out["total"] = sum(out.values())
    return out


def data_files(datasets) -> tuple:
    """(``{dataset: (source on this machine, name under .lease/data/)}``, notes): the datasets
    that travel. Oxflower17 and Tiny ImageNet travel from ``data/`` when they are there;
    otherwise ``kth_verification`` drops their runs (the note says so)."""
    from . import data, gpu, strokes

    src, notes = {}, []
    for ds in sorted(datasets):
        if ds == "cifar10":
            tb = next((t for t in data.CIFAR10_TARBALLS if t.is_file()), None)
            if tb is None:
                raise ConfigError("data: cifar10-jpeg.tar.gz is not in ../shared/data; the chapters that "
                                  "fit the budget need it (or pass --only without them)")
            src[ds] = (tb, "cifar10-jpeg.tar.gz")
        elif ds == "fashion_mnist":
            src[ds] = (data._find_fashion_mnist(None), "fashion-mnist")
        elif ds == "quickdraw":
            if not strokes.SHARED_SAMPLE.is_file():
                raise ConfigError(f"data: {strokes.SHARED_SAMPLE.name} is not in ../shared/data; "
                                  "quickdraw needs it (or pass --only without it)")
            src[ds] = (strokes.SHARED_SAMPLE, strokes.SHARED_SAMPLE.name)
        elif ds in gpu.EXTRA_DATA:
            folder = gpu.EXTRA_DATA[ds][1]
            if (ROOT / "data" / folder).is_dir():
                src[ds] = (ROOT / "data" / folder, folder)
            else:
                notes.append(f"no data/{folder}/ here: kth_verification drops its {ds} runs")
        elif ds != "digits":  # digits come with scikit-learn
            raise ConfigError(f"data: lease pack cannot carry {ds!r} (it carries cifar10, fashion_mnist, "
                              f"quickdraw, {', '.join(gpu.EXTRA_DATA)})")
    return src, notes


def copy_data(files: dict, dest: Path = DATA) -> list:
    """Copy each dataset into ``dest`` (a folder as it is), removing what an earlier pack placed
    there and this one does not need (``dest`` is pack's own); returns the names placed. Copies
    are writable (``copyfile``: the sources may be read-only)."""
    dest.mkdir(parents=True, exist_ok=True)
    names = {name for _, name in files.values()}
    for p in dest.iterdir():
        if p.name not in names:
            shutil.rmtree(p) if p.is_dir() else p.unlink()

    def same(a: Path, b: Path) -> bool:
        return b.is_file() and b.stat().st_size == a.stat().st_size

    for source, name in files.values():
        target = dest / name
        if source.is_dir():
            for f in source.rglob("*"):
                t = target / f.relative_to(source)
                if f.is_file() and not same(f, t):
                    t.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(f, t)
        elif not same(source, target):
            shutil.copyfile(source, target)
    return sorted(names)


def chosen(budget_min: float, only=None) -> list:
    """The chapters ``sclib gpu`` would run (the plan's estimates) in the seconds a lease of
    ``budget_min`` gives it (:func:`gpu_budget_s`), with the data this machine can send, in its order."""
    from . import gpu

    names = gpu.order(only)
    have = gpu.available(None)
    plan = gpu.read_plan()
    runnable, est = [], {}
    for n in names:
        params, why, _ = gpu.chapter_params(n, have)
        if why is None:
            runnable.append(n)
            est[n] = gpu.estimate(n, params, plan)[0]
    return [n for n, a, _ in gpu.schedule(runnable, est, gpu_budget_s(budget_min)) if a == "run"]


def device_command(budget_min: float) -> str:
    return f"python3 -m sclib.lease device --budget {budget_min:g} --out \"$OUT\""


def read_manifest(path: Path = MANIFEST) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{Path(path).relative_to(ROOT) if Path(path).is_relative_to(ROOT) else path}: "
                          f"no lease packed ({type(e).__name__}); run `python -m sclib lease pack` first") from None


def pack(budget_min: float = DEFAULT_BUDGET, only=None) -> dict:
    """Prepare ``.lease/`` for a lease of ``budget_min`` minutes; the manifest, with the ``run`` call."""
    from . import gpu

    if budget_min <= 0 or 60 * budget_min + INSTALL_RESERVE_S > RUN_LIMIT_S:
        raise ConfigError(f"--budget must be > 0 and at most {(RUN_LIMIT_S - INSTALL_RESERVE_S) / 60:g} minutes "
                          f"(one run call lasts at most {RUN_LIMIT_S} s, the install included), got {budget_min:g}")
    names = chosen(budget_min, only)
    if not names:
        raise ConfigError(f"no chapter fits --budget {budget_min:g} (estimates: sclib/gpu_plan.json)")
    MANIFEST.unlink(missing_ok=True)  # a pack that fails half-way leaves no manifest to run
    files, notes = data_files(set().union(*(gpu.datasets_of(n) for n in names)))
    placed = copy_data(files)
    ws = wheels()
    carry = [LEASE.name]
    size = travel_size(carry)
    if size["total"] > TRAVEL_LIMIT:
        raise ConfigError(f"what travels is {mib(size['total'])}, over the {TRAVEL_LIMIT // MiB} MiB a run call "
                          f"takes ({', '.join(f'{k} {mib(v)}' for k, v in size.items())})")
    call = dict(command=device_command(budget_min), carry=carry,
                timeout_s=min(RUN_LIMIT_S, int(60 * budget_min + INSTALL_RESERVE_S + 30)))
    manifest = dict(budget_min=budget_min, chapters=names, datasets=sorted(files), data=placed, notes=notes,
                    wheels=sorted(w.name for w in ws.values()), size=size, call=call)
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


# ------------------------------------------------------------------ on the lent machine
def install(wheel_dir: Path, site: str, python: str = sys.executable) -> dict:
    """``pip install`` the carried wheels into ``site`` as the lent machine does (no index, no
    dependencies, ``--target``): the env for the processes that follow (``PYTHONPATH`` starts
    with ``site``)."""
    env = dict(os.environ)
    ws = sorted(Path(wheel_dir).glob("*.whl"))
    if ws:
        r = subprocess.run([python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                            "--no-cache-dir", "--upgrade", "--target", site, *map(str, ws)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise ConfigError(f"install: pip install --target {site} failed: {' '.join(r.stderr.split())[-400:]}")
        env["PYTHONPATH"] = os.pathsep.join([site] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def pack_results(runs_dir: Path, out: Path, console: Path | None = None, note: dict | None = None,
                 part_size: int = PART_SIZE, max_files: int = OUT_FILES, max_total: int = OUT_TOTAL) -> list:
    """Into ``out``: the pages, ``gpu-log.json`` and the console log as ``gpu-runs.tar.gz.NN``
    parts of at most ``part_size`` bytes, and ``gpu-results.json`` (``note`` with the parts, or
    why they do not fit in ``max_files`` files and ``max_total`` bytes). Returns the files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    note = dict(note or {}, parts=[])
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        tb = Path(tmp) / "runs.tar.gz"
        with tarfile.open(tb, "w:gz") as t:
            if Path(runs_dir).is_dir():
                for f in sorted(Path(runs_dir).iterdir()):
                    if f.is_file():
                        t.add(f, arcname=f"runs/{f.name}")
            if console is not None and Path(console).is_file():
                t.add(console, arcname="runs/gpu-console.log")
        n = tb.stat().st_size
        parts = -(-n // part_size)
        note["bytes"] = n
        if parts > max_files - 1 or n > max_total - 4096:  # gpu-results.json is one of the files
            note["error"] = (f"results: {mib(n)} in {parts} parts of {mib(part_size)}; only "
                             f"{max_files - 1} files and {mib(max_total)} in all can come back")
        else:
            with open(tb, "rb") as f:
                for i in range(parts):
                    p = out / f"gpu-runs.tar.gz.{i:02d}"
                    p.write_bytes(f.read(part_size))
                    written.append(p)
                    note["parts"].append(p.name)
    res = out / "gpu-results.json"
    res.write_text(json.dumps(note, indent=1) + "\n")
    return written + [res]


def _relay(stream, log) -> None:
    """Each line of the child's output to this call's output and the console log (undecodable
    bytes replaced: a stray byte must not end the lease)."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace")
        sys.stdout.write(line)
        sys.stdout.flush()
        log.write(line)


def device(budget_min: float, out: Path, lease_dir: Path = LEASE, site: str = SITE, gpu_cmd=None) -> int:
    """On the lent machine: install the wheels, run ``sclib gpu`` on the manifest's chapters
    inside the budget (stopped, with all it started, :data:`KILL_GRACE_S` after it), and always
    pack the results. ``gpu_cmd``: the command in place of ``python -m sclib gpu`` (tests)."""
    t0 = time.time()
    if not str(out).strip():
        raise ConfigError("--out is empty (the device tool sets $OUT; run the command as pack printed it)")
    out, lease_dir = Path(out), Path(lease_dir)
    note = dict(budget_min=budget_min, rc=None, error=None)
    with tempfile.TemporaryDirectory(prefix="sclib-lease-") as work:
        runs_dir, console = Path(work) / "runs", Path(work) / "console.log"
        with open(console, "w") as log:
            def say(msg: str) -> None:
                print(msg, flush=True)
                log.write(msg + "\n")

            try:
                manifest = read_manifest(lease_dir / "lease.json")
                note["chapters"] = manifest["chapters"]
                env = install(lease_dir / "wheels", site)
                left_s = 60 * budget_min - (time.time() - t0) - INSTALL_RESERVE_S / 2
                if left_s < MIN_LEFT_S:
                    raise ConfigError(f"--budget {budget_min:g}: {left_s:.0f} s left after the install")
                cmd = list(gpu_cmd or [sys.executable, "-m", "sclib", "gpu"])
                cmd += ["--budget", f"{left_s / 60:.2f}", "--store", str(Path(work) / "store"),
                        "--out-dir", str(runs_dir), "--only", *manifest["chapters"]]
                if (lease_dir / "data").is_dir():
                    cmd += ["--data", str(lease_dir / "data")]
                say(f"sclib lease: sclib gpu --only {' '.join(manifest['chapters'])}: {left_s / 60:.1f} min")
                proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(env, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, start_new_session=True)
                relay = threading.Thread(target=_relay, args=(proc.stdout, log), daemon=True)
                relay.start()
                try:
                    note["rc"] = proc.wait(timeout=left_s + KILL_GRACE_S)
                except subprocess.TimeoutExpired:
                    procs.stop(proc)
                    note["rc"] = proc.returncode
                    note["error"] = f"sclib gpu overran its {left_s / 60:.1f} min and was stopped"
                relay.join(timeout=5)
            except Exception as e:  # recorded and reported; the results are packed all the same
                note["error"] = f"{type(e).__name__}: {' '.join(str(e).split())}"
            if note["error"]:
                say(f"sclib: error: {note['error']}")
        note["minutes"] = round((time.time() - t0) / 60, 2)
        files = pack_results(runs_dir, out, console, note)
    print(f"sclib lease: sclib gpu exited {note['rc']} after {note['minutes']:.1f} min; in {out}: "
          + ", ".join(f"{f.name} ({mib(f.stat().st_size)})" for f in files), flush=True)
    rc = note["rc"]
    return 0 if rc == 0 and not note["error"] else (rc if isinstance(rc, int) and rc > 0 else 2)


# ------------------------------------------------------------------ back here
def unpack(src: Path, runs_dir: Path = ROOT / "runs") -> dict:
    """The files a lease brought back (``src``, the tool's ``files_at``): checks every part is
    there, then the pages and the console log into ``runs_dir`` and the log's entries appended
    to its ``gpu-log.json``. Returns gpu-results.json with the pages and the log."""
    from . import gpu

    src, runs_dir = Path(src), Path(runs_dir)
    try:
        note = json.loads((src / "gpu-results.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"unpack: {src / 'gpu-results.json'} is missing or unreadable ({type(e).__name__}): "
                          "DIR must be the folder of a lease's files (files_at)") from None
    missing = [p for p in note.get("parts", []) if not (src / p).is_file()]
    if missing:
        raise ConfigError(f"unpack: {', '.join(missing)} did not come back (see the run's files_left_out)")
    pages, log = [], []
    if note.get("parts"):
        runs_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            tb = Path(tmp) / "runs.tar.gz"
            with open(tb, "wb") as f:
                for p in note["parts"]:
                    f.write((src / p).read_bytes())
            with tarfile.open(tb) as t:
                for m in t.getmembers():
                    name = m.name[5:] if m.name.startswith("runs/") else ""
                    if not m.isfile() or not name or "/" in name or name.startswith("."):
                        continue
                    data = t.extractfile(m).read()
                    if name == "gpu-log.json":
                        log = json.loads(data)
                        continue
                    (runs_dir / name).write_bytes(data)
                    pages += [name] if name.endswith(".ipynb") else []
    if log:
        gpu.append_log(runs_dir / "gpu-log.json", log)
    return dict(note, pages=sorted(pages), log=log)


def rehearse(python: str, chapters, wheel_dir: Path = WHEELS) -> list:
    """Install the wheels as the lent machine does, into a temporary folder, then dry-run each
    chapter's gpu profile with ``python`` (an interpreter made like the machine's). Returns
    ``[(chapter, status, seconds)]``."""
    out = []
    with tempfile.TemporaryDirectory(prefix="sclib-rehearse-") as site:
        env = install(wheel_dir, site, python)
        version = subprocess.run([python, "-c", "import sys, torch; print(sys.version.split()[0], torch.__version__)"],
                                 env=env, capture_output=True, text=True)
        print(f"sclib lease rehearse: {python}: Python and torch {version.stdout.strip() or version.stderr[-200:]}",
              flush=True)
        for n in chapters:
            t0 = time.time()
            r = subprocess.run([python, "-m", "sclib", "run", n, "--profile", "gpu", "--dry-run"], cwd=ROOT,
                               env=env, capture_output=True, text=True)
            err = [line for line in r.stderr.splitlines() if line.startswith("sclib: error")]
            status = "ok" if r.returncode == 0 else (err[-1] if err else f"exit {r.returncode}: {r.stderr[-300:]}")
            out.append((n, status, round(time.time() - t0, 1)))
            print(f"  {n:<24} {status} ({out[-1][2]:.0f} s)", flush=True)
    return out


# ------------------------------------------------------------------ command line
def add_parser(sub) -> None:
    g = sub.add_parser("lease", help="prepare a run on a lent GPU machine (pack), rehearse it on the CPU, "
                                     "read back what it made (unpack)")
    verbs = g.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("pack", help=".lease/ for the chapters that fit --budget; print the run call")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET, metavar="MINUTES")
    p.add_argument("--only", nargs="+", metavar="NOTEBOOK")
    u = verbs.add_parser("unpack", help="the files a lease brought back: pages and log into runs/")
    u.add_argument("src", metavar="DIR")
    r = verbs.add_parser("rehearse", help="the packed wheels and each packed chapter's gpu dry run under --python")
    r.add_argument("--python", required=True, metavar="PY", help="an interpreter made like the lent machine's")


def main(args) -> int:
    if args.verb == "pack":
        r = pack(args.budget, args.only)
        print(f"chapters that fit {args.budget:g} min: {', '.join(r['chapters'])}")
        print(f".lease/data: {', '.join(r['data']) or 'nothing'}; .lease/wheels: {len(r['wheels'])} wheels; "
              f"travels: {', '.join(f'{k} {mib(v)}' for k, v in r['size'].items())}")
        for n in r["notes"]:
            print(f"note: {n}")
        print("the device tool's run call (then: python -m sclib lease unpack FILES_AT):")
        print(json.dumps(r["call"], indent=1))
        return 0
    if args.verb == "unpack":
        r = unpack(Path(args.src))
        for e in r["log"]:
            for c in e.get("chapters", []):
                print(f"  {c['name']:<24} {c.get('status', '?')} {c.get('seconds', '')}")
        print(f"sclib gpu exited {r.get('rc')} after {r.get('minutes', '?')} min"
              + (f"; error: {r['error']}" if r.get("error") else ""))
        print(f"pages into runs/: {', '.join(r['pages']) or 'none'}")
        return 0 if not r.get("error") else 1
    if args.verb == "rehearse":
        res = rehearse(args.python, read_manifest()["chapters"])
        return 0 if all(s == "ok" for _, s, _ in res) else 1
    raise ConfigError(f"lease: unknown verb {args.verb!r}")


def _device_main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python3 -m sclib.lease device")
    p.add_argument("verb", choices=["device"])
    p.add_argument("--budget", type=float, required=True, metavar="MINUTES")
    p.add_argument("--out", required=True, metavar="DIR")
    a = p.parse_args(argv)
    try:
        return device(a.budget, a.out)
    except ConfigError as e:
        print(f"sclib: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(_device_main())
