"""``sclib.lease`` (issue 21, item 4): what travels to a lent GPU machine (the wheels its image
lacks, the data, within 64 MiB), the command that runs there, and the files that come back (at
most 8, 16 MiB each) read back here."""
import importlib.metadata as md
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
import torch

from conftest import ROOT
from sclib import gpu, lease
from sclib.errors import ConfigError

OK_NAME = re.compile(r"^[A-Za-z0-9._-]+$")  # what the device tool brings back from $OUT


def test_needed_by_evaluates_markers_for_the_lent_python_and_drops_what_the_image_has():
    reqs = ["papermill>=2", "aiohttp>=3.9; python_version == '3.12'", "old-backport; python_version < '3.10'",
            "boto3; extra == 'all'", "Sphinx>=7", "traitlets>=5.4", "colorama; sys_platform == 'win32'"]
    assert lease.needed_by(reqs) == ["papermill", "traitlets"]


def _fake_wheel(folder: Path, name: str, version: str, requires=()):
    folder.mkdir(parents=True, exist_ok=True)
    stem = name.replace("-", "_")
    w = folder / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(w, "w") as z:
        meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
            f"Requires-Dist: {r}\n" for r in requires)
        z.writestr(f"{stem}-{version}.dist-info/METADATA", meta)
    return w


def test_wheels_close_over_requirements_at_the_pins_and_drop_stale_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(lease, "NEEDS", ("papermill", "myst-nb"))
    deps = {"papermill": ["nbclient>=0.2", "pyyaml", "aiohttp; python_version == '3.12'"],
            "nbclient": ["jupyter-client>=6", "traitlets"], "jupyter-client": ["traitlets"],
            "myst-nb": ["sphinx>=5", "myst-parser", "ipython"], "ipython": ["traitlets"], "traitlets": []}
    req = tmp_path / "requirements.txt"
    req.write_text("".join(f"{n}=={i}.0\n" for i, n in enumerate(sorted(deps), 1)) + "Sphinx==7.4.7\n")
    pinned = lease.pins(req)
    folder = tmp_path / "whl"
    stale = _fake_wheel(folder, "traitlets", "0.1")
    fetched = []

    def fetch(name, version, where):
        fetched.append((name, version))
        return _fake_wheel(where, name, version, deps[name])

    out = lease.wheels(folder, fetch=fetch, requirements=req)
    assert sorted(out) == sorted(deps)  # pyyaml and aiohttp: the image's; sphinx, myst-parser: not needed
    assert all(v == pinned[n] for n, v in fetched) and len(fetched) == len(deps)
    assert not stale.exists() and sorted(p.name for p in folder.iterdir()) == sorted(w.name for w in out.values())
    req.write_text(req.read_text().replace("traitlets==6.0\n", ""))
    with pytest.raises(ConfigError, match="traitlets .*not pinned in requirements.txt"):
        lease.wheels(tmp_path / "whl2", fetch=fetch, requirements=req)


def test_the_lent_machine_gets_every_package_a_page_needs_pinned(tmp_path):
    """lease.wheels on this venv's installed metadata (the same pins as requirements.txt): every
    package is pinned, none is in the image, and they are what papermill, ipykernel and
    myst_nb.glue import that the lent machine lacks."""
    def fetch(name, version, folder):
        assert md.version(name) == version, name  # the pin is what this venv runs
        return _fake_wheel(folder, name, version, md.requires(name) or [])

    got = lease.wheels(tmp_path / "whl", fetch=fetch)
    assert not set(got) & lease.DEVICE_PACKAGES
    for n in ("papermill", "nbclient", "nbformat", "ipykernel", "jupyter-client", "pyzmq", "myst-nb", "docutils"):
        assert n in got, n
    assert not set(got) & {"sphinx", "myst-parser", "jupyter-book"}  # the book is built here, not there


