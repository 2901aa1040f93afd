"""The KTH procedure (002 §4.2-4.4): schedule rules, the LR reading, the choosers and their tie
rule, the probe's data, and the whole call and the paired runs on digits."""
import math

import numpy as np
import pytest
import torch

from sclib import data, kth, papers, schedules, train
from sclib.errors import ConfigError
from sclib.lr_finder import RangeTest


def curve(level, n=60, diverge_at=None):
    """A range-test-like curve: 2.3 falling to ``level`` and flat; blows up from ``diverge_at``."""
    lrs = np.logspace(-4, 0, n)
    loss = level + (2.3 - level) * np.exp(-np.arange(n) / 10.0)
    if diverge_at is not None:
        loss = loss[:diverge_at]
        lrs = lrs[:diverge_at]
    return RangeTest(lrs=list(lrs), losses=list(loss), smoothed=list(loss),
                     stopped_early=diverge_at is not None)


# ------------------------------------------------------------------ CLR (§4.3)
def test_clr_bounds_rule():
    s = kth.clr_spec(0.04, epochs=40)
    assert s["kind"] == "clr" and s["mode"] == "triangular"
    assert s["max_lr"] == pytest.approx(0.04)
    assert s["base_lr"] == pytest.approx(0.01)                    # 1/4 of the optimal constant LR
    assert 2 <= s["step_epochs"] <= 10
    assert (40 / (2 * s["step_epochs"])) == int(40 / (2 * s["step_epochs"]))  # whole cycles
    assert kth.clr_spec(0.03, 40, min_fraction=1 / 3)["base_lr"] == pytest.approx(0.01)
    with pytest.raises(ConfigError, match="min_fraction"):
        kth.clr_spec(0.03, 40, min_fraction=1.5)
    with pytest.raises(ConfigError, match="lr0"):
        kth.clr_spec(0.0, 40)


# ------------------------------------------------------------------ super-convergence (§4.4)
def _trace(spec, lr, momentum, total=200):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr, momentum=momentum)
    sched = schedules.build(spec, opt, total, 10)
    lrs, moms = [], []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    return np.array(lrs), np.array(moms)


def test_sc_spec_fields_and_shape():
    lr0 = 0.02
    s = kth.sc_spec(lr0, 0.9)
    assert s["kind"] == "onecycle" and s["three_phase"] is True
    assert s["max_lr"] == pytest.approx(10 * lr0) and s["div_factor"] == 10
    assert s["pct_start"] == 0.45
    assert (s["base_momentum"], s["max_momentum"]) == (0.85, 0.9)
    lrs, moms = _trace(s, lr0, 0.9)
    assert lrs[0] == pytest.approx(lr0)                            # min = optimal constant LR
    assert lrs.max() == pytest.approx(10 * lr0, rel=1e-3)          # max = 10x
    assert (lrs[-20:] < lr0).all()                                  # the last 10% below the start
    assert moms[0] == pytest.approx(0.9) and moms[-1] == pytest.approx(0.9, abs=1e-3)
    assert moms.min() == pytest.approx(0.85, abs=1e-3)
    assert moms[int(np.argmax(lrs))] == pytest.approx(0.85, abs=1e-3)  # inverted: low at the LR peak
    with pytest.raises(ConfigError):
        kth.sc_spec(lr0, momentum=0.8)                              # min momentum above max


def test_methods_share_the_tuned_values():
    t = kth.Tuned("simple", "digits", lr=0.05, momentum=0.9, weight_decay=1e-6)
    m = kth.methods(t, epochs=8)
    assert list(m) == ["constant", "CLR", "super-convergence"]
    for v in m.values():
        assert v["lr"] == 0.05 and v["weight_decay"] == 1e-6 and v["momentum"] == 0.9
        schedules.normalize(v["schedule"])


# ------------------------------------------------------------------ scoring and choosing
def test_curve_score_penalizes_divergence():
    full, stopped = curve(1.0), curve(1.0, diverge_at=30)
    assert kth.curve_score(stopped, planned=60) > kth.curve_score(full, planned=60)
    assert kth.curve_score(curve(0.5)) < kth.curve_score(curve(1.0))


def test_choose_picks_argmin_and_keeps_first_on_ties():
    best, scores, tied = kth.choose({"a": curve(1.0), "b": curve(0.4), "c": curve(0.7)})
    assert best == "b" and scores["b"] == min(scores.values()) and tied == ["b"]
    best, _, tied = kth.choose({"x": curve(0.5), "y": curve(0.5)})
    assert best == "x" and tied == ["x", "y"]
    with pytest.raises(ConfigError):
        kth.choose({})


