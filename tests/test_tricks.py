"""sclib.tricks: the Bag-of-Tricks recipes, the measurements and the verdicts."""
import math
from types import SimpleNamespace

import pytest
import torch

from sclib import papers, profiles, report, tricks


def test_linear_scaling_and_milestones():
    assert tricks.linear_scaled_lr(0.1, 256) == pytest.approx(0.1)
    assert tricks.linear_scaled_lr(0.1, 1024) == pytest.approx(0.4)
    assert tricks.linear_scaled_lr(0.2, 128) == pytest.approx(0.1)
    assert tricks.step_milestones(8) == [4, 6]
    assert tricks.step_milestones(90) == [45, 68]
    assert all(0 < m < 4 for m in tricks.step_milestones(4))
    assert tricks.step_milestones(2) == [1]


def test_recipes_are_cumulative():
    cfg = profiles.resolve("bag_of_tricks", "cpu")
    teacher = torch.nn.Linear(2, 2)
    rows = tricks.recipes(cfg, teacher)
    labels = [r[0] for r in rows]
    assert labels == ["linear scaling", "+ LR warmup", "+ zero γ", "+ no bias decay", "+ cosine decay",
                      "+ label smoothing", "+ mixup", "+ distillation"]
    r = dict(rows)
    assert r["linear scaling"]["lr"] == pytest.approx(cfg.base_lr * cfg.batch_size / 256)
    assert "warmup_epochs" not in r["linear scaling"]["schedule"]
    assert r["+ LR warmup"]["schedule"]["warmup_epochs"] == cfg.warmup_epochs
    assert r["+ LR warmup"]["model_kwargs"] is None
    assert r["+ zero γ"]["model_kwargs"] == {"zero_gamma": True}
    assert r["+ zero γ"]["optimizer"] == "sgd"
    assert callable(r["+ no bias decay"]["optimizer"])
    assert r["+ no bias decay"]["schedule"]["kind"] == "step"
    assert r["+ cosine decay"]["schedule"]["kind"] == "cosine"
    assert r["+ cosine decay"]["schedule"]["warmup_epochs"] == cfg.warmup_epochs
    assert "label_smoothing" not in r["+ cosine decay"]
    assert r["+ label smoothing"]["label_smoothing"] == cfg.ls_eps
    assert r["+ mixup"]["mixup_alpha"] == cfg.mixup_alpha and r["+ mixup"]["label_smoothing"] == cfg.ls_eps
    assert r["+ distillation"]["teacher"] is teacher and r["+ distillation"]["mixup_alpha"] == cfg.mixup_alpha
    assert "teacher" not in r["+ mixup"]
    assert [x[0] for x in tricks.recipes(cfg)][-1] == "+ mixup"


def test_no_bias_decay_groups():
    cfg = profiles.resolve("bag_of_tricks", "cpu")
    from sclib import models
    net = models.create("resnet8", 10, zero_gamma=True)
    opt = dict(tricks.recipes(cfg))["+ no bias decay"]["optimizer"](net.parameters(), lr=0.1, momentum=0.9,
                                                                   weight_decay=5e-4)
    decay = [g for g in opt.param_groups if g["weight_decay"] > 0]
    none = [g for g in opt.param_groups if g["weight_decay"] == 0]
    assert all(p.ndim > 1 for g in decay for p in g["params"])
    assert all(p.ndim == 1 for g in none for p in g["params"]) and none


def test_measure_ece_and_nll():
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return x

    # two "images" whose logits are the inputs: one right with p=0.8, one wrong with p=0.6
    z = torch.log(torch.tensor([[0.8, 0.2], [0.4, 0.6]]))
    batches = [(z, torch.tensor([0, 0]))]
    m = tricks.measure(Fixed(), batches, n_bins=10)
    assert m["test_acc"] == pytest.approx(0.5)
    assert m["mean_conf"] == pytest.approx(0.7)
    assert m["test_nll"] == pytest.approx(-(math.log(0.8) + math.log(0.4)) / 2)
    assert m["ece"] == pytest.approx((abs(1 - 0.8) + abs(0 - 0.6)) / 2)


