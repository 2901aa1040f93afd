import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sclib import metrics, papers, profiles
from sclib import smoothing as S
from sclib.errors import ConfigError

A_GRID = np.linspace(-4.0, 8.0, 49)
EPS_GRID = (0.0, 0.05, 0.1, 0.2, 0.5, 0.9)


@pytest.mark.parametrize("eps", EPS_GRID)
def test_closed_form_matches_torch_label_smoothing(eps):
    ours = S.loss_ls(A_GRID, eps)
    torch_values = S.torch_loss_on_grid(A_GRID, eps)
    np.testing.assert_allclose(ours, torch_values, rtol=0, atol=1e-12)


def test_plain_ce_closed_form_matches_torch():
    np.testing.assert_allclose(S.loss_ce(A_GRID), S.torch_loss_on_grid(A_GRID, 0.0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(S.loss_ls(A_GRID, 0.0), S.loss_ce(A_GRID), rtol=0, atol=1e-12)


@pytest.mark.parametrize("eps", [0.05, 0.1, 0.5])
def test_slide_expression_is_ce_against_unnormalised_target(eps):
    slide = S.loss_ls_slide(A_GRID, eps)
    # not torch's label smoothing ...
    assert np.abs(slide - S.torch_loss_on_grid(A_GRID, eps)).max() > 1e-3
    # ... but exactly CE against (1-ε, ε/3, ε/3), and short of ours by (ε/3)·L_CE
    np.testing.assert_allclose(slide, S.torch_loss_on_grid(A_GRID, eps, target="slide"), atol=1e-12)
    np.testing.assert_allclose(S.loss_ls(A_GRID, eps) - slide, eps / 3 * S.loss_ce(A_GRID), atol=1e-12)


def test_slide_formula_is_the_printed_one():
    # the paper value records the printed expression; check our function is that expression
    assert papers.value("label_smoothing.toy.lsce_formula").startswith("(1 - ε)·log(1 + 2e^{-2a})")
    a, eps = 0.7, 0.1
    printed = (1 - eps) * math.log(1 + 2 * math.exp(-2 * a)) + 2 * eps / 3 * math.log(2 + math.exp(2 * a))
    assert S.loss_ls_slide(a, eps) == pytest.approx(printed, abs=1e-14)


def test_optimum_closed_form_value_and_autograd():
    eps = papers.value("label_smoothing.toy.eps")
    assert S.a_star(eps) == pytest.approx(0.5 * math.log(28), abs=1e-14)
    assert S.optimum_autograd(eps) == pytest.approx(S.a_star(eps), abs=1e-7)
    assert S.a_star_slide(eps) == pytest.approx(0.5 * math.log(27), abs=1e-14)
    assert S.a_star(0.0) == math.inf
    assert S.loss_ls(S.a_star(eps), eps) == pytest.approx(S.min_loss(eps), abs=1e-12)


@pytest.mark.parametrize("K,eps", [(3, 0.1), (5, 0.2), (10, 0.05)])
def test_optimum_zero_gradient_for_any_K(K, eps):
    # generalised toy: logit 2a on the true class, 0 on the K-1 others
    a = torch.tensor(S.a_star(eps, K), dtype=torch.float64, requires_grad=True)
    z = torch.cat([2 * a.view(1), torch.zeros(K - 1, dtype=torch.float64)]).view(1, K)
    loss = F.cross_entropy(z, torch.tensor([0]), label_smoothing=eps)
    loss.backward()
    assert abs(a.grad.item()) < 1e-12
    assert loss.item() == pytest.approx(S.loss_ls(a.item(), eps, K), abs=1e-12)


def test_hand_gradient_matches_autograd():
    W = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    S.torch_loss(W, 0.1).backward()
    np.testing.assert_allclose(S.toy_gradient(W.detach().numpy(), 0.1), W.grad.numpy(), atol=1e-14)


def test_gradient_descent_on_full_W_finds_a_star_family():
    eps = 0.1
    run = S.gd_full_W(eps, steps=3000, lr=2.0, seed=1)
    W = torch.tensor(run.W, dtype=torch.float64)
    assert run.a_hat == pytest.approx(S.a_star(eps), abs=1e-6)
    assert S.residual_to_family(W, S.a_star(eps)) < 1e-6
    assert run.loss[-1] == pytest.approx(S.min_loss(eps), abs=1e-10)


def test_plain_ce_weights_keep_growing():
    run = S.gd_full_W(0.0, steps=2000, lr=2.0, seed=0)
    assert all(b > a for a, b in zip(run.norm[1:], run.norm[2:]))
    assert run.max_prob[-1] > 0.999 and run.loss[-1] < 1e-3


def test_compression_w_is_not_equivalent():
    a = S.a_star(0.1)
    c = S.compression_check(a)
    assert c["slide"]["correct"] and c["slide"]["loss"] == pytest.approx(c["slide"]["loss_ce_formula"], abs=1e-12)
    assert not c["compressed"]["correct"]
    assert c["compressed"]["loss"] > c["slide"]["loss"] + 0.1
    assert c["compressed"]["spread"] > 0.1  # predictions depend on alpha, beta


def test_ece_hand_cases():
    y = torch.tensor([0, 1, 0, 1])
    # confident and right: 0
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert metrics.expected_calibration_error(p, y) == 0.0
    # all at 0.8, half right: |0.5 - 0.8| = 0.3
    p = torch.tensor([[0.8, 0.2]] * 4)
    assert metrics.expected_calibration_error(p, y) == pytest.approx(0.3, abs=1e-6)
    # two bins of two: conf 0.6 (one right) -> |0.5-0.6|, conf 0.9 (both right) -> |1-0.9|;
    # ECE = 2/4·0.1 + 2/4·0.1 = 0.1; with one bin it is |0.75 - 0.75| = 0
    p = torch.tensor([[0.6, 0.4], [0.6, 0.4], [0.1, 0.9], [0.9, 0.1]])
    y = torch.tensor([0, 1, 1, 0])
    assert metrics.expected_calibration_error(p, y, n_bins=10) == pytest.approx(0.1, abs=1e-6)
    assert metrics.expected_calibration_error(p, y, n_bins=1) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ConfigError, match="n_bins"):
        metrics.expected_calibration_error(p, y, n_bins=0)
    with pytest.raises(ValueError, match="N×C"):
        metrics.expected_calibration_error(p[:, 0], y)



def test_bad_input_is_one_line_config_error():
    with pytest.raises(ConfigError, match="eps"):
        S.loss_ls(1.0, 1.5)
    with pytest.raises(ConfigError, match="which"):
        S.toy_W(1.0, "other")
    with pytest.raises(ConfigError, match="toy_eps"):
        profiles.resolve("label_smoothing", "smoke", toy_eps=0.0)
    with pytest.raises(ConfigError, match="ece_bins"):
        profiles.resolve("label_smoothing", "smoke", ece_bins=0)
    assert profiles.resolve("label_smoothing", "cpu").dataset == "fashion_mnist"


@pytest.mark.parametrize("K, eps", [(3, 0.1), (10, 0.1), (10, 0.2), (1000, 0.1)])
def test_gap_star_is_where_the_smoothed_loss_is_minimal(K, eps):
    # logits (g, 0, ..., 0): the LS loss over g is minimal at the closed-form gap
    g = torch.tensor(S.gap_star(eps, K), dtype=torch.float64, requires_grad=True)
    z = torch.cat([g.view(1), torch.zeros(K - 1, dtype=torch.float64)]).view(1, K)
    loss = F.cross_entropy(z, torch.tensor([0]), label_smoothing=eps)
    (grad,) = torch.autograd.grad(loss, g)
    assert abs(float(grad)) < 1e-12
    assert S.gap_star(0.0, K) == math.inf
    if K == 1000:  # Bag of Tricks' ImageNet: log(1 + 1000·0.9/0.1) ≈ 9.1
        assert S.gap_star(eps, K) == pytest.approx(math.log(9001))