def test_a_tie_keeps_the_default_and_a_clear_winner_beats_it():
    """Scores within TIE_TOL × the starting loss are a tie: the default (or the tied value
    nearest to it) is kept; a candidate better by more than the band wins over the default."""
    band = kth.TIE_TOL * 2.3
    near = {1e-2: curve(0.5), 1e-4: curve(0.5 - band / 4), 1e-6: curve(0.5 + band / 4)}
    best, scores, tied = kth.choose(near, prefer=1e-6)
    assert min(scores, key=scores.get) == 1e-4          # the argmin alone would take 1e-4
    assert set(tied) == set(near) and best == 1e-6        # ... but it is a tie: the default stays
    best, _, _ = kth.choose({1e-2: curve(0.5), 1e-3: curve(0.5 + band / 8)}, prefer=1e-6)
    assert best == 1e-3                                    # default not a candidate: the nearest tied
    clear = {0.85: curve(0.3), 0.9: curve(0.3 + 3 * band)}
    best, _, tied = kth.choose(clear, prefer=0.9)
    assert best == 0.85 and tied == [0.85]


def test_momentum_and_weight_decay_ties_keep_the_reports_defaults():
    def flat(start_lr, end_lr, iters, momentum, weight_decay):
        return curve(0.5, n=iters)                          # every curve the same: all tie
    m = kth.momentum_step(flat, 0.01, iters=40)
    assert m.value == kth.DEFAULT_MOMENTUM == papers.value("kth.momentum.selected")
    assert set(m.tied) == set(kth.MOMENTA) and "tie" in m.note
    coarse, fine = kth.weight_decay_steps(flat, 0.01, 0.9, iters=40)
    assert coarse.value == fine.value == kth.DEFAULT_WD == papers.value("kth.wd.fine_best")


def test_the_reports_lr_reading():
    """§4.2.1: divergence (the loss minimum) around 10^-2, the LR chosen at 10^-2.12: 0.12 decades
    to the left of the minimum; the sclib rule is the minimum ÷ 10."""
    assert kth.backoff_decades() == pytest.approx(0.12)
    lrs = np.logspace(-5, 1, 120)
    x = np.log10(lrs)
    loss = 2.3 - 1.5 * np.exp(-((x + 1.5) ** 2) / 0.5)      # minimum at LR 10^-1.5, rising after
    rt = RangeTest(lrs=list(lrs), losses=list(loss), smoothed=list(loss))
    assert kth.lr_at_minimum(rt) == pytest.approx(10 ** -1.5, rel=0.15)
    assert kth.read_lr(rt) == pytest.approx(kth.lr_at_minimum(rt) * 10 ** -0.12)
    assert kth.read_lr(rt, "sclib") == pytest.approx(kth.lr_at_minimum(rt) / 10)
    assert kth.loss_drop(rt) > kth.MIN_DROP
    flat = RangeTest(lrs=list(lrs), losses=[2.3] * 120, smoothed=[2.3] * 120)
    assert kth.loss_drop(flat) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ConfigError):
        kth.read_lr(rt, "by eye")


def synthetic_wd_probe(best_wd):
    """A probe whose loss level is lowest at ``best_wd`` (in log space): a synthetic WD curve."""
    calls = []

    def probe(start_lr, end_lr, iters, momentum, weight_decay):
        calls.append(weight_decay)
        level = 0.3 + 0.1 * abs(math.log10(weight_decay) - math.log10(best_wd))
        return curve(level, n=iters)
    return probe, calls


def test_weight_decay_search_picks_argmin_of_synthetic_curve():
    probe, calls = synthetic_wd_probe(3e-6)
    coarse, fine = kth.weight_decay_steps(probe, 0.01, 0.9, iters=40)
    assert coarse.value == 1e-6                            # 1e-6 and 1e-5 tie around 3e-6: the default
    assert set(coarse.tied) == {1e-6, 1e-5}
    assert fine.value == pytest.approx(3e-6)               # the fine grid finds it, clear of the band
    assert set(coarse.curves) == set(kth.WD_COARSE)
    assert fine.value == min(fine.scores, key=fine.scores.get)
    assert len(calls) == len(kth.WD_COARSE) + 2            # ×1 is reused from the coarse search
    assert coarse.iterations == 40 * len(kth.WD_COARSE) and fine.iterations == 80


def test_momentum_step_picks_lowest_and_not_diverging():
    def probe(start_lr, end_lr, iters, momentum, weight_decay):
        assert start_lr == pytest.approx(0.001) and end_lr == pytest.approx(0.3)
        if momentum == 0.99:
            return curve(0.1, n=iters, diverge_at=15)      # lowest early, then diverges
        return curve({0.85: 0.6, 0.9: 0.4, 0.95: 0.5}[momentum], n=iters)
    s = kth.momentum_step(probe, 0.01, iters=60, span=(0.1, 30.0))
    assert s.value == 0.9 and set(s.scores) == set(kth.MOMENTA)


