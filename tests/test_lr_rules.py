"""sclib.lr_rules: the extra range-test rules, the held-out split, the compared schedules, and
the choices with a tolerance."""
from collections import Counter

import numpy as np
import pytest
import torch

from sclib import data, lr_finder, lr_rules, schedules, train
from sclib.errors import ConfigError

SHAPE = dict(clr_min_fraction=0.25, sc_max_over_min=10, sc_min_momentum=0.85, annihilation=0.01)


def _images(x):
    return Counter(bytes(img.numpy().tobytes()) for img in x)


def test_subset_mask_is_the_draw_of_sclib_data_subset():
    x, y = data.load("digits", "train")
    for n in (100, 505, 1000):
        xs, ys = data.subset(x, y, n, seed=0)
        m = lr_rules.subset_mask(y, n, seed=0)
        assert int(m.sum()) == len(ys)
        assert _images(x[m]) == _images(xs) and Counter(y[m].tolist()) == Counter(ys.tolist())
    assert bool(lr_rules.subset_mask(y, None).all())


def test_holdout_is_drawn_from_outside_the_training_subset_and_class_balanced():
    x, y = data.load("digits", "train")
    xt, yt, xe, ye = lr_rules.split("digits", n_train=600, n_eval=300, eval="holdout")
    assert len(yt) == 600 and len(ye) == 300
    assert set(Counter(ye.tolist()).values()) == {30}
    # the training subset is sclib.data.subset's (first test); the held-out images come from the rest
    rest = _images(x[~lr_rules.subset_mask(y, 600)])
    assert all(rest[k] >= v for k, v in _images(xe).items())
    assert _images(xt) == _images(data.subset(x, y, 600, seed=0)[0])
    with pytest.raises(ConfigError, match="held-out"):
        lr_rules.split("digits", n_train=None, n_eval=10, eval="holdout")


def _curve():
    lrs = list(np.geomspace(1e-4, 1.0, 60))
    losses = [2.3 - 1.5 * np.exp(-((np.log10(l) + 1.5) ** 2)) for l in lrs]  # minimum at 10^-1.5
    rt = lr_finder.RangeTest(lrs=lrs, losses=losses)
    avg = 0.0
    for i, v in enumerate(losses):
        avg = 0.98 * avg + 0.02 * v
        rt.smoothed.append(avg / (1 - 0.98 ** (i + 1)))
    return rt


def test_extra_rules():
    rt = _curve()
    assert lr_rules.suggest(rt, "min_over_3") == pytest.approx(lr_rules.suggest(rt, "sclib") * 10 / 3)
    s = np.asarray(rt.smoothed)
    assert lr_rules.suggest(rt, "causal_min10") == pytest.approx(rt.lrs[int(np.argmin(s))] / 10)
    # the causal average lags: its minimum is right of the zero-phase one
    assert lr_rules.suggest(rt, "causal_min10") > lr_rules.suggest(rt, "sclib")
    assert set(lr_rules.suggest_all(rt)) == set(lr_rules.RULES) == set(lr_rules.LABELS)
    with pytest.raises(ConfigError):
        lr_rules.suggest(rt, "nope")


def _lrs_and_momenta(kind, lr0, epochs, spe=10):
    lr, spec = lr_rules.arm(kind, lr0, epochs, momentum=0.9, **SHAPE)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = train.make_optimizer("sgd", [p], lr, 0.9)
    sched = schedules.build(spec, opt, epochs * spe, spe)
    lrs, mom = [], []
    for _ in range(epochs * spe):
        lrs.append(opt.param_groups[0]["lr"])
        mom.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    return np.array(lrs), np.array(mom)


