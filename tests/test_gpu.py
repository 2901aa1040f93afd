"""``python -m sclib gpu --budget MINUTES`` (issue 21): what it refuses on a CPU, the order and
the budget logic it follows on a GPU, the data it asks for, and how it stops a chapter."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT
from sclib import gpu, procs, profiles, runner


def cli(*args):
    return subprocess.run([sys.executable, "-m", "sclib", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_one_line_and_status_2():
    r = cli("gpu", "--budget", "5")
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("sclib: error: no CUDA device"), r.stderr
    assert "--dry-run" in lines[0]


def test_bad_budget_and_data_are_one_line():
    for args, word in ((["--budget", "0"], "--budget"), (["--budget", "5", "--data", "/no/such/dir"], "--data")):
        r = cli("gpu", *args)
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        assert r.returncode == 2 and len(lines) == 1 and word in lines[0], r.stderr


def test_order_is_the_issue_priority_then_the_book():
    names = gpu.order()
    assert names[:3] == ["resnet_superconvergence", "kth_verification", "clr_sgdr"]
    assert sorted(names) == sorted(profiles.CHAPTERS)
    assert gpu.order(["lr_onecycle", "clr_sgdr"]) == ["clr_sgdr", "lr_onecycle"]


M = 60.0


@pytest.mark.parametrize("est, left, first, bank, want", [
    (10 * M, 20 * M, False, False, "run"),   # fits
    (30 * M, 20 * M, True, True, "bank"),    # --bank: the call's first chapter starts anyway, runs kept
    (30 * M, 20 * M, True, False, "skip"),   # by default it does not: the chapters that fit get the time
    (30 * M, 20 * M, False, True, "skip"),   # does not fit, another chapter already ran
    (None, 20 * M, False, False, "run"),     # no estimate: tried
    (1 * M, 30.0, True, True, "stop"),       # under a minute left: nothing starts
])
def test_decide(est, left, first, bank, want):
    assert gpu.decide(est, left, first, bank) == want


def test_schedule_within_a_15_minute_lease():
    est = {"resnet_superconvergence": 11 * M, "kth_verification": 40 * M, "clr_sgdr": 2 * M,
           "lr_onecycle": 3 * M}
    plan = gpu.schedule(list(est), est, 15 * M)
    assert [(n, a) for n, a, _ in plan] == [("resnet_superconvergence", "run"), ("kth_verification", "skip"),
                                           ("clr_sgdr", "run"), ("lr_onecycle", "skip")]  # 90 s left
    # a budget below the first chapter: skipped, and the chapters that fit run
    plan = gpu.schedule(list(est), est, 8 * M)
    assert [a for _, a, _ in plan] == ["skip", "skip", "run", "run"]
    # with --bank it is started anyway (its runs are kept), and nothing after it starts
    plan = gpu.schedule(list(est), est, 8 * M, bank=True)
    assert [a for _, a, _ in plan] == ["bank", "stop", "stop", "stop"]
    assert plan[0][2] == pytest.approx(8 * M - gpu.MARGIN_S)


def test_kth_keeps_its_cifar10_rows_without_the_extra_datasets(tmp_path):
    params, why, notes = gpu.chapter_params("kth_verification", {"cifar10": None})
    assert why is None and params["extra_runs"] == [] and "dropped" in notes[0]
    (tmp_path / "oxflower17").mkdir()
    have = gpu.available(tmp_path)
    have["cifar10"] = None
    params, why, _ = gpu.chapter_params("kth_verification", have)
    assert {ds for ds, _ in params["extra_runs"]} == {"oxflower17"}
    assert params["oxflower17_root"] == str(tmp_path / "oxflower17")


def test_missing_data_skips_a_chapter_and_says_which():
    _, why, _ = gpu.chapter_params("quickdraw", {"cifar10": None})
    assert why and "quickdraw" in why
    _, why, _ = gpu.chapter_params("one_cycle_pipeline", {"cifar10": None})
    assert why and "fashion_mnist" in why
    params, why, _ = gpu.chapter_params("lr_onecycle", {"cifar10": None})
    assert why is None and params == {}


def test_carried_data_is_found(tmp_path):
    (tmp_path / "cifar10-jpeg.tar.gz").write_bytes(b"")
    (tmp_path / "quickdraw").mkdir()
    have = gpu.available(tmp_path)
    assert have["cifar10"] == tmp_path / "cifar10-jpeg.tar.gz" and have["quickdraw"] == tmp_path / "quickdraw"
    env = gpu.data_env(have)
    assert json.loads(env["SCLIB_DATA"])["cifar10_tarball"] == str(tmp_path / "cifar10-jpeg.tar.gz")
    assert env["PYTHONPATH"].split(os.pathsep)[0].endswith("site")


def test_estimate_drops_the_runs_of_missing_datasets(monkeypatch):
    plan = {"chapters": {"kth_verification": {"gpu_seconds": 1000.0, "fingerprint": None,
                                              "by_dataset": {"cifar10": 600.0, "oxflower17": 100.0,
                                                             "tinyimagenet": 300.0}}}}
    s, _ = gpu.estimate("kth_verification", {"extra_runs": [["oxflower17", "simple"]]}, plan)
    assert s == pytest.approx(700.0)
    s, note = gpu.estimate("lr_onecycle", {}, plan)
    assert s is None and "--dry-run" in note


def test_the_committed_plan_has_every_chapter():
    plan = json.loads(gpu.PLAN.read_text())
    for name in profiles.CHAPTERS:
        e = plan["chapters"][name]
        assert e["gpu_seconds"] > 0 and e["runs"] > 0, name


def test_stop_ends_the_child_and_everything_it_started(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    code = ("import subprocess, sys, time; "
            f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
            f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    for _ in range(600):  # up to a minute: the machine may be busy with another test worker
        if pidfile.exists() and pidfile.read_text():
            break
        time.sleep(0.1)
    grandchild = int(pidfile.read_text())
    t0 = time.time()
    procs.stop(proc)
    assert proc.poll() is not None and time.time() - t0 < 20
    for _ in range(50):
        if not Path(f"/proc/{grandchild}").exists() or "Z" in Path(f"/proc/{grandchild}/stat").read_text().split(")")[1][:3]:
            break
        time.sleep(0.1)
    stat = Path(f"/proc/{grandchild}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_finished_page_is_not_rerun(tmp_path):
    out = tmp_path / "lr_onecycle-gpu.ipynb"
    meta = {"sclib": {"fingerprint": runner.fingerprint("lr_onecycle", "gpu"), "parameters": {}}}
    out.write_text(json.dumps({"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5}))
    assert gpu.page_done(out, "lr_onecycle", {})
    assert not gpu.page_done(out, "lr_onecycle", {"epochs": 3})
    assert not gpu.page_done(tmp_path / "missing.ipynb", "lr_onecycle", {})
