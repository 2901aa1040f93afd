"""sclib.autotune: it picks a sensible one-cycle max LR (and valid WD / BN momentum) within its
budget on two datasets, its BatchNorm tracker is exact, and bad input fails in one line."""
from pathlib import Path

import pytest
import torch
from torch import nn

from sclib import autotune, models, train
from sclib.errors import ConfigError


@pytest.fixture(scope="module")
def digits():
    tr, _ = train.load_batches("digits", batch_size=64, device="cpu")
    return tr


def _check_sensible(r, budget, wd_grid, bn):
    # BatchNorm CNNs with SGD+momentum train at max LRs between ~0.01 and a few units;
    # 1e-5 (the start of the sweep) or 10 (its end) would mean the read-off failed.
    assert 3e-3 <= r.max_lr <= 5.0
    assert r.min_lr == pytest.approx(r.max_lr / 10)
    assert r.iters_used <= budget
    assert r.weight_decay in wd_grid and r.bn_momentum in bn
    assert len(r.wd_probes) == len(wd_grid) and len(r.bn_probes) == len(bn)
    assert all(p["max_lr"] == r.max_lr for p in r.wd_probes)
    assert max(p["val_acc"] for p in r.wd_probes) > 0.3  # the probes learned something (chance: 0.1)


def test_autotune_digits(digits):
    wd, bn = (0.0, 5e-4), (0.03, 0.1, 0.3)
    r = autotune.autotune("simple", digits, budget_iters=140, wd_grid=wd, bn_momenta=bn, seed=0)
    _check_sensible(r, 140, wd, bn)
    factors = (3, 1, 1 / 3, 1 / 10, 1 / 30, 1 / 100)
    assert r.max_lr / r.lr_at_min in [pytest.approx(f) for f in factors]
    assert 2 <= len(r.lr_probes) <= len(factors)
    # the LR walk stops at the first probe worse than the best one that learned
    accs = [p["val_acc"] for p in r.lr_probes]
    assert max(accs) == max(p["val_acc"] for p in r.lr_probes if p["max_lr"] == r.max_lr)
    assert set(r.chosen()) == {"max_lr", "min_lr", "weight_decay", "bn_momentum"}
    # the chosen WD is the probe with the best held-out accuracy
    best = max(r.wd_probes, key=lambda p: (p["val_acc"], -p["val_loss"]))
    assert r.weight_decay == best["weight_decay"]


def test_autotune_channels_last_keeps_its_budget(digits):
    """The memory format only changes how the convolutions run: same budget, valid choices."""
    wd, bn = (0.0, 5e-4), (0.1, 0.3)
    r = autotune.autotune("simple", digits, budget_iters=140, wd_grid=wd, bn_momenta=bn, seed=0,
                          channels_last=True)
    _check_sensible(r, 140, wd, bn)


def test_autotune_is_deterministic(digits):
    kw = dict(budget_iters=110, wd_grid=(0.0, 5e-4), bn_momenta=(0.1, 0.3), seed=1)
    a = autotune.autotune("simple", digits, **kw)
    b = autotune.autotune("simple", digits, **kw)
    assert a.chosen() == b.chosen()


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_autotune_fashion_mnist_subset():
    tr, _ = train.load_batches("fashion_mnist", batch_size=64, n_train=1200, n_test=100, device="cpu")
    wd, bn = (0.0, 5e-4), (0.03, 0.1, 0.3)
    r = autotune.autotune("simple", tr, budget_iters=160, wd_grid=wd, bn_momenta=bn, seed=0)
    _check_sensible(r, 160, wd, bn)


def test_bn_tracker_matches_batchnorm():
    """With the layer started from zeros, the tracker's raw average for momentum m is exactly
    what BatchNorm's own running statistics become with momentum m."""
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(3, momentum=0.3)
    bn.running_mean.zero_()
    bn.running_var.zero_()
    tr = autotune._BNTracker(bn, (0.3, 0.05))
    bn.train()
    for _ in range(5):
        bn(torch.randn(8, 3, 4, 4) * 2 + 1)
    m, v, t = tr.stats[id(bn)][0.3]
    assert t == 5
    torch.testing.assert_close(m, bn.running_mean)
    torch.testing.assert_close(v, bn.running_var)
    tr.load(0.05)  # bias-corrected: a constant input gives its own statistics back
    tr.remove()
    bn2 = nn.BatchNorm2d(1)
    tr2 = autotune._BNTracker(bn2, (0.01,))
    x = torch.full((4, 1, 2, 2), 3.0) + torch.arange(4.0).view(4, 1, 1, 1)
    for _ in range(3):
        bn2(x)
    tr2.load(0.01)
    torch.testing.assert_close(bn2.running_mean, x.mean((0, 2, 3)))
    torch.testing.assert_close(bn2.running_var, x.var((0, 2, 3), unbiased=True))


def test_bn_momentum_does_not_change_training():
    """The premise of the free BN-momentum probe: in train mode, momentum changes nothing but
    the running statistics."""
    tr, _ = train.load_batches("digits", batch_size=64, n_train=256, device="cpu")
    out = []
    for mo in (0.01, 0.5):
        train.seed_everything(0)
        net = models.create("simple", 10, 1)
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = mo
        train.fit(net, tr, None, epochs=1, lr=0.05, progress=False)
        out.append(net.head[-1].weight.detach().clone())
    torch.testing.assert_close(out[0], out[1])


@pytest.mark.parametrize("kw, word", [
    (dict(model_name="nonet"), "model"),
    (dict(budget_iters=30), "budget_iters"),
    (dict(budget_iters=0), "budget_iters"),
    (dict(wd_grid=()), "wd_grid"),
    (dict(wd_grid=(-1.0,)), "wd_grid"),
    (dict(bn_momenta=(1.0,)), "bn_momenta"),
    (dict(val_fraction=0.7), "val_fraction"),
    (dict(range_fraction=1.0), "range_fraction"),
    (dict(channels_last="yes"), "channels_last"),
])
def test_autotune_bad_input(digits, kw, word):
    args = dict(model_name="simple", train_batches=digits, budget_iters=120)
    args.update(kw)
    with pytest.raises(ConfigError, match=word):
        autotune.autotune(args.pop("model_name"), args.pop("train_batches"), **args)


def test_autotune_needs_batches():
    with pytest.raises(ConfigError, match="Batches"):
        autotune.autotune("simple", [(torch.zeros(1), torch.zeros(1))])
