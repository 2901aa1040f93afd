"""The run store: a stored run is exactly what training gives, anything that changes the run
misses, a bad entry is retrained, and a run killed with SIGKILL resumes bit-identical."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from sclib import models, store, train

RUN = dict(dataset="digits", model="simple", epochs=3, batch_size=64, lr=0.05, n_train=512,
           schedule={"kind": "onecycle"}, progress=False, device="cpu")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("SCLIB_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def _same(a, b):  # the numbers of two runs (a retrained run has its own timings)
    return a.loss == b.loss and a.test_acc == b.test_acc and a.lr == b.lr


def _counted(monkeypatch):
    """Count forward passes of every model sclib.models.create builds."""
    calls = []
    create = models.create

    def counting(*a, **kw):
        m = create(*a, **kw)
        m.register_forward_hook(lambda *_: calls.append(1))
        return m

    monkeypatch.setattr(models, "create", counting)
    return calls


def test_a_stored_run_is_returned_without_training_and_equals_training(runs, monkeypatch):
    calls = _counted(monkeypatch)
    h1, m1, _ = train.run(seed=1, return_model=True, **RUN)
    rng1 = torch.get_rng_state()
    n = len(calls)
    assert n > 0 and len(list(runs.glob("*/*.run.pt"))) == 1 and not list(runs.glob("*/*.ckpt.pt"))
    h2, m2, _ = train.run(seed=1, return_model=True, **RUN)
    assert len(calls) == n                       # not one forward pass: nothing trained
    assert h2 == h1 and torch.equal(torch.get_rng_state(), rng1)
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))


@pytest.mark.parametrize("change", [dict(lr=0.051), dict(seed=2), dict(n_train=500), dict(epochs=2),
                                    dict(schedule="cosine"), dict(batch_size=32)])
def test_anything_that_changes_the_run_misses(runs, monkeypatch, change):
    calls = _counted(monkeypatch)
    train.run(**dict(RUN, seed=1))
    n = len(calls)
    train.run(**{**RUN, "seed": 1, **change})
    assert len(calls) > n


def test_the_random_state_at_the_start_is_part_of_the_key(runs, monkeypatch):
    calls = _counted(monkeypatch)
    tr, te = train.load_batches("digits", batch_size=64, n_train=512, device="cpu")
    train.seed_everything(0)
    net = models.create("simple", 10, 1)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    train.fit(net, tr, te, epochs=1, lr=0.05, mixup_alpha=0.4, progress=False)  # mixup draws from torch's RNG
    n = len(calls)
    net.load_state_dict(state)
    torch.manual_seed(123)                      # same weights, same data, another random state
    train.fit(net, tr, te, epochs=1, lr=0.05, mixup_alpha=0.4, progress=False)
    assert len(calls) > n


def test_a_corrupt_or_foreign_entry_is_retrained(runs, monkeypatch):
    calls = _counted(monkeypatch)
    h1 = train.run(seed=1, **RUN)
    (entry,) = runs.glob("*/*.run.pt")
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    n = len(calls)
    h2 = train.run(seed=1, **RUN)
    assert len(calls) > n and _same(h2, h1) and store.load(entry.name.split(".")[0]) is not None
    torch.save({"format": store.FORMAT, "key": "another"}, entry)
    n = len(calls)
    assert _same(train.run(seed=1, **RUN), h1) and len(calls) > n


def test_off_and_hooks_bypass_the_store(runs, monkeypatch):
    monkeypatch.setenv("SCLIB_RUNS", "off")
    train.run(seed=1, **RUN)
    assert store.root() is None and not runs.exists()
    monkeypatch.setenv("SCLIB_RUNS", str(runs))
    tr, _ = train.load_batches("digits", batch_size=64, n_train=512, device="cpu")
    train.fit(models.create("simple", 10, 1), tr, epochs=1, lr=0.05, on_epoch=lambda h: False, progress=False)
    assert not list(runs.glob("*/*.pt"))


def test_a_run_killed_with_sigkill_resumes_bit_identical(tmp_path):
    # the child trains 4 epochs and kills itself (SIGKILL) at the start of the third
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from sclib import data, train
        set_epoch = data.Batches.set_epoch
        def killing(self, epoch):
            if epoch == 2 and self.shuffle:
                os.kill(os.getpid(), signal.SIGKILL)
            set_epoch(self, epoch)
        data.Batches.set_epoch = killing
        train.run(seed=3, **{dict(RUN, epochs=4)!r})
    """)
    env = dict(os.environ, SCLIB_RUNS=str(tmp_path / "a"), OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert p.returncode == -9, p.stderr[-2000:]
    assert len(list((tmp_path / "a").glob("*/*.ckpt.pt"))) == 1 and not list((tmp_path / "a").glob("*/*.run.pt"))
    # the same run in a fresh process: resumed from the checkpoint, then an uninterrupted one
    code = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(ROOT)!r})
        from sclib import data, train
        set_epoch, trained = data.Batches.set_epoch, []
        def recording(self, epoch):
            trained.append(epoch) if self.shuffle else None
            set_epoch(self, epoch)
        data.Batches.set_epoch = recording
        h, m, _ = train.run(seed=3, return_model=True, **{dict(RUN, epochs=4)!r})
        print(trained)
        d = {{k: v for k, v in h.to_dict().items() if k not in ("seconds", "images_per_s")}}  # timings differ
        print(json.dumps(dict(h=d, w=[v.double().flatten().tolist() for v in m.state_dict().values()])))
    """)
    resumed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env=dict(env, SCLIB_RUNS=str(tmp_path / "b")))
    (r_epochs, r_out), (f_epochs, f_out) = resumed.stdout.splitlines(), fresh.stdout.splitlines()
    assert r_epochs == "[2, 3]" and f_epochs == "[0, 1, 2, 3]"   # it resumed after epoch 2
    assert r_out == f_out                                  # History (losses, accuracies, LRs) and weights
    assert not list((tmp_path / "a").glob("*/*.ckpt.pt"))  # the finished run replaced its checkpoint
