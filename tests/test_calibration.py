"""sclib.calibration: the one measurement of a trained classifier (accuracy, NLL, ECE, confidence,
logit norms and gaps) that the label-smoothing, mixup and Bag-of-Tricks chapters read."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sclib import calibration, data


class Fixed(torch.nn.Module):
    """A "network" whose logits are its inputs."""

    def forward(self, x):
        return x


def test_measure_is_the_definitions_on_known_logits():
    # one right with p=0.8, one wrong with p=0.6
    z = torch.log(torch.tensor([[0.8, 0.2], [0.4, 0.6]]))
    m = calibration.measure(Fixed(), [(z, torch.tensor([0, 0]))], n_bins=10)
    assert m["acc"] == pytest.approx(0.5) and m["num_classes"] == 2 and m["finite"]
    assert m["mean_conf"] == pytest.approx(0.7) and m["conf"] == pytest.approx([0.8, 0.6])
    assert m["nll"] == pytest.approx(-(math.log(0.8) + math.log(0.4)) / 2)
    assert m["ece"] == pytest.approx((abs(1 - 0.8) + abs(0 - 0.6)) / 2)
    assert m["logit_norm"] == pytest.approx(float(z.double().norm(dim=1).mean()))


def test_logit_gaps_are_max_minus_mean_of_the_rest():
    z = torch.tensor([[5.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    assert calibration.logit_gaps(z) == pytest.approx([4.5, 3.0])
    assert calibration.measure(Fixed(), [(z, torch.tensor([0, 2]))])["gaps"] == pytest.approx([4.5, 3.0])


def test_batches_of_any_size_give_the_same_measurements():
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 3).double()
    x, y = torch.randn(10, 4, dtype=torch.float64), torch.randint(0, 3, (10,))
    m = calibration.measure(net, [(x[:6], y[:6]), (x[6:], y[6:])], n_bins=5)
    with torch.no_grad():
        z = net(x)
    assert m["acc"] == pytest.approx(float((z.argmax(1) == y).double().mean()))
    assert m["conf"].shape == (10,) and m["nll"] == pytest.approx(float(F.cross_entropy(z, y)))


def test_a_training_batches_is_measured_in_order_and_unaugmented():
    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (50, 1, 8, 8), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 3, (50,), generator=g)
    tr = data.Batches(imgs, labels, 16, shuffle=True, flip=True, crop_pad=2, seed=0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
    calibration.CHUNK, chunk = 7, calibration.CHUNK  # several chunks
    try:
        z, y = calibration.logits(net, tr)
    finally:
        calibration.CHUNK = chunk
    with torch.no_grad():
        assert torch.equal(y, tr.y) and torch.allclose(z, net(tr.x).double())


def test_a_diverged_network_has_an_accuracy_and_nothing_else():
    z = torch.tensor([[1.0, float("nan")], [2.0, 0.0]])
    m = calibration.measure(Fixed(), [(z, torch.tensor([0, 0]))])
    assert not m["finite"] and m["acc"] == pytest.approx(0.5)
    assert all(math.isnan(m[k]) for k in ("nll", "ece", "mean_conf", "logit_norm"))
    assert np.isnan(m["conf"]).all() and np.isnan(m["gaps"]).all()


def test_the_network_is_measured_in_eval_mode_and_left_as_it_was():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3), torch.nn.Dropout(0.9))
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    z, _ = calibration.logits(net, [(x, y)])
    assert net.training  # restored
    with torch.no_grad():
        assert torch.allclose(z, net.eval()(x).double())  # dropout off while measuring
