"""sclib.superconv: 003's one-cycle schedule, its application through fit, the accuracy range
test and the budget bookkeeping."""
import math

import numpy as np
import pytest
import torch

from sclib import models, superconv, train
from sclib.errors import ConfigError


def test_pipeline_lrs_landmarks():
    lrs = superconv.pipeline_lrs(1.0, 100)
    assert len(lrs) == 100
    assert lrs[0] == pytest.approx(0.1)            # min = max / 10
    assert int(np.argmax(lrs)) == 50 and lrs[50] == pytest.approx(1.0)  # max at 50%
    assert lrs[90] == pytest.approx(0.1)           # back to min at 90%
    assert lrs[-1] == pytest.approx(0.001)         # annihilated to min / 100
    assert np.all(np.diff(lrs[:51]) > 0) and np.all(np.diff(lrs[50:]) < 0)


def test_pipeline_lrs_bad_input():
    with pytest.raises(ConfigError, match="max_lr"):
        superconv.pipeline_lrs(0.0, 10)
    with pytest.raises(ConfigError, match="tail"):
        superconv.pipeline_lrs(1.0, 10, peak=0.5, tail=0.6)


def test_fit_records_the_pipeline_schedule():
    h = superconv.run(dataset="digits", model="simple", epochs=2, batch_size=128, lr=0.2,
                      n_train=512, device="cpu")
    want = superconv.pipeline_lrs(0.2, 2 * 4)
    assert h.lr == [float(v) for v in want]                  # set exactly as computed
    assert h.momentum == [0.9] * 8
    assert h.config["schedule"] == {"kind": "pipeline"}      # the History says which schedule ran


def test_set_bn_momentum():
    net = models.create("resnet20", 10, 3)
    n = superconv.set_bn_momentum(net, 0.01)
    assert n > 0 and all(m.momentum == 0.01 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_accuracy_range_test_restores_model():
    tr, te = train.load_batches("digits", batch_size=64, device="cpu")
    train.seed_everything(0)
    net = models.create("simple", 10, 1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rt = superconv.accuracy_range_test(net, tr, te, end_lr=1.0, num_iter=30, n_evals=5)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert len(rt["acc"]) == 5 and len(rt["iter_lr"]) == 30
    np.testing.assert_allclose(rt["iter_lr"], np.linspace(0, 1.0, 30))
    assert rt["lr"] == sorted(rt["lr"]) and max(rt["acc"]) > 0.3


def test_plateau_lr():
    rt = dict(lr=[0.5, 1, 1.5, 2, 2.5, 3], acc=[0.5, 0.8, 0.78, 0.75, 0.6, 0.1])
    assert superconv.plateau_lr(rt, 0.9) == 2      # 0.75 >= 0.72, 0.6 < 0.72
    assert superconv.plateau_lr(rt, 0.99) == 1

