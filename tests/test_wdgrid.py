"""sclib.wdgrid: the validation split, one grid cell, the best-w-per-column estimate, the slope per
seed and its bootstrap over seeds, and the plain-SGD equivalence check of the weight-decay chapter."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sclib import data, train, wdgrid
from sclib.errors import ConfigError


def surface(coupled: bool, n=3, seeds=1, noise=0.0, rng=0):
    """err[seed, wd, lr] of a valley whose best log w is −log α − 4 (coupled) or −3 (separable)."""
    lrs, wds = wdgrid.log_grid(0.1, 1, n), wdgrid.log_grid(1e-3, 2, 5)  # valleys fall on rows
    L, W = np.meshgrid(np.log10(lrs), np.log10(wds))
    valley = (-L - 4) if coupled else np.full_like(L, -3.0)
    err = 0.1 + 0.05 * (W - valley) ** 2 + 0.02 * (L + 1) ** 2
    r = np.random.default_rng(rng)
    e = np.stack([err + noise * r.standard_normal(err.shape) for _ in range(seeds)])
    return dict(method="x", lrs=lrs, wds=wds, seeds=list(range(seeds)), err=e)


def cliff(coupled: bool, n=3, seeds=1, noise=0.0, rng=0):
    """err[seed, wd, lr]: flat in w up to an edge at log w = −log α − 4 (coupled) or −3
    (separable), then rising linearly (the shape of short runs: too much decay hurts)."""
    lrs, wds = wdgrid.log_grid(0.1, 1, n), wdgrid.log_grid(1e-3, 2, 5)
    L, W = np.meshgrid(np.log10(lrs), np.log10(wds))
    edge = (-L - 4) if coupled else np.full_like(L, -3.0)
    err = 0.15 + 0.3 * np.maximum(0.0, W - edge) + 0.01 * (L + 1) ** 2
    r = np.random.default_rng(rng)
    e = np.stack([err + noise * r.standard_normal(err.shape) for _ in range(seeds)])
    return dict(method="x", lrs=lrs, wds=wds, seeds=list(range(seeds)), err=e)


# ---------------------------------------------------------------- tolerated decay of a column
def test_column_edge_interpolates_the_crossing():
    x = np.array([-4.0, -3.5, -3.0, -2.5, -2.0])
    assert wdgrid.column_edge([.15, .15, .15, .30, .45], x, 0.03) == pytest.approx((-2.9, False))
    assert wdgrid.column_edge([.30, .15, .20], [-1.0, 0.0, 1.0], 0.03) == pytest.approx((0.6, False))
    assert wdgrid.column_edge([.20, .15, .16, .17, .17], x, 0.03) == (-2.0, True)  # never 3 points worse
    assert wdgrid.column_edge([.20, .18, .10], [-1.0, 0.0, 1.0], 0.03) == (1.0, True)  # best on the top row


def test_edge_slope_is_minus_one_when_coupled_and_zero_when_separable():
    for coupled, want in ((True, -1.0), (False, 0.0)):
        g = cliff(coupled)
        assert wdgrid.slope(g["err"][0], g["lrs"], g["wds"], stat="edge") == pytest.approx(want)
        s = wdgrid.separability(g)
        assert s["edge_slope"] == pytest.approx(want) and s["edge_censored"] == 0
    with pytest.raises(ConfigError, match="stat"):
        wdgrid.slope(g["err"][0], g["lrs"], g["wds"], stat="mode")


def test_pair_bootstrap_of_the_edge_resolves_a_coupled_against_a_separable_grid():
    c, d = cliff(True, seeds=5, noise=0.004, rng=1), cliff(False, seeds=5, noise=0.004, rng=2)
    b = wdgrid.pair_bootstrap(c, d)  # stat="edge" by default
    assert b["coupled"] == pytest.approx(-1.0, abs=0.15) and b["decoupled"] == pytest.approx(0.0, abs=0.15)
    assert b["ci_gap"][0] > 0.5
    assert np.allclose(wdgrid.seed_slopes(c), -1.0, atol=0.3) and np.allclose(wdgrid.seed_slopes(d), 0.0, atol=0.3)


# ---------------------------------------------------------------- best w of a column
@pytest.mark.parametrize("c", [-0.4, -0.1, 0.0, 0.3, 0.49])
def test_column_best_is_the_vertex_of_a_parabola(c):
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    v, censored = wdgrid.column_best((x - c) ** 2 + 0.2, x)
    assert v == pytest.approx(c) and not censored


def test_column_best_at_an_edge_is_censored_and_ties_go_to_the_smaller_decay():
    x = np.array([-3.0, -2.0, -1.0])
    assert wdgrid.column_best([0.1, 0.2, 0.3], x) == (-3.0, True)
    assert wdgrid.column_best([0.3, 0.2, 0.1], x) == (-1.0, True)
    assert wdgrid.column_best([0.2, 0.1, 0.1], x) == pytest.approx((-1.5, False))  # flat right side: half a step
    assert wdgrid.column_best([0.2, 0.1, 0.2], x) == (-2.0, False)
    assert wdgrid.column_best([0.1, 0.1, 0.1], x) == (-3.0, True)


def test_column_best_stays_within_half_a_step_of_the_best_row():
    rng = np.random.default_rng(1)
    x = np.log10(wdgrid.log_grid(1e-3, 2, 5))
    for _ in range(200):
        y = rng.random(5)
        v, censored = wdgrid.column_best(y, x)
        i = int(np.argmin(y))
        assert abs(v - x[i]) <= 0.25 + 1e-12  # half of the 0.5-decade step
        assert censored == (i in (0, 4))


# ---------------------------------------------------------------- slopes
def test_slope_is_minus_one_when_coupled_and_zero_when_separable():
    assert wdgrid.slope(surface(True)["err"][0], *[surface(True)[k] for k in ("lrs", "wds")]) == pytest.approx(-1.0)
    g = surface(False)
    assert wdgrid.slope(g["err"][0], g["lrs"], g["wds"]) == pytest.approx(0.0)


def test_slope_leaves_out_columns_that_do_not_train():
    g = surface(True, n=4)
    err = g["err"][0].copy()
    err[:, 0] = 0.9  # the first LR column never trains: the slope uses the other three
    assert wdgrid.slope(err, g["lrs"], g["wds"]) == pytest.approx(-1.0)
    err[:, 1:3] = 0.9
    assert math.isnan(wdgrid.slope(err, g["lrs"], g["wds"]))


def test_separability_summary_of_a_seed_grid():
    s = wdgrid.separability(surface(True, seeds=3))
    assert s["slope"] == pytest.approx(-1.0) and s["censored"] == 0 and s["columns"] == 3
    assert s["span"] == pytest.approx(1.0)
    s = wdgrid.separability(surface(False, seeds=3))
    assert s["slope"] == pytest.approx(0.0) and s["interaction"] == pytest.approx(0.0, abs=1e-12)
    assert (s["best_i"], s["best_j"]) == (2, 1) and s["best_wd"] == pytest.approx(1e-3)


def test_best_cell_uses_the_seed_mean():
    g = surface(False, seeds=2)
    g["err"][0, 0, 0] = -5.0  # one seed's lucky cell
    g["err"][1, 0, 0] = 6.0   # cancelled by the other seed
    assert wdgrid.best_cell(g) == (2, 1)


def test_seed_slopes_are_per_seed_and_need_seed_grids():
    g = surface(True, seeds=4, noise=0.002)
    s = wdgrid.seed_slopes(g, stat="best")
    assert s.shape == (4,) and np.allclose(s, -1.0, atol=0.2)
    with pytest.raises(ConfigError, match="seed"):
        wdgrid.seed_slopes(dict(g, err=g["err"][0]))


def test_pair_bootstrap_is_deterministic_and_brackets_the_point():
    c, d = surface(True, seeds=5, noise=0.003, rng=1), surface(False, seeds=5, noise=0.003, rng=2)
    b1, b2 = wdgrid.pair_bootstrap(c, d, stat="best"), wdgrid.pair_bootstrap(c, d, stat="best")
    assert b1 == b2  # fixed RNG seed
    assert b1["ci_coupled"][0] <= b1["coupled"] <= b1["ci_coupled"][1]
    assert b1["ci_decoupled"][0] <= b1["decoupled"] <= b1["ci_decoupled"][1]
    assert b1["gap"] == pytest.approx(abs(b1["coupled"]) - abs(b1["decoupled"]))
    assert b1["ci_gap"][0] > 0.5  # a clear separability gap is resolved
    assert b1["distinct"] == math.comb(9, 5) and b1["n_boot"] == wdgrid.BOOT
    assert wdgrid.pair_bootstrap(c, d, seed=1, stat="best") != b1


def test_pair_bootstrap_of_identical_seeds_has_a_point_interval():
    c, d = surface(True, seeds=3), surface(False, seeds=3)
    b = wdgrid.pair_bootstrap(c, d, stat="best")
    assert b["ci_coupled"] == pytest.approx((b["coupled"],) * 2)
    assert b["ci_gap"] == pytest.approx((1.0, 1.0))


def test_pair_bootstrap_needs_grids_on_the_same_seeds():
    c, d = surface(True, seeds=3), surface(False, seeds=2)
    with pytest.raises(ConfigError, match="same seeds"):
        wdgrid.pair_bootstrap(c, d)
    with pytest.raises(ConfigError, match="n_boot"):
        wdgrid.pair_bootstrap(c, surface(False, seeds=3), n_boot=10)


# ---------------------------------------------------------------- data and one cell
def test_split_is_class_balanced_fixed_and_uses_load_batches_training_images():
    xtr, ytr, xva, yva, xte, yte = wdgrid.split("digits", 500, 300)
    assert len(ytr) == 500 and len(yva) == 300
    assert torch.bincount(ytr).tolist() == [50] * 10 and torch.bincount(yva).tolist() == [30] * 10
    again = wdgrid.split.__wrapped__("digits", 500, 300)
    assert torch.equal(again[0], xtr) and torch.equal(again[3], yva)
    tb, te = train.load_batches("digits", batch_size=32, n_train=500, augment=False)
    assert torch.equal(tb.labels, ytr) and torch.equal(tb.images, xtr)  # the same training images
    assert torch.equal(te.labels, yte)  # n_test=None: the whole test split


def test_split_train_and_validation_are_disjoint(monkeypatch):
    n = 400  # every "image" is its own index: overlaps are exact
    ys = torch.arange(n) % 10
    monkeypatch.setattr(wdgrid.D, "load", lambda name, split, root=None: (torch.arange(n).view(n, 1, 1, 1), ys))
    xtr, ytr, xva, yva, _, _ = wdgrid.split.__wrapped__("fake", 200, 100)
    assert len(set(xtr.flatten().tolist()) & set(xva.flatten().tolist())) == 0
    assert torch.equal(ys[xtr.flatten()], ytr) and torch.equal(ys[xva.flatten()], yva)
    _, _, xva2, _, _, _ = wdgrid.split.__wrapped__("fake", 200, 1000)  # more than is left: the rest
    assert len(xva2) == 200


def test_split_rejects_an_empty_validation_split():
    with pytest.raises(ConfigError, match="n_val"):
        wdgrid.split.__wrapped__("digits", 5000, 100)  # all training images go to training
    with pytest.raises(ConfigError, match="n_val"):
        wdgrid.split.__wrapped__("digits", 500, 5)  # fewer than one per class


def job(**kw):
    j = dict(method="sgdw", dataset="digits", model="simple", n_train=200, n_val=100, n_test=None,
             augment=False, epochs=1, batch_size=32, lr=0.05, momentum=0.9, weight_decay=1e-3,
             schedule="cosine", seed=0, channels_last=False, device="cpu", root=None)
    j.update(kw)
    return j


def test_cell_trains_and_evaluates_only_the_splits_asked():
    r = wdgrid.cell(job(evaluate=("val",)))
    assert 0.1 < r["val_acc"] <= 1 and math.isnan(r["test_acc"]) and not r["diverged"]
    assert r["steps"] == 7 and r["num_classes"] == 10 and "lr" not in r
    r2 = wdgrid.cell(job(evaluate=("val", "test"), keep_lr=True))
    assert r2["val_acc"] == r["val_acc"]  # same run (from the run store), same weights
    assert 0 < r2["test_acc"] <= 1 and len(r2["lr"]) == 7 and r2["lr"][0] == 0.05


def test_a_diverged_cell_scores_chance():
    r = wdgrid.cell(job(method="sgd_l2", lr=1e6, evaluate=("val", "test")))
    assert r["diverged"] and r["val_acc"] == r["test_acc"] == pytest.approx(0.1)


def test_cell_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="unknown job keys"):
        wdgrid.cell(job(wd=1e-3))


def test_run_grids_shapes_and_seeds():
    cfg = SimpleNamespace(dataset="digits", model="simple", n_train=200, n_val=100, n_test=None, augment=False,
                          epochs=1, batch_size=32, momentum=0.9, channels_last=False, device="cpu", root=None)
    out = wdgrid.run_grids(cfg, {"W": ("sgdw", [0.01, 0.05], [1e-4, 1e-3, 1e-2])}, seeds=[0, 1], progress=False)
    g = out["W"]
    assert g["err"].shape == (2, 3, 2) and g["seeds"] == [0, 1] and g["k"] == 10
    assert ((g["err"] >= 0) & (g["err"] <= 0.9)).all()
    assert not np.array_equal(g["err"][0], g["err"][1])  # seeds differ
    assert g["err"][0, 0, 1] == pytest.approx(1 - wdgrid.cell(job(lr=0.05, weight_decay=1e-4))["val_acc"])


def test_run_grids_in_worker_processes_matches_one_process(tmp_path, monkeypatch):
    # the grid's workers are sclib.executors' processes: the same cells, in the same order
    monkeypatch.setenv("SCLIB_RUNS", str(tmp_path / "runs"))
    cfg = SimpleNamespace(dataset="digits", model="simple", n_train=120, n_val=60, n_test=None, augment=False,
                          epochs=1, batch_size=32, momentum=0.9, channels_last=False, device="cpu", root=None)
    grids = {"W": ("sgdw", [0.01, 0.05], [1e-4, 1e-2])}
    par = wdgrid.run_grids(cfg, grids, seeds=[0], workers=2, progress=False)["W"]["err"]
    monkeypatch.setenv("SCLIB_RUNS", str(tmp_path / "other"))  # retrained here, not read back
    one = wdgrid.run_grids(cfg, grids, seeds=[0], workers=1, progress=False)["W"]["err"]
    np.testing.assert_array_equal(par, one)
    with pytest.raises(ConfigError, match="workers"):
        wdgrid.sweep(wdgrid.cell, {}, [0], workers=0)


def test_sweep_gives_each_job_its_seed_and_returns_results_per_label_in_seed_order(monkeypatch):
    seen = []
    monkeypatch.setattr(wdgrid, "cell", lambda job: seen.append(job) or (job["lr"], job["seed"]))
    out = wdgrid.sweep(wdgrid.cell, {"a": dict(lr=1), "b": dict(lr=2, seed=9)}, [3, 4], progress=False)
    assert out == {"a": [(1, 3), (1, 4)], "b": [(2, 3), (2, 4)]}  # the sweep's seed replaces a job's own
    assert [j["seed"] for j in seen] == [3, 3, 4, 4]


# ---------------------------------------------------------------- plain SGD: L2 = weight decay
def test_plain_sgd_l2_equals_sgdw_and_momentum_breaks_it():
    assert wdgrid.plain_sgd_equivalence(momentum=0.0) < 1e-12
    assert wdgrid.plain_sgd_equivalence(momentum=0.9) > 1e-4