def test_paper_ablation_effects_are_the_tables_changes_as_fractions():
    t4, t6 = papers.value("bot.table4.bs256"), papers.value("bot.table6.resnet50d")
    p = tricks.paper_ablation(128)
    assert list(p) == [r[0] for r in tricks.recipes(profiles.resolve("bag_of_tricks", "cpu"), object())]
    assert math.isnan(p["linear scaling"]["effect"])
    assert p["+ LR warmup"]["effect"] == pytest.approx((t4["+ LR warmup"] - t4["linear scaling"]) / 100)
    assert p["+ no bias decay"]["effect"] == pytest.approx((t4["+ no bias decay"] - t4["+ zero γ"]) / 100)
    # the cosine row starts from Table 6's "efficient" row, mixup and distillation as our rows run them
    assert p["+ cosine decay"]["effect"] == pytest.approx((t6["+ cosine decay"] - t6["efficient"]) / 100)
    assert p["+ mixup"]["effect"] == pytest.approx((t6["+ mixup w/o distill"] - t6["+ label smoothing"]) / 100)
    assert p["+ distillation"]["effect"] == pytest.approx(
        (t6["+ distill w/ mixup"] - t6["+ mixup w/o distill"]) / 100)
    assert all(0 < abs(r["effect"]) < 0.01 for r in list(p.values())[1:])  # a few tenths of a point
    big = tricks.paper_ablation(1024)
    assert big["+ LR warmup"]["top1"] == papers.value("bot.table4.bs1024")["+ LR warmup"]
    assert "BS=1024" in big["+ LR warmup"]["table"] and "BS=256" in p["+ LR warmup"]["table"]
    t5 = papers.value("bot.table5")
    tw = tricks.paper_tweaks()
    assert tw["C"]["against"] == "A" and tw["C"]["effect"] == pytest.approx((t5["C"] - t5["B"]) / 100)
    assert tw["D"]["against"] == "C" and tw["D"]["effect"] == pytest.approx((t5["D"] - t5["C"]) / 100)


def test_paper_mixup_effects():
    P = papers.value
    pe = tricks.paper_mixup()
    assert pe["cifar10"] == pytest.approx(0.014)  # error 5.6% -> 4.2%
    m = "mixup.imagenet.resnet50."
    assert pe["budget"] == pytest.approx(((P(m + "erm_200") - P(m + "mixup02_200"))
                                          - (P(m + "erm_90") - P(m + "mixup02_90"))) / 100)
    assert pe["zeroinit_mixup"] == pytest.approx(0.033) and pe["zeroinit_gap"] == pytest.approx(-0.007)
    assert abs(pe["zeroinit_gap"]) < tricks.CLOSE_MARGIN  # the declared margin holds the paper's gap


BASE = [0.60, 0.62, 0.61, 0.63, 0.60]


@pytest.mark.parametrize("now,effect,label", [
    ([b + 0.05 + e for b, e in zip(BASE, [0, 1e-3, -1e-3, 2e-3, 0])], 0.04, report.REPRODUCED),
    ([b + 0.05 + e for b, e in zip(BASE, [0, 1e-3, -1e-3, 2e-3, 0])], -0.04, report.CONTRADICTED),
    ([b - 0.05 + e for b, e in zip(BASE, [0, 1e-3, -1e-3, 2e-3, 0])], -0.04, report.REPRODUCED),
])
def test_trick_verdict_tests_the_papers_direction(now, effect, label):
    v = tricks.trick_verdict(now, BASE, effect, chance=0.1)
    assert v.label == label and v.n == 5
    assert v.claim == ("greater" if effect > 0 else "less")


def test_trick_verdict_inconclusive_cases():
    noisy = [b + d for b, d in zip(BASE, [0.03, -0.02, 0.04, -0.01, 0.02])]
    v = tricks.trick_verdict(noisy, BASE, 0.0016)  # the paper's warmup effect: 0.16 points
    assert v.label == report.INCONCLUSIVE and "wider than the paper's effect" in v.note
    assert "seeds would resolve it" in v.note
    assert tricks.trick_verdict([0.5, 0.6], [0.4, 0.5], 0.01).note == "n < 3"
    at_chance = tricks.trick_verdict([0.5] * 3, [0.1, 0.11, 0.1], 0.01, chance=0.1)
    assert at_chance.label == report.INCONCLUSIVE and "did not train" in at_chance.note
    nan = tricks.trick_verdict([0.5, float("nan"), 0.5], [0.4] * 3, 0.01)
    assert nan.label == report.INCONCLUSIVE and "diverged" in nan.note



def test_tricks_has_no_verdict_helper():
    assert not hasattr(tricks, "delta_verdict")