@pytest.mark.parametrize("file, name, version", [
    ("pyzmq-27.1.0-cp312-abi3-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl", "pyzmq", "27.1.0"),
    ("rpds_py-0.27.1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "rpds-py", "0.27.1"),
    ("jupyter_client-8.6.3-py3-none-any.whl", "Jupyter.Client", "8.6.3"),
])
def test_wheel_of_finds_real_wheel_names(tmp_path, file, name, version):
    (tmp_path / file).touch()
    (tmp_path / file.replace(version, version + "1")).touch()
    assert lease.wheel_of(name, version, tmp_path).name == file
    assert lease.wheel_of(name, "0.0.1", tmp_path) is None


def _runs(tmp_path, page_bytes=1000):
    runs = tmp_path / "runs"
    runs.mkdir()
    page = {"cells": [], "metadata": {}, "blob": os.urandom(page_bytes).hex()}  # incompressible
    (runs / "label_smoothing-gpu.ipynb").write_text(json.dumps(page))
    (runs / "gpu-log.json").write_text(json.dumps([{"started": "now", "chapters": [{"name": "label_smoothing",
                                                                                   "status": "done"}]}]))
    console = tmp_path / "console.log"
    console.write_text("sclib gpu: label_smoothing: done\n")
    return runs, console


def test_results_come_back_in_few_small_files_and_unpack_here(tmp_path):
    runs, console = _runs(tmp_path, page_bytes=200_000)
    out = tmp_path / "OUT"
    files = lease.pack_results(runs, out, console, dict(rc=0, error=None), part_size=64 * 1024)
    assert len(files) <= lease.OUT_FILES and all(OK_NAME.match(f.name) for f in files)
    assert all(f.stat().st_size <= 64 * 1024 for f in files)
    n = json.loads((out / "gpu-results.json").read_text())["bytes"]
    assert n > 2 * 64 * 1024  # several parts
    assert [f.name for f in files] == [f"gpu-runs.tar.gz.{i:02d}" for i in range(-(-n // (64 * 1024)))] + [
        "gpu-results.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted(f.name for f in files)  # nothing else in $OUT
    here = tmp_path / "here"
    (here / "runs").mkdir(parents=True)
    (here / "runs" / "gpu-log.json").write_text(json.dumps([{"started": "earlier"}]))
    r = lease.unpack(out, here / "runs")
    assert r["pages"] == ["label_smoothing-gpu.ipynb"] and r["rc"] == 0
    assert (here / "runs" / r["pages"][0]).read_bytes() == (runs / r["pages"][0]).read_bytes()
    log = json.loads((here / "runs" / "gpu-log.json").read_text())
    assert [e["started"] for e in log] == ["earlier", "now"]
    assert "done" in (here / "runs" / "gpu-console.log").read_text()
    lease.unpack(out, here / "runs")  # twice: the log does not grow
    assert len(json.loads((here / "runs" / "gpu-log.json").read_text())) == 2
    (out / "gpu-runs.tar.gz.01").unlink()  # a part left out by the device tool
    with pytest.raises(ConfigError, match="gpu-runs.tar.gz.01 did not come back"):
        lease.unpack(out, here / "runs")


def test_results_too_large_to_come_back_are_said_not_half_sent(tmp_path):
    runs, console = _runs(tmp_path, page_bytes=100_000)
    out = tmp_path / "OUT"
    files = lease.pack_results(runs, out, console, part_size=32 * 1024, max_files=4)
    assert [f.name for f in files] == ["gpu-results.json"]
    note = json.loads((out / "gpu-results.json").read_text())
    assert note["parts"] == [] and "only 3 files" in note["error"]
    assert lease.unpack(out, tmp_path / "here")["pages"] == []
    files = lease.pack_results(runs, out, console, part_size=32 * 1024, max_total=64 * 1024)  # few files, too many bytes
    assert [f.name for f in files] == ["gpu-results.json"]


def test_unpack_needs_the_results_note(tmp_path):
    with pytest.raises(ConfigError, match="gpu-results.json is missing"):
        lease.unpack(tmp_path)


def _lease_dir(tmp_path, chapters=("label_smoothing",)):
    d = tmp_path / "lease"
    d.mkdir()
    (d / "lease.json").write_text(json.dumps({"chapters": list(chapters)}))
    return d


def _parts(out):
    note = json.loads((out / "gpu-results.json").read_text())
    data = b"".join((out / p).read_bytes() for p in note["parts"])
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return note, {m.name: t.extractfile(m).read().decode() for m in t.getmembers() if m.isfile()}


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_on_a_machine_without_cuda_the_device_step_fails_in_one_line_and_still_packs(tmp_path, capsys):
    out = tmp_path / "OUT"
    rc = lease.device(3, out, lease_dir=_lease_dir(tmp_path), site=str(tmp_path / "site"))
    assert rc == 2
    note, files = _parts(out)
    assert note["rc"] == 2 and note["chapters"] == ["label_smoothing"]
    assert "sclib: error: no CUDA device" in files["runs/gpu-console.log"]
    assert "sclib gpu exited 2" in capsys.readouterr().out


FAKE_GPU = r"""
import argparse, json, sys, time
from pathlib import Path
p = argparse.ArgumentParser()
for a in ("--budget", "--store", "--out-dir", "--data"):
    p.add_argument(a)
p.add_argument("--only", nargs="+")
a = p.parse_args()
out = Path(a.out_dir); out.mkdir(parents=True)
for n in a.only:
    (out / f"{n}-gpu.ipynb").write_text("{}")
(out / "gpu-log.json").write_text(json.dumps([{"budget_min": float(a.budget), "only": a.only}]))
sys.stdout.buffer.write(b"progress \xff\xfe not utf-8\n"); sys.stdout.flush()
time.sleep(float(SLEEP))
"""


@pytest.mark.parametrize("sleep", [0, 600])
def test_the_device_step_runs_the_packed_chapters_and_stops_an_overrun(tmp_path, monkeypatch, capsys, sleep):
    monkeypatch.setattr(lease, "INSTALL_RESERVE_S", 0)
    monkeypatch.setattr(lease, "MIN_LEFT_S", 0)
    monkeypatch.setattr(lease, "KILL_GRACE_S", 1)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    fake = [sys.executable, "-c", FAKE_GPU.replace("SLEEP", str(sleep))]
    out = tmp_path / "OUT"
    t0 = time.time()
    rc = lease.device(0.05, out, lease_dir=_lease_dir(tmp_path, ["quickdraw", "performance"]),
                      site=str(tmp_path / "site"), gpu_cmd=fake)
    assert time.time() - t0 < 30
    note, files = _parts(out)
    assert sorted(files) == ["runs/gpu-console.log", "runs/gpu-log.json", "runs/performance-gpu.ipynb",
                             "runs/quickdraw-gpu.ipynb"]
    assert json.loads(files["runs/gpu-log.json"])[0]["only"] == ["quickdraw", "performance"]
    assert "progress \ufffd\ufffd not utf-8" in files["runs/gpu-console.log"]
    if sleep:
        assert rc == 2 and "overran" in note["error"] and "sclib: error: " in capsys.readouterr().out
    else:
        assert rc == 0 and note["rc"] == 0 and note["error"] is None
    assert not list(tmp.iterdir())  # the work folder is gone


def test_the_device_step_needs_a_packed_lease_and_an_out_folder(tmp_path):
    with pytest.raises(ConfigError, match="--out is empty"):
        lease.device(3, "", lease_dir=tmp_path)
    out = tmp_path / "OUT"
    assert lease.device(3, out, lease_dir=tmp_path, site=str(tmp_path / "site")) == 2
    assert "no lease packed" in json.loads((out / "gpu-results.json").read_text())["error"]


def test_the_device_command_imports_only_the_standard_library():
    code = ("import sys; before = set(sys.modules); import sclib.lease; print(sorted(m for m in set(sys.modules) "
            "- before if m.split('.')[0] not in sys.stdlib_module_names and m.split('.')[0] != 'sclib'))")
    env = {k: v for k, v in os.environ.items() if k != "SCLIB_DTYPE"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "sclib.lease", "device", "--budget", "8", "--out", ""], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "sclib: error: --out is empty (the device tool sets $OUT; run the command as pack printed it)"]


def test_the_run_call_fits_the_device_tool():
    cmd = lease.device_command(lease.DEFAULT_BUDGET)
    assert len(cmd) <= lease.COMMAND_LIMIT and "$OUT" in cmd
    assert 60 * lease.DEFAULT_BUDGET + lease.INSTALL_RESERVE_S <= lease.RUN_LIMIT_S
    assert lease.PART_SIZE <= lease.OUT_FILE_SIZE
    for bad in (0, -1, 9.5, 30):
        with pytest.raises(ConfigError, match="--budget"):
            lease.pack(bad)


def test_bad_budget_is_one_line_and_status_2():
    r = subprocess.run([sys.executable, "-m", "sclib", "lease", "pack", "--budget", "30"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "--budget" in lines[0], r.stderr


def test_the_chapters_packed_are_those_sclib_gpu_would_run_in_what_the_lease_leaves_it(monkeypatch):
    minutes = dict(resnet_superconvergence=27.3, kth_verification=91.8, clr_sgdr=762, lr_onecycle=18.8,
                   one_cycle_pipeline=14.1, quickdraw=0.7, large_batch=15.0, weight_decay=204,
                   label_smoothing=3.6, mixup_fixup=102, bag_of_tricks=34.1, performance=0.3)
    assert sorted(minutes) == sorted(gpu.order())
    plan = {"chapters": {n: {"gpu_seconds": 60 * m, "fingerprint": None} for n, m in minutes.items()}}
    monkeypatch.setattr(gpu, "read_plan", lambda: plan)
    monkeypatch.setattr(gpu, "available", lambda d: {"digits": None, "cifar10": None, "quickdraw": Path("q.tar.gz")})
    # the priority chapters do not fit 8 minutes and are skipped, not banked; one_cycle_pipeline
    # has no Fashion-MNIST here
    assert lease.chosen(8) == ["quickdraw", "label_smoothing", "performance"]
    assert lease.chosen(8, ["performance", "resnet_superconvergence"]) == ["performance"]
    # 5.6 min: 4.6 min for sclib gpu, less its 30 s margin: label_smoothing's 3.6 min after quickdraw's do not fit
    assert lease.chosen(5.6) == ["quickdraw", "performance"]
    assert lease.chosen(31) == ["resnet_superconvergence", "quickdraw", "performance"]  # 2.2 min after resnet
    assert lease.chosen(30) == ["resnet_superconvergence", "quickdraw"]  # 1.2 min: then under a minute left


def test_copy_data_places_writable_copies_and_removes_only_what_it_no_longer_needs(tmp_path):
    src = tmp_path / "src"
    (src / "fm").mkdir(parents=True)
    (src / "fm" / "train-images-idx3-ubyte.gz").write_bytes(b"i" * 10)
    (src / "c.tar.gz").write_bytes(b"c" * 20)
    for f in (src / "fm" / "train-images-idx3-ubyte.gz", src / "c.tar.gz"):
        f.chmod(0o444)  # as in a read-only dataset folder
    dest = tmp_path / "data"
    (dest / "old").mkdir(parents=True)
    (dest / "old.tar.gz").write_bytes(b"o")
    placed = lease.copy_data({"fashion_mnist": (src / "fm", "fashion-mnist"), "cifar10": (src / "c.tar.gz", "c.tar.gz")},
                             dest)
    assert placed == ["c.tar.gz", "fashion-mnist"] and sorted(p.name for p in dest.iterdir()) == placed
    assert (dest / "fashion-mnist" / "train-images-idx3-ubyte.gz").read_bytes() == b"i" * 10
    assert all(f.stat().st_mode & 0o200 for f in dest.rglob("*") if f.is_file())  # owner-writable (root ignores it)
    lease.copy_data({"cifar10": (src / "c.tar.gz", "c.tar.gz")}, dest)  # a second pack, twice
    assert sorted(p.name for p in dest.iterdir()) == ["c.tar.gz"]


def test_data_files_say_what_does_not_travel():
    files, notes = lease.data_files({"digits", "oxflower17"})
    assert files == {} and notes == ["no data/oxflower17/ here: kth_verification drops its oxflower17 runs"]
    with pytest.raises(ConfigError, match="cannot carry 'imagenet'"):
        lease.data_files({"imagenet"})


def test_travel_size_counts_the_tree_and_the_carried_paths_only(tmp_path):
    def git(*a):
        subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / ".gitignore").write_text("/data/\n*.log\n")
    (tmp_path / "tracked.txt").write_bytes(b"x" * 100)
    git("add", ".")
    (tmp_path / "untracked.txt").write_bytes(b"y" * 10)
    (tmp_path / "ignored.log").write_bytes(b"z" * 1000)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.bin").write_bytes(b"d" * 5000)
    size = lease.travel_size(["data"], root=tmp_path)
    gi = (tmp_path / ".gitignore").stat().st_size
    assert size == {"tree": 100 + 10 + gi, "data": 5000, "total": 5110 + gi}
