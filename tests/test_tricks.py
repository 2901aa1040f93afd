"""sclib.tricks: the Bag-of-Tricks recipes, the measurements and the verdicts."""
import math
from types import SimpleNamespace

import pytest
import torch

from sclib import profiles, tricks


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


@pytest.mark.parametrize("prev,now,paper,verdict", [
    ([0.50, 0.51], [0.60, 0.61], +0.5, "reproduced (same direction)"),
    ([0.50, 0.51], [0.40, 0.41], +0.5, "contradicted at this scale"),
    ([0.50, 0.51], [0.40, 0.41], -0.3, "reproduced (same direction)"),
    ([0.50, 0.60], [0.52, 0.61], +0.5, "not significant at this scale"),
    ([0.5, 0.5], [float("nan"), 0.5], +0.5, "not measured (diverged)"),
])
def test_delta_verdict(prev, now, paper, verdict):
    assert tricks.delta_verdict(prev, now, paper) == verdict
