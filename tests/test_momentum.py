"""The momentum time constant T = -1/ln(beta) (004, AdamW pages) against torch's buffers."""
import math

import numpy as np
import pytest
import torch

from sclib import momentum


@pytest.mark.parametrize("beta,approx", [(0.5, 1.44), (0.9, 9.49), (0.95, 19.5), (0.99, 99.5),
                                         (0.995, 199.5), (0.999, 999.5)])
def test_time_constant(beta, approx):
    T = momentum.time_constant(beta)
    assert T == pytest.approx(approx, abs=0.01)
    assert beta ** T == pytest.approx(1 / math.e)


@pytest.mark.parametrize("buf", momentum.BUFFERS)
@pytest.mark.parametrize("beta", [0.5, 0.9, 0.99])
def test_impulse_decays_geometrically(buf, beta):
    r = momentum.impulse_response(buf, beta, 30)
    assert np.allclose(r / r[0], beta ** np.arange(31), rtol=1e-9)


@pytest.mark.parametrize("buf", momentum.BUFFERS)
def test_steps_below_is_ceil_T(buf):
    for beta in momentum.BETAS:
        T = momentum.time_constant(beta)
        r = momentum.impulse_response(buf, beta, int(3 * T) + 2)
        assert momentum.steps_below(r) == math.ceil(T), beta


def test_steps_below_edges():
    assert momentum.steps_below([1.0, 0.5, 0.3]) == 2
    assert momentum.steps_below([1.0, 0.9]) == -1
    assert momentum.steps_below([2.0, 0.7]) == 1


def test_measured_table_rows():
    rows = momentum.measured_table((0.9, 0.99))
    assert [r["sgd_momentum"] for r in rows] == [10, 100]
    assert all(r["adam_exp_avg"] == r["adam_exp_avg_sq"] == r["sgd_momentum"] for r in rows)


def test_beta2_probe_tracks_with_small_beta2():
    # constant gradient scale: sqrt(v_hat) equals |g| whatever beta2 (bias correction)
    p = torch.nn.Parameter(torch.zeros(4))
    probe = momentum.Beta2Probe(0.999)
    opt = probe.optimizer([p], lr=1e-3, momentum=0.9, weight_decay=0.0)
    for _ in range(5):
        p.grad = torch.full_like(p, 2.0)
        opt.step()
        probe.on_step()
    assert np.allclose(probe.lag_ratio, 1.0)
    # gradient drops 10x: a long memory (0.999) keeps the old scale, a short one (0.5) forgets it
    ratios = {}
    for b2 in (0.5, 0.999):
        p = torch.nn.Parameter(torch.zeros(4))
        probe = momentum.Beta2Probe(b2)
        opt = probe.optimizer([p], lr=1e-3, momentum=0.9, weight_decay=0.0)
        for k in range(40):
            p.grad = torch.full_like(p, 1.0 if k < 20 else 0.1)
            opt.step()
            probe.on_step()
        ratios[b2] = probe.lag_ratio[-1]
    assert ratios[0.5] == pytest.approx(1.0, abs=1e-3)
    assert ratios[0.999] > 5


def test_beta2_run_probes_every_step_and_scores_the_test_set_once():
    h, probe, acc = momentum.beta2_run(dataset="digits", model="simple", n_train=60, n_test=40, batch_size=20,
                                       epochs=2, beta2=0.99, seed=0, augment=False, device="cpu", progress=False)
    assert len(probe.lag_ratio) == len(h.lr) == 2 * h.steps_per_epoch
    assert np.isfinite(probe.lag_ratio).all() and (probe.lag_ratio > 0).all()
    assert h.test_acc == [] and 0.0 <= acc <= 1.0
