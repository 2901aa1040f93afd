import math

import numpy as np
import pytest
import torch

from sclib import lr_finder, models, train
from sclib.lr_finder import RangeTest, suggest


@pytest.fixture(scope="module")
def batches():
    tr, _ = train.load_batches("digits", batch_size=64, seed=0)
    return tr


def test_range_test_leaves_model_and_optimizer_unchanged(batches):
    train.seed_everything(0)
    m = models.create("simple", 10, 1)
    before = {k: v.clone() for k, v in m.state_dict().items()}  # BN running stats included
    rt = lr_finder.range_test(m, batches, start_lr=1e-5, end_lr=10, num_iter=40)
    assert len(rt.lrs) > 10
    after = m.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_exponential_sweep_and_divergence_stop(batches):
    train.seed_everything(0)
    m = models.create("simple", 10, 1)
    rt = lr_finder.range_test(m, batches, start_lr=1e-4, end_lr=1e4, num_iter=80)
    ratios = np.diff(np.log(rt.lrs))
    assert np.allclose(ratios, math.log(1e8) / 79)           # geometric steps
    assert rt.stopped_early and len(rt.lrs) < 80               # 1e4 diverges


def synthetic(n=100):
    """A range-test-like curve: flat, steep descent, minimum at lr=1e-1, blow-up."""
    lrs = np.logspace(-5, 1, n)
    x = np.log10(lrs)
    loss = 2.3 - 1.8 / (1 + np.exp(-(x + 3) * 3)) + np.where(x > -1, (x + 1) ** 2 * 3, 0)
    return RangeTest(lrs=list(lrs), losses=list(loss), smoothed=list(loss))


def test_sclib_rule_is_minimum_over_ten():
    rt = synthetic()
    i = int(np.argmin(rt.smoothed))
    assert suggest(rt, "sclib") == pytest.approx(rt.lrs[i] / 10)


def test_steep_rules_find_the_steepest_descent():
    rt = synthetic()
    # the logistic drop is steepest at log10(lr) = -3
    for rule in ("fastai_steep", "torch_lr_finder"):
        assert abs(math.log10(suggest(rt, rule)) + 3) < 0.15, rule


def test_valley_is_inside_the_descent():
    rt = synthetic()
    v = suggest(rt, "fastai_valley")
    assert rt.lrs[10] < v < rt.lrs[int(np.argmin(rt.smoothed))]


def test_unknown_rule():
    with pytest.raises(ValueError, match="rule"):
        suggest(synthetic(), "median")
