"""Data parallel: 2 real gloo workers × batch b == one process × batch 2b (sclib.distributed)."""
import math

import numpy as np
import pytest
import torch

from sclib import distributed, train
from sclib.errors import ConfigError


def test_two_gloo_workers_match_one_process_with_twice_the_batch():
    # digits subset of 250 = 5 global batches of 50: every rank gets exactly 25 (no short last
    # batch), 2 epochs = 10 SGD steps with momentum and weight decay. The net has no BatchNorm:
    # BN normalizes each worker's slice with the slice's own statistics, so with BN the two
    # setups compute different functions (Goyal et al. keep BN per worker on purpose).
    kw = dict(dataset="digits", n_train=250, epochs=2, lr=0.1, seed=3)
    out = distributed.equivalence(2, model="nobn", local_batch=25, **kw)
    assert out["world_size"] == 2 and out["ddp"].backend == "gloo"
    assert out["local_batch"] == 25                      # each worker really saw half the batch
    assert out["single"].config["local_batch"] == 50 and out["single"].config["world_size"] == 1
    assert out["steps"] == 10 == out["single"].updates
    assert out["max_abs_diff"] < 1e-5, out["max_abs_diff"]
    # the training had an effect, and the all-reduced losses are the global-batch losses
    assert out["max_abs_weight"] > 0
    np.testing.assert_allclose(out["ddp"].history.loss, out["single"].loss, rtol=1e-5, atol=1e-6)


def test_launch_reports_a_failing_worker():
    with pytest.raises(RuntimeError, match="failed with exit status"):
        distributed.launch("run", dict(dataset="digits", model="no_such_model", epochs=1,
                                       batch_size=8, lr=0.1), nproc=1, threads=1, timeout=300)
    with pytest.raises(ConfigError, match="job"):
        distributed.launch("nope", {}, nproc=1)


def test_noise_scale_formula_and_schedules():
    assert distributed.noise_scale(0.1, 100, 1000) == pytest.approx(0.1 * 9)
    assert distributed.noise_scale(0.1, 1000, 1000) == 0.0   # B = N: no noise
    n = 1000
    # decay LR by 5 at epoch 1 vs increase the batch by 5 at epoch 1: g falls by ~5 in both
    h_decay = train.History(config=dict(n_train=n, batch_size=10), epoch=[1, 2], batch_size=[10, 10],
                            lr=[0.5] * 100 + [0.1] * 100)
    h_batch = train.History(config=dict(n_train=n, batch_size=10), epoch=[1, 2], batch_size=[10, 50],
                            lr=[0.5] * 120)
    gd, gb = distributed.noise_along(h_decay), distributed.noise_along(h_batch)
    assert len(gb["g"]) == 120 and gb["update"][-1] == 120
    assert gd["g"][0] == pytest.approx(0.5 * 99) and gd["g"][-1] == pytest.approx(0.1 * 99)
    assert gb["g"][-1] == pytest.approx(0.5 * 19)
    assert gb["epoch"][100] == pytest.approx(1.0) and gb["epoch"][-1] == pytest.approx(1 + 19 / 20)
    assert list(distributed.batch_per_step(train.History(
        config=dict(n_train=25, batch_size=10), epoch=[1], batch_size=[10], lr=[0.1] * 3))) == [10, 10, 5]


def test_noise_scale_with_momentum_uses_the_effective_lr():
    h = train.History(config=dict(n_train=100, batch_size=10, momentum=0.9), epoch=[1], batch_size=[10],
                      lr=[0.1] * 10, momentum=[0.9] * 5 + [0.98] * 5)
    g = distributed.noise_along(h, momentum=True)["g"]
    assert g[0] == pytest.approx(0.1 / 0.1 * 9) and g[-1] == pytest.approx(0.1 / 0.02 * 9)
    assert distributed.noise_along(h)["g"][-1] == pytest.approx(0.1 * 9)


