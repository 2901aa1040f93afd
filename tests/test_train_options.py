"""fit's options beyond plain SGD: mixup, distillation, a growing batch, channels_last."""
import pytest
import torch
import torch.nn.functional as F

from sclib import schedules, train
from sclib.errors import ConfigError

R = dict(dataset="digits", model="simple", epochs=2, batch_size=64, lr=0.05, progress=False, seed=0)


def test_mixup_changes_training_and_is_recorded():
    plain = train.run(**R)
    mixed = train.run(mixup_alpha=0.4, **R)
    assert mixed.config["mixup_alpha"] == 0.4 and "mixup_alpha" not in plain.config
    assert mixed.loss != plain.loss
    assert train.run(mixup_alpha=0.4, **R).loss == mixed.loss  # seeded: same numbers


def test_distill_loss_is_the_seeds_formula():
    torch.manual_seed(0)
    z, r, y, T = torch.randn(5, 4), torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 0]), 3.0
    p_t = torch.softmax(r / T, 1)
    by_hand = (-torch.log_softmax(z, 1)[range(5), y]).mean() \
        + T * T * (-(p_t * torch.log_softmax(z / T, 1)).sum(1)).mean()
    assert train.distill_loss(z, r, y, T).item() == pytest.approx(by_hand.item(), rel=1e-6)


def test_batch_schedule_grows_the_batch_and_steps_lr_per_epoch():
    h = train.run(**{**R, "epochs": 3}, batch_schedule={"milestones": [1, 2], "factor": 2},
                  schedule={"kind": "step", "milestones": [2], "gamma": 0.1})
    assert h.batch_size == [64, 128, 256]
    n = h.config["n_train"]
    steps = [-(-n // b) for b in (64, 128, 256)]
    assert h.updates == sum(steps) == len(h.loss)
    # the LR drops at the start of epoch 3 (0-based epoch 2), i.e. after the first two epochs' steps
    assert h.lr[: steps[0] + steps[1]] == [0.05] * (steps[0] + steps[1])
    assert h.lr[-1] == pytest.approx(0.005)


@pytest.mark.parametrize("bad", [{"milestones": [0]}, {"milestones": [2, 1]}, {"factor": 2},
                                 {"milestones": [1], "factor": 0.5}, {"milestones": [1], "factor": 100}])
def test_bad_batch_schedule_is_one_line_error(bad):
    with pytest.raises(ConfigError, match="batch_schedule"):
        train.run(**{**R, "epochs": 3}, batch_schedule=bad)


def test_channels_last_gives_the_same_numbers_on_cpu():
    a, b = train.run(**R), train.run(channels_last=True, **R)
    assert b.test_acc == pytest.approx(a.test_acc, abs=0.02)


def test_constant_warmup_holds_then_jumps():
    p = [torch.nn.Parameter(torch.zeros(1))]
    o = torch.optim.SGD(p, lr=1.0)
    sc = schedules.build({"kind": "constant", "warmup_epochs": 2, "warmup_mode": "constant",
                          "warmup_start_factor": 0.25}, o, 6, 1)
    lrs = []
    for _ in range(6):
        lrs.append(round(o.param_groups[0]["lr"], 6))
        o.step()
        sc.step()
    assert lrs == [0.25, 0.25, 1.0, 1.0, 1.0, 1.0]
    with pytest.raises(ConfigError, match="warmup_mode"):
        schedules.normalize({"kind": "constant", "warmup_mode": "cubic"})