def test_no_verdict_noise_helpers():
    assert not hasattr(kth, "diff_noise")  # verdicts are report.verdict's, on per-seed values



# ------------------------------------------------------------------ the whole procedure on digits
def test_tune_on_digits_end_to_end():
    p = kth.Prober("simple", "digits", batch_size=64, seed=0, device="cpu")
    before = {k: v.clone() for k, v in p.model.state_dict().items()}
    t = kth.tune(p, range_iters=40, probe_iters=10, coarse=(1e-2, 1e-4, 1e-6), momenta=(0.85, 0.9, 0.99))
    assert 1e-4 < t.lr < 1.0
    info = t.steps["lr"].info
    assert t.lr == pytest.approx(info["lr_at_min"] * 10 ** -kth.backoff_decades())
    assert info["informative"] and 0 < info["drop"] < 1
    assert t.momentum in (0.85, 0.9, 0.99)
    cw = t.steps["weight_decay_coarse"].value
    assert t.weight_decay in [cw * f for f in kth.WD_FINE_FACTORS]
    assert set(t.steps) == {"lr", "momentum", "weight_decay_coarse", "weight_decay"}
    assert t.iterations == p.iterations <= 40 + 3 * 10 + 3 * 10 + 2 * 10   # the budget
    assert p.images == p.iterations * 64 and t.images_per_s > 0
    assert all(torch.equal(before[k], v) for k, v in p.model.state_dict().items())  # model restored
    # the same call gives the same numbers (same init, same batches)
    p2 = kth.Prober("simple", "digits", batch_size=64, seed=0, device="cpu")
    t2 = kth.tune(p2, range_iters=40, probe_iters=10, coarse=(1e-2, 1e-4, 1e-6), momenta=(0.85, 0.9, 0.99))
    assert t2.row() == t.row()
    # the comparison repeated from another seed: same window, other weights and batches
    p3 = kth.Prober("simple", "digits", batch_size=64, seed=1, device="cpu")
    sc = kth.probe_scores(p3, t.lr, {0.9: (0.9, 1e-6), "wd": (0.9, 1e-7)}, iters=10)
    assert set(sc) == {0.9, "wd"} and all(math.isfinite(v) for v in sc.values())
    assert p3.iterations == 20


def test_prober_keeps_a_test_image_per_class(monkeypatch):
    """Tiny ImageNet has 200 classes: a class-balanced test subset of 100 images would be empty
    (n // classes = 0 per class). The prober asks for at least one image per class."""
    asked = {}
    real = train.load_batches

    def spy(dataset, **kw):
        asked["n_test"] = kw["n_test"]
        return real("digits", **kw)

    monkeypatch.setattr(data, "chance", lambda name, root=None: 1 / 200)
    monkeypatch.setattr(train, "load_batches", spy)
    kth.Prober("simple", "tinyimagenet", batch_size=32, seed=0, device="cpu")
    assert asked["n_test"] >= 200


def test_train_runs_pair_the_schedules_by_seed():
    """Seed s of every schedule starts from the same weights and sees the same data order."""
    t = kth.Tuned("simple", "digits", lr=0.05, momentum=0.9, weight_decay=1e-6)
    m = kth.methods(t, epochs=1)
    runs = kth.train_runs("simple", "digits", {"a": m["constant"], "b": m["constant"], "sc": m["super-convergence"]},
                          seeds=2, epochs=1, batch_size=64, n_train=320, device="cpu")
    assert [len(v) for v in runs.values()] == [2, 2, 2]
    a, b = runs["a"], runs["b"]
    assert a[0].loss == b[0].loss and a[1].loss == b[1].loss        # same seed, same run
    assert a[0].loss != a[1].loss                                     # another seed, another run
    assert runs["sc"][0].loss[0] == a[0].loss[0]                      # same weights and first batch
    assert a[0].config["n_train"] == 320 and a[0].config["seed"] == 0


def test_throughput_is_a_positive_rate():
    assert kth.throughput("simple", "digits", batch_size=16, steps=1, device="cpu") > 0


def test_study_on_digits_without_probes():
    st = kth.study("simple", "digits", n_train=None, n_test=None, epochs=2, batch_size=64, seeds=1,
                   range_iters=30, probe_iters=None, probe_batch_size=64, device="cpu",
                   default_momentum=0.9, default_wd=1e-5)
    assert (st.tuned.momentum, st.tuned.weight_decay) == (0.9, 1e-5)
    assert st.tuned.steps["momentum"].curves == {}           # not probed: stated, not faked
    assert set(st.runs) == {"constant", "CLR", "super-convergence"}
    sc = st.runs["super-convergence"][0]
    assert max(sc.lr) == pytest.approx(10 * st.tuned.lr, rel=0.05)  # sampled per iteration
    assert all(len(h.test_acc) == 2 for hs in st.runs.values() for h in hs)
