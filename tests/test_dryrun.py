"""The dry run (issue 21): every chapter's gpu profile runs on the CPU, two steps per run at a
tiny size, and prints its planned runs with a finite GPU-time estimate; a broken gpu-profile
setting makes it fail with one line."""
import json
import math
import re
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from sclib import data, dryrun, profiles
from sclib.errors import ConfigError

CHAPTERS = sorted(profiles.CHAPTERS)


def cli(*args, timeout=3600):
    return subprocess.run([sys.executable, "-m", "sclib", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def minutes(stdout: str, name: str) -> float:
    m = re.search(rf"estimated GPU time of {name} at profile gpu: ([\d.]+) (min|h)", stdout)
    assert m, stdout[-3000:]
    return float(m.group(1)) * (60 if m.group(2) == "h" else 1)


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_chapter_dry_runs_at_the_gpu_profile(name):
    """Exit 0, nothing on stderr, a plan of > 0 runs and a finite, positive GPU time."""
    r = cli("run", name, "--profile", "gpu", "--dry-run")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr.strip() == "", r.stderr[-3000:]
    m = re.search(r"planned runs at profile gpu \((\d+) in all", r.stdout)
    assert m and int(m.group(1)) > 0, r.stdout[-3000:]
    est = minutes(r.stdout, name)
    assert math.isfinite(est) and est > 0


def test_a_broken_gpu_setting_fails_the_dry_run_in_one_line(monkeypatch):
    """resnet_superconvergence's accuracy range test needs range_evals <= range_iters: valid
    values one by one, a failure only when the page runs. The dry run must catch it."""
    monkeypatch.setitem(profiles.CHAPTERS["resnet_superconvergence"]["gpu"], "range_iters", 10)
    with pytest.raises(ConfigError) as e:
        dryrun.dry_run("resnet_superconvergence", "gpu")
    msg = str(e.value)
    assert "\n" not in msg and "n_evals" in msg and "resnet_superconvergence" in msg, msg


def test_a_broken_setting_from_the_cli_is_one_line_and_status_2():
    r = cli("run", "resnet_superconvergence", "--profile", "gpu", "--dry-run", "-p", "range_iters", "10")
    assert r.returncode == 2, r.stdout[-2000:]
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("sclib: error: dry run of resnet_superconvergence"), r.stderr
    assert "n_evals" in lines[0]


def test_an_unknown_model_in_the_gpu_profile_fails_before_anything_runs(monkeypatch):
    monkeypatch.setitem(profiles.CHAPTERS["lr_onecycle"]["gpu"], "model", "resnet57")
    with pytest.raises(ConfigError, match="model='resnet57' is not one of"):
        dryrun.dry_run("lr_onecycle", "gpu")


def test_dry_run_refuses_into_book():
    r = cli("run", "lr_onecycle", "--profile", "gpu", "--dry-run", "--into-book", timeout=300)
    assert r.returncode == 2 and "never writes a book page" in r.stderr


@pytest.fixture
def stand_ins(tmp_path, monkeypatch):
    monkeypatch.setenv("SCLIB_CACHE", str(tmp_path / "cache"))
    return dryrun.stand_ins(synthetic=True)


def test_synthetic_stand_ins_are_read_by_sclib_data(stand_ins, monkeypatch):
    """Each stand-in is in the exact on-disk format sclib.data reads, with the right shape."""
    monkeypatch.setattr(data, "CIFAR10_TARBALLS", data.CIFAR10_TARBALLS)
    monkeypatch.setattr(data, "FASHION_MNIST_DIRS", data.FASHION_MNIST_DIRS)
    dryrun.set_data_paths(stand_ins["cifar10_tarball"], stand_ins["fashion_mnist_dir"])
    want = {"cifar10": (None, (3, 32, 32), 10), "fashion_mnist": (None, (1, 28, 28), 10),
            "oxflower17": (stand_ins["oxflower17_root"], (3, 128, 128), 17),
            "tinyimagenet": (stand_ins["tinyimagenet_root"], (3, 64, 64), 200)}
    for name, (root, shape, classes) in want.items():
        for split in ("train", "test"):
            x, y = data.load(name, split, root=root)
            assert x.dtype == torch.uint8 and tuple(x.shape[1:]) == shape, (name, split, x.shape)
            assert int(y.max()) + 1 == classes and len(y.unique()) == classes, (name, split)
    from sclib import strokes

    ds = strokes.load_split(stand_ins["quickdraw_root"], per_class=2000, val_fraction=0.02)
    assert len(ds.classes) >= 2 and len(ds.val.labels) >= len(ds.classes)


def test_gpu_seconds_grows_with_flops_and_steps():
    line = dict(train_images=50000, eval_images=10000, fwd_flops=2.5e8, steps=391, layers=112)
    one = dryrun.gpu_seconds(line)
    assert one > 0 and dryrun.gpu_seconds(dict(line, train_images=100000, steps=782)) > one
    flops = 50000 * 3 * 2.5e8 + 10000 * 2.5e8
    assert one == pytest.approx(flops / dryrun.DEVICE["flops"] + 391 * 112 * dryrun.DEVICE["step_s"]
                                + 10 * 112 * dryrun.DEVICE["eval_s"])


REPEATS = r'''
import json, sys, torch
from sclib import clr_study, data, dryrun, lr_finder, models, optim, train
plan = sys.argv[1]
dryrun.install(dict(chapter="t", plan=plan, synthetic={}))
g = torch.Generator().manual_seed(0)
x, y = torch.rand(64, 1, 8, 8, generator=g), torch.arange(64) % 4
tb = data.Batches(x, y, 8, shuffle=True)
out = {}

def run(name, **kw):
    torch.manual_seed(0)
    net = models.create("simple", 4, 1)
    before = [p.detach().clone() for p in net.parameters()]
    h = train.fit(net, tb, None, **dict(dict(epochs=3, lr=0.05), **kw))
    out[name] = dict(trained=any(not torch.equal(a, b) for a, b in zip(before, net.parameters())),
                     steps=len(h.lr), epochs=len(h.epoch), lr=h.lr)

run("plain")
run("plain again", lr=0.01, schedule="onecycle", epochs=4)   # LR, schedule, epochs: a repeat
run("adam", optimizer="adam")                                # another optimizer: the real model
for name in ("sgdw", "adamw", "sgdw again"):                 # built optimizers: keyed by name
    run(name, optimizer=optim.make(name.split()[0]), weight_decay=1e-4)
seen = []
for name in ("hook", "hook again"):                          # a hook of the caller's: never a repeat
    run(name, on_epoch=lambda h: seen.append(len(h.epoch)) and False)
for _ in range(2):
    torch.manual_seed(0)
    lr_finder.range_test(models.create("simple", 4, 1), tb, num_iter=20)
clr_study.load = lambda *a, **k: (tb, tb)                   # scored after epoch 1 by its hook
out["scored"] = [clr_study.train_eval(dataset="-", model="simple", n_train=None, n_test=None, batch_size=8,
                                      epochs=3, lr=0.05, eval_at=(1,)).acc for _ in range(2)]
lines = [json.loads(l) for l in open(plan)]
out["repeat"] = [l["repeat"] for l in lines if l["kind"] != "installed"]
out["kinds"] = [l["kind"] for l in lines if l["kind"] != "installed"]
out["models"] = sorted({l["model"] for l in lines if l["kind"] != "installed"})
out["seen"] = seen
print(json.dumps(out))
'''


def test_a_repeated_configuration_trains_the_stand_in_only(tmp_path):
    """The real model trains once per configuration; a repeat (another LR, schedule, epochs) trains
    only the stand-in, with the History's shape intact; another optimizer, or a hook that is not
    known to leave the model alone, gets the real model; the plan still names the real model."""
    script = tmp_path / "repeats.py"
    script.write_text(REPEATS)
    r = subprocess.run([sys.executable, str(script), str(tmp_path / "plan.jsonl")], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["kinds"] == ["run", "run", "run", "run", "run", "run", "watched", "watched", "sweep", "sweep",
                            "watched", "watched"]
    assert out["repeat"] == [False, True, False, False, False, True, False, False, False, True, False, True]
    assert out["plain"]["trained"] and not out["plain again"]["trained"]
    assert out["adam"]["trained"] and out["hook"]["trained"] and out["hook again"]["trained"]
    assert out["sgdw"]["trained"] and out["adamw"]["trained"] and not out["sgdw again"]["trained"]
    # clr_study's hook scores the model it built after epoch 1 and 3, on a repeat too
    assert [sorted(a) for a in out["scored"]] == [["1", "3"], ["1", "3"]]
    # the History has the shape the page expects: every epoch and every step of the asked-for run
    assert (out["plain again"]["epochs"], out["plain again"]["steps"]) == (4, 4 * 8)
    assert (out["plain"]["epochs"], out["plain"]["steps"]) == (3, 3 * 8)
    assert 0.009 < max(out["plain again"]["lr"]) <= 0.01  # its own one-cycle schedule, not the first run's LR
    assert out["seen"] == [1, 2, 3, 1, 2, 3]
    assert out["models"] == ["simple"]
