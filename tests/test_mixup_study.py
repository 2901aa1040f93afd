"""The runs of the mixup_fixup chapter (sclib.mixup_study): pairing by seed, the end-of-run
measurements, the early stop of a diverging run, the experiments' structure, the papers' effects."""
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from sclib import mixup_study as ms
from sclib import calibration, models, papers, train
from sclib.errors import ConfigError

RUN = dict(dataset="digits", model="resnet8", n_train=200, n_test=100, batch_size=32, lr=0.1,
           momentum=0.9, weight_decay=5e-4, schedule="cosine")


def _cfg(**over):
    cfg = dict(dataset="digits", model="resnet8", n_train=160, n_test=100, epochs=1, long_epochs=2,
               batch_size=32, seeds=2, lr=0.1, momentum=0.9, weight_decay=5e-4, ece_bins=10,
               mixup_alpha=1.0, alphas=[0.4], sweep_seeds=1, max_depth=20, depth_n_train=64,
               depth_batch_size=32, depth_seeds=1, fixup_runs=True, res_seeds=1, res_n_test=50,
               channels_last=False, root=None, device=None)
    cfg.update(over)
    return SimpleNamespace(**cfg)


def test_paper_effects_are_the_tables_differences():
    pe = ms.paper_effects()
    P = papers.value
    assert pe["cifar10"] == pytest.approx((P("mixup.cifar10.preact18.erm") - P("mixup.cifar10.preact18.mixup")) / 100)
    assert pe["cifar10"] == pytest.approx(0.014)          # 5.6% -> 4.2% error
    assert pe["budget"] == pytest.approx(0.013)           # (23.6 - 22.1) - (23.5 - 23.3) points
    assert pe["zeroinit_trails"] == pytest.approx(-0.04)  # 23.6% (BN) vs 27.6% (ZeroInit) error
    assert pe["zeroinit_mixup"] == pytest.approx(0.033)   # (27.6 - 24.0) - (23.6 - 23.3)
    assert pe["zeroinit_gap"] == pytest.approx(-0.007)    # 23.3% vs 24.0%


def test_depths_up_to_the_profiles_maximum():
    assert ms.depths(20) == [8, 20]
    assert ms.depths(110) == list(ms.DEPTHS) == [8, 20, 56, 110]


def test_batches_share_images_and_order_per_seed():
    a_tr, a_te = ms.batches("digits", n_train=200, n_test=100, batch_size=32, seed=3)
    b_tr, _ = ms.batches("digits", n_train=200, n_test=100, batch_size=32, seed=3)
    c_tr, _ = ms.batches("digits", n_train=200, n_test=100, batch_size=32, seed=4)
    assert torch.equal(a_tr.y, c_tr.y)  # the same fixed subset for every seed
    assert a_te.mean == a_tr.mean       # the test set is normalized with the training statistics
    (xa, ya), (xb, yb), (xc, yc) = (next(iter(b)) for b in (a_tr, b_tr, c_tr))
    assert torch.equal(xa, xb) and torch.equal(ya, yb)  # same seed: same order and augmentation
    assert not torch.equal(ya, yc)                      # another seed: another order


def test_erm_and_mixup_of_a_seed_start_from_the_same_weights(monkeypatch):
    seen = []
    real_fit = train.fit

    def spy(model, *args, **kw):
        seen.append([p.detach().clone() for p in model.parameters()])
        return real_fit(model, *args, **kw)

    monkeypatch.setattr(train, "fit", spy)
    erm = ms.train_measured(**RUN, epochs=1, seed=1)
    mix = ms.train_measured(**RUN, epochs=1, seed=1, mixup_alpha=1.0)
    assert all(torch.equal(p, q) for p, q in zip(*seen))
    assert mix.history.config["mixup_alpha"] == 1.0 and "mixup_alpha" not in erm.history.config


def test_a_run_is_repeatable_and_its_measurements_are_what_they_say():
    r1 = ms.train_measured(**RUN, epochs=2, seed=0)
    r2 = ms.train_measured(**RUN, epochs=2, seed=0)
    assert (r1.test_acc, r1.train_acc, r1.ece) == (r2.test_acc, r2.train_acc, r2.ece)
    assert not r1.diverged and r1.n_test == 100
    for v in (r1.test_acc, r1.train_acc, r1.ece, r1.mean_conf):
        assert 0.0 <= v <= 1.0
    assert r1.gap == pytest.approx(r1.train_acc - r1.test_acc)
    assert r1.seconds > 0 and len(r1.history.epoch) == 2
    # the measurements against a direct computation on a fixed network: the training set (shuffled,
    # augmented Batches) is measured clean and in order
    tr, te = ms.batches("digits", n_train=200, n_test=100, batch_size=32, seed=0)
    torch.manual_seed(0)
    net = models.create("resnet8", 10, 1).eval()
    with torch.no_grad():
        z, ztr = net(te.x), net(tr.x)
    m, clean = calibration.measure(net, te, n_bins=10), calibration.measure(net, tr)
    assert m["acc"] == pytest.approx(float((z.argmax(1) == te.y).float().mean()))
    assert clean["acc"] == pytest.approx(float((ztr.argmax(1) == tr.y).float().mean()))  # unaugmented
    assert m["nll"] == pytest.approx(float(F.cross_entropy(z, te.y)), rel=1e-5)
    assert m["mean_conf"] == pytest.approx(float(F.softmax(z, 1).max(1).values.mean()), rel=1e-5)