def test_throughput_times_every_epoch_after_the_first():
    rows = distributed.throughput((1,), per_worker_batch=16, threads_per_worker=1, epochs=3, dataset="digits",
                                  model="simple", n_train=64, n_test=32, lr=0.05)
    r = rows[0]
    assert r["workers"] == 1 and len(r["rates"]) == 1 and len(r["epoch_rates"][0]) == 2   # 1 round, 2 timed epochs
    assert r["rates"][0] == pytest.approx(2 / sum(1 / v for v in r["epoch_rates"][0]))   # images / seconds
    assert all(v > 0 for v in r["epoch_rates"][0])
    assert r["images_per_s"] == pytest.approx(np.mean(r["rates"])) and r["efficiency"] == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="epochs"):
        distributed.throughput((1,), per_worker_batch=16, epochs=1, dataset="digits", model="simple", lr=0.1)
    for bad in (0, 1.5):
        with pytest.raises(ConfigError, match="repeats"):
            distributed.throughput((1,), per_worker_batch=16, repeats=bad, dataset="digits", model="simple", lr=0.1)
    with pytest.raises(ConfigError, match="distinct"):
        distributed.throughput((1, 1), per_worker_batch=16, dataset="digits", model="simple", lr=0.1)


def test_throughput_interleaves_the_worker_counts_round_by_round(monkeypatch):
    """Each round launches every worker count in turn, in the order reversed from the round before
    (no count always goes first), and ``rates`` holds one rate per launch (images over seconds of
    its timed epochs), so the k-worker and 1-worker rates of a round are a pair: a slow spell of
    the machine hits both, not one count's whole series."""
    order = []

    def fake_launch(job, kwargs, nproc, *, threads=None):
        order.append(nproc)
        n = len(order)  # a machine that slows down launch by launch
        h = train.History(images_per_s=[1.0, 100.0 * nproc / n, 300.0 * nproc / n])
        return distributed.Result(history=h, world_size=nproc, threads_per_worker=threads, backend="gloo",
                                  wall_s=1.0, seconds_total=2.0)

    monkeypatch.setattr(distributed, "launch", fake_launch)
    rows = distributed.throughput((1, 2), per_worker_batch=8, repeats=3, epochs=3, dataset="digits")
    assert order == [1, 2, 2, 1, 1, 2]
    one, two = rows
    # launches 1, 4, 5 for one worker; 2, 3, 6 for two: epoch rates (100, 300)·k/n, harmonic mean 150·k/n
    assert one["epoch_rates"] == [[100.0, 300.0], [25.0, 75.0], [20.0, 60.0]]
    assert one["rates"] == pytest.approx([150.0, 37.5, 30.0])
    assert two["rates"] == pytest.approx([150.0, 100.0, 50.0])
    assert two["global_batch"] == 16 and two["launch_s"] == 2.0
    assert two["efficiency"] == pytest.approx(np.mean(two["rates"]) / 2 / np.mean(one["rates"]))


def test_warmups():
    g = distributed.warmup_overrides("gradual", lr=0.8, start_lr=0.1, warmup_epochs=1,
                                     base=dict(kind="step", milestones=[3]))
    assert g["schedule"] == dict(kind="step", milestones=[3], warmup_epochs=1, warmup_start_factor=0.125,
                                 warmup_mode="linear")
    assert distributed.warmup_overrides("gradual", lr=0.1, start_lr=0.1, warmup_epochs=1)["schedule"] == \
        dict(kind="constant")
    assert "warmup_epochs" not in distributed.warmup_overrides("none", lr=0.8, start_lr=0.1, warmup_epochs=1)["schedule"]
    with pytest.raises(ConfigError, match="warmup mode"):
        distributed.warmup_overrides("cosine", lr=0.8, start_lr=0.1, warmup_epochs=1)


def test_constant_and_gradual_warmup_lr_sequences():
    """Goyal et al.'s warmups as fit applies them: constant = start_lr for the warmup steps,
    then the full LR; gradual = linear from start_lr towards the full LR."""
    tr = train.load_batches("digits", batch_size=10, n_train=30, device="cpu")[0]  # 3 steps/epoch
    lrs = {}
    for mode in ("constant", "gradual"):
        o = distributed.warmup_overrides(mode, lr=0.8, start_lr=0.1, warmup_epochs=2)
        torch.manual_seed(0)
        h = train.fit(distributed.NoBNNet(10, 1, 4), tr, None, epochs=3, progress=False, **o)
        assert not math.isnan(h.loss[-1])
        lrs[mode] = h.lr
    assert lrs["constant"] == pytest.approx([0.1] * 6 + [0.8] * 3)
    assert lrs["gradual"][0] == pytest.approx(0.1) and lrs["gradual"][6:] == pytest.approx([0.8] * 3)
    assert all(a < b for a, b in zip(lrs["gradual"][:6], lrs["gradual"][1:7]))
