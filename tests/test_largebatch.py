"""The large-batch chapter's experiment code (sclib.largebatch): scoring, grids, Smith et al.'s schedules."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from sclib import distributed, experiments, largebatch, report, train
from sclib.errors import ConfigError


def _cfg(**kw):
    base = dict(dataset="digits", model="simple", n_train=160, n_test=None, epochs=2, batch_size=16, lr=0.05,
                momentum=0.9, weight_decay=5e-4, device="cpu", root=None, channels_last=False)
    base.update(kw)
    return SimpleNamespace(**base)


def test_fig5_schedules_start_at_the_same_noise_scale_and_respect_the_cap():
    s = largebatch.fig5_schedules(batch=32, lr=0.0125, momentum=0.9, factor=5, milestones=[5, 10],
                                  lr_ratio=0.5 / 0.1, momentum_to=0.98)
    assert list(s) == ["decay LR", "increasing batch", "increased initial LR", "increased momentum"]
    # g ≈ η·N/(B(1 − m)) at the start: the same for all four (N cancels)
    g0 = {lab: o["lr"] / (o["batch_size"] * (1 - o["momentum"])) for lab, o in s.items()}
    assert all(v == pytest.approx(g0["decay LR"]) for v in g0.values()), g0
    assert [o["batch_size"] for o in s.values()] == [32, 32, 160, 800]
    assert s["decay LR"]["schedule"] == dict(kind="step", milestones=[5, 10], gamma=0.2)
    assert s["increasing batch"]["batch_schedule"] == dict(milestones=[5, 10], factor=5)
    assert s["increasing batch"]["schedule"] == "constant"
    # the cap (32·5² = 800): the larger-LR arm grows once, then decays the LR; the momentum arm only decays
    assert s["increased initial LR"]["batch_schedule"] == dict(milestones=[5], factor=5)
    assert s["increased initial LR"]["schedule"]["milestones"] == [10]
    assert "batch_schedule" not in s["increased momentum"]
    assert s["increased momentum"]["schedule"]["milestones"] == [5, 10]
    assert s["increased momentum"]["momentum"] == 0.98
    with pytest.raises(ConfigError, match="above the cap"):
        largebatch.fig5_schedules(batch=32, lr=0.1, momentum=0.9, factor=5, milestones=[5, 10], lr_ratio=5,
                                  momentum_to=0.98, cap=400)


def test_grow_batch_decays_the_lr_past_the_cap():
    o = largebatch.grow_batch(batch=10, lr=0.1, factor=2, milestones=[1, 2, 3], cap=40)
    assert o["batch_schedule"] == dict(milestones=[1, 2], factor=2)
    assert o["schedule"] == dict(kind="step", milestones=[3], gamma=0.5)
    assert "momentum" not in o
    assert largebatch.grow_batch(batch=10, lr=0.1, factor=2, milestones=[1], cap=10)["schedule"]["milestones"] == [1]
    with pytest.raises(ConfigError):
        largebatch.grow_batch(batch=10, lr=0.1, factor=2, milestones=[1], cap=5)


def test_bracket_finds_interior_and_edge_optima():
    b = largebatch.bracket({0.1: [80, 81], 0.2: [84, 85], 0.4: [83, 83]})
    assert b["best"] == 0.2 and b["interior"] and b["edge"] is None
    b = largebatch.bracket({0.1: [80], 0.2: [82], 0.4: [85]})
    assert b["best"] == 0.4 and not b["interior"] and b["edge"] == "high"
    assert largebatch.bracket({0.1: [85], 0.2: [82], 0.4: [81]})["edge"] == "low"
    # a diverged run (nan) makes its LR the worst; a tie goes to the smaller LR
    assert largebatch.bracket({0.1: [80], 0.2: [82], 0.4: [math.nan]})["best"] == 0.2
    assert largebatch.bracket({0.1: [80], 0.2: [82], 0.4: [82]})["best"] == 0.2
    with pytest.raises(ConfigError, match="at least 3"):
        largebatch.bracket({0.1: [1], 0.2: [2]})


def test_stretch_scales_milestones_and_warmup():
    arm = dict(batch_size=64, **distributed.warmup_overrides(
        "gradual", lr=0.8, start_lr=0.1, warmup_epochs=1, base=largebatch.step_decay(5, [5, 10])))
    s = largebatch.stretch(arm, 2)
    assert s["schedule"]["milestones"] == [10, 20] and s["schedule"]["warmup_epochs"] == 2
    assert arm["schedule"]["milestones"] == [5, 10]  # the original is left alone
    g = largebatch.stretch(dict(batch_size=8, lr=0.1, batch_schedule=dict(milestones=[1, 2], factor=5)), 3)
    assert g["batch_schedule"]["milestones"] == [3, 6] and g["schedule"] == dict(kind="constant")


def test_train_arm_scores_every_test_image_once_and_pairs_seeds():
    cfg = _cfg()
    a = largebatch.train_arm(cfg, 0)
    assert a.history.test_acc == [] and 0 < a.test_acc <= 1 and a.n_test == len(train.load_batches("digits", batch_size=8, device="cpu")[1].y)  # every test image
    b = largebatch.train_arm(cfg, 0, lr=0.02)
    # the same seed: the same initial weights and data order, so the first step's loss is shared
    assert a.history.loss[0] == pytest.approx(b.history.loss[0])
    c = largebatch.train_arm(cfg, 0, curve=True)  # a curve: a test subset after every epoch; same training
    assert len(c.history.test_acc) == cfg.epochs and c.test_acc == pytest.approx(a.test_acc) and c.n_curve > 0
    assert a.n_curve == 0
    assert c.history.loss == pytest.approx(a.history.loss)
    d = largebatch.train_arm(cfg, 0, lr=1e6)
    assert d.history.diverged and math.isnan(d.test_acc)
    assert np.isnan(largebatch.accuracy([d])).all()
    with pytest.raises(ConfigError, match="unknown arm setting"):
        largebatch.train_arm(cfg, 0, label_smoothing=0.1)


def test_compare_returns_arms_in_seed_order_with_a_grown_batch():
    cfg = _cfg(epochs=3)
    s = largebatch.fig5_schedules(batch=8, lr=0.05, momentum=0.9, factor=2, milestones=[1, 2], lr_ratio=2,
                                  momentum_to=0.95)
    out = largebatch.compare(cfg, {k: s[k] for k in ("decay LR", "increasing batch")}, [0, 1], curve={"increasing batch"},
                             progress=False)
    assert [a.history.config["seed"] for a in out["decay LR"]] == [0, 1]
    h = out["increasing batch"][0].history
    assert h.batch_size == [8, 16, 32] and len(h.test_acc) == 3
    assert list(experiments.steps_per_epoch(h)) == [20, 10, 5] and h.updates == 35
    assert out["decay LR"][0].history.test_acc == []


def _arm(curve, sizes, n=100):
    h = train.History(config=dict(n_train=n, batch_size=sizes[0]), epoch=list(range(1, len(curve) + 1)),
                      batch_size=list(sizes), test_acc=list(curve), seconds=[1.0] * len(curve))
    h.lr = [0.1] * sum(-(-n // b) for b in sizes)
    return largebatch.Arm(h, curve[-1], 0.0, 100)


def test_time_to_target_in_updates_counts_updates_seed_by_seed():
    ref = [_arm([0.5, 0.7, 0.8], [10, 10, 10]), _arm([0.5, 0.6, 0.7], [10, 10, 10]),
           _arm([0.4, 0.7, 0.9], [10, 10, 10])]
    fast = [_arm([0.8, 0.8, 0.8], [10, 50, 50]), _arm([0.7, 0.7, 0.7], [10, 50, 50]),
            _arm([0.5, 0.9, 0.9], [10, 50, 50])]
    never = [_arm([0.1, 0.1, 0.1], [10, 10, 10])] * 3
    rows = {r["method"]: r for r in experiments.tta_rows("x", {"ref": ref, "fast": fast, "never": never}, "ref",
                                                        cost="updates")}
    assert rows["ref"]["updates_to_target"] == 30 and rows["ref"]["verdict"] == "—"
    assert rows["fast"]["updates_to_target"] == pytest.approx((10 + 10 + 12) / 3, abs=0.05)
    assert rows["fast"]["speedup_in_updates"] == pytest.approx(30 / ((10 + 10 + 12) / 3), abs=0.01)
    assert rows["fast"]["total_updates"] == 14
    assert report.label_of(rows["fast"]["verdict"]) == report.REPRODUCED
    assert rows["never"]["updates_to_target"] == "never" and rows["never"]["seeds_reaching"] == "0/3"
    assert report.label_of(rows["never"]["verdict"]) == report.CONTRADICTED


def test_tune_lr_scores_held_out_training_images_with_the_studys_tie_rule(monkeypatch):
    from sclib import lr_rules
    cfg = _cfg()
    held = largebatch.train_arm(cfg, 100, holdout=200)
    test = largebatch.train_arm(cfg, 100)
    assert held.n_test == 200 and test.n_test != 200  # the held-out images, not the test set
    assert held.history.loss == pytest.approx(test.history.loss)  # the same training run
    # the tuning rule: x1 is kept unless another multiplier is more than TOL better; an edge winner extends once
    fake = {1 / 3: 0.80, 1.0: 0.801, 3.0: 0.90, 9.0: 0.85}
    def fake_arm(cfg, seed, holdout, **arm):
        m = min(fake, key=lambda k: abs(k * 0.05 - arm["lr"]))  # the multiplier this LR was built from
        return largebatch.Arm(train.History(), fake[m], 0.0, holdout)

    monkeypatch.setattr(largebatch, "train_arm", fake_arm)
    t = largebatch.tune_lr(cfg, dict(lr=0.05, batch_size=16), holdout=200)
    assert t["reference"] == 0.05 and t["multiplier"] == 3.0 and t["lr"] == pytest.approx(0.15)
    assert sorted(t["scores"]) == [1 / 3, 1.0, 3.0, 9.0] and not t["at_edge"]  # 9 was tried, 3 is interior
    fake[3.0] = 0.801 + lr_rules.TOL / 2  # within the tolerance: the reference is kept
    assert largebatch.tune_lr(cfg, dict(lr=0.05, batch_size=16), holdout=200)["multiplier"] == 1.0