def test_stop_on_nan_ends_a_diverging_run_at_its_first_non_finite_loss():
    kw = dict(RUN, n_train=128, batch_size=32, lr=1000.0, schedule="constant", model_kwargs={"norm": "none"})
    r = ms.train_measured(**kw, epochs=2, seed=0, stop_on_nan=True)
    assert r.diverged and r.test_acc == 0.0 and r.train_acc == 0.0 and math.isnan(r.ece)
    losses = r.history.loss
    assert not math.isfinite(losses[-1]) and all(math.isfinite(x) for x in losses[:-1])
    assert len(losses) < 2 * 4  # stopped within the first epoch of 4 steps, not after 2 epochs


def test_a_run_whose_final_logits_are_not_finite_counts_as_diverged(monkeypatch):
    """Training ended, but the network's test or clean-training logits hold a nan or inf: no usable
    predictions, so the run is a diverged one (accuracies 0, NLL and calibration nan)."""
    real = calibration.measure
    for bad in ("test", "train"):
        def measure(net, batches, *a, **kw):
            m = real(net, batches, *a, **kw)
            is_train = batches.shuffle  # the training Batches is the shuffled one
            return dict(m, finite=False) if is_train == (bad == "train") else m

        monkeypatch.setattr(ms.calibration, "measure", measure)
        r = ms.train_measured(**RUN, epochs=1, seed=0)
        assert r.diverged and r.test_acc == 0.0 and r.train_acc == 0.0 and math.isnan(r.test_nll), bad


def test_the_experiments_are_paired_by_seed():
    cfg = _cfg()
    b = ms.budgets(cfg, progress=False)
    assert set(b) == {"short", "long"} and set(b["long"]) == {0.0, 1.0}
    assert [len(rs) for rs in b["long"].values()] == [cfg.seeds] * 2
    assert [r.history.config["seed"] for r in b["long"][1.0]] == list(range(cfg.seeds))
    assert len(b["short"][0.0][0].history.epoch) == cfg.epochs
    assert len(b["long"][0.0][0].history.epoch) == cfg.long_epochs
    sw = ms.alpha_sweep(cfg, progress=False)
    assert list(sw) == [0.4] and [r.history.config["seed"] for r in sw[0.4]] == [0]
    zi = ms.zeroinit_arms(cfg, progress=False)
    assert list(zi) == ["Fixup", "Fixup + mixup"]
    assert zi["Fixup"][0].history.config["model_kwargs"] == ms.FIXUP
    assert zi["Fixup + mixup"][0].history.config["mixup_alpha"] == cfg.mixup_alpha
    pl = ms.plateau_runs(cfg, progress=False)  # the plateau check: ERM's long recipe, twice the epochs
    assert [r.history.config["seed"] for r in pl] == list(range(cfg.seeds))
    assert len(pl[0].history.epoch) == 2 * cfg.long_epochs
    same = lambda h: {k: v for k, v in h.config.items() if k != "epochs"}
    assert same(pl[0].history) == same(b["long"][0.0][0].history)


def test_trainability_runs_one_epoch_per_depth_and_variant():
    cfg = _cfg()
    deep = ms.trainability(cfg, progress=False)
    assert set(deep) == {(d, v) for d in (8, 20) for v in ms.VARIANTS}
    for (d, v), rs in deep.items():
        assert len(rs) == cfg.depth_seeds
        h = rs[0].history
        assert h.config["model"] == f"resnet{d}" and h.epoch == [1]
        assert h.config["schedule"] == {"kind": "constant"} and h.config["n_train"] == 60
        assert rs[0].n_test == cfg.res_n_test


@pytest.mark.parametrize("name", ["sweep_seeds", "res_seeds"])
def test_runs_paired_with_missing_seeds_are_refused(name):
    cfg = _cfg(**{name: 3})
    fn = ms.alpha_sweep if name == "sweep_seeds" else ms.zeroinit_arms
    with pytest.raises(ConfigError, match=name):
        fn(cfg, progress=False)