def test_the_compared_schedules_are_built_on_lr0():
    lr0 = 0.02
    c, _ = _lrs_and_momenta("constant", lr0, 4)
    assert np.allclose(c, lr0)
    s, _ = _lrs_and_momenta("step", lr0, 4)
    assert np.allclose(s[:20], lr0) and np.allclose(s[20:30], lr0 / 10) and np.allclose(s[30:], lr0 / 100)
    clr, m = _lrs_and_momenta("clr", lr0, 4)
    assert clr.min() == pytest.approx(lr0 / 4) and clr.max() == pytest.approx(lr0) and np.allclose(m, 0.9)
    oc, m = _lrs_and_momenta("onecycle", lr0, 4)
    assert oc[0] == pytest.approx(lr0) and oc.max() == pytest.approx(10 * lr0, rel=1e-3)
    assert oc[-1] == pytest.approx(lr0 / 100, rel=0.05)
    assert m.max() == pytest.approx(0.9) and m.min() == pytest.approx(0.85, abs=1e-3)
    # scaling LR₀ scales the whole schedule
    oc3, _ = _lrs_and_momenta("onecycle", 3 * lr0, 4)
    assert np.allclose(oc3, 3 * oc)
    with pytest.raises(ConfigError):
        lr_rules.arm("cosine", lr0, 4, momentum=0.9, **SHAPE)


def test_pick_multiplier_keeps_the_rule_within_the_tolerance():
    assert lr_rules.pick_multiplier({1 / 3: 0.80, 1.0: 0.802, 3.0: 0.806}, tol=0.005) == 1.0
    assert lr_rules.pick_multiplier({1 / 3: 0.80, 1.0: 0.80, 3.0: 0.806}, tol=0.005) == 3.0
    assert lr_rules.pick_multiplier({1 / 3: 0.82, 1.0: 0.80, 3.0: 0.81}, tol=0.005) == 1 / 3
    with pytest.raises(ConfigError):
        lr_rules.pick_multiplier({1 / 3: 0.8, 3.0: 0.9})


def test_rule_table_ties_go_to_the_more_robust_rule():
    acc = {"sclib": np.array([[0.80, 0.80], [0.60, 0.60]]),         # mean 0.700, worst shortfall 0.10
           "fastai_steep": np.array([[0.90, 0.90], [0.50, 0.50]]),  # mean 0.700, worst shortfall 0.20
           "fastai_valley": np.array([[0.70, 0.70], [0.70, 0.70]])}  # mean 0.700, worst shortfall 0.20
    chosen, summary = lr_rules.rule_table(acc, tol=0.005)
    assert chosen == "sclib"
    assert [s["rule"] for s in summary if s["chosen"]] == ["sclib"]
    acc["fastai_valley"] = acc["fastai_valley"] + 0.01  # now clearly best: no tie
    assert lr_rules.rule_table(acc, tol=0.005)[0] == "fastai_valley"
    with pytest.raises(ConfigError):
        lr_rules.rule_table({"sclib": np.zeros((2, 2)), "fastai_steep": np.zeros((2, 3))})


def test_run_on_the_test_set_is_train_run(monkeypatch):
    monkeypatch.setenv("SCLIB_RUNS", "off")
    kw = dict(epochs=2, lr=0.05, schedule="step", seed=1, batch_size=64, momentum=0.9, weight_decay=5e-4)
    h = lr_rules.run("digits", "simple", n_train=300, n_eval=100, **kw)
    ref = train.run(dataset="digits", model="simple", n_train=300, n_test=100, **kw)
    assert h.test_acc == ref.test_acc and h.loss == ref.loss and h.config == ref.config
    ho = lr_rules.run("digits", "simple", n_train=300, n_eval=100, eval="holdout", **kw)
    assert ho.loss == ref.loss and ho.config["eval"] == "holdout"  # same training, other judge


def test_validate_rules_shapes(monkeypatch):
    monkeypatch.setenv("SCLIB_RUNS", "off")
    st = lr_rules.validate_rules([["digits", "simple"]], [0, 1], epochs=1, batch_size=64, n_train=300,
                                 n_eval=100, num_iter=30, start_lr=1e-4, end_lr=10.0, momentum=0.9,
                                 weight_decay=5e-4, shape=SHAPE, progress=False)
    for r in lr_rules.RULES:
        assert st.acc[r].shape == (1, 2) and st.lr[r].shape == (1, 2)
        assert ((st.acc[r] >= 0) & (st.acc[r] <= 1)).all() and (st.lr[r] > 0).all()
        assert st.runs[r][(0, 1)].config["eval"] == "holdout"
    assert st.lr["min_over_3"] == pytest.approx(st.lr["sclib"] * 10 / 3)
