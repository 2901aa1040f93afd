"""Mixup as the seed defines it, and the seed's distillation loss (004: mixup, Bag of Tricks §4)."""
import math

import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from sclib import train


def _mix(alpha, n=16, k=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 4, 4, generator=g)
    y = torch.randint(0, k, (n,), generator=g)
    torch.manual_seed(seed)
    xm, ym = v2.MixUp(alpha=alpha, num_classes=k)(x, y)
    return x, y, xm, ym, k


@pytest.mark.parametrize("alpha", [0.2, 0.4, 1.0])
def test_mixup_matches_the_seed_definition(alpha):
    x, y, xm, ym, k = _mix(alpha)
    onehot = F.one_hot(y, k).float()
    j = torch.arange(len(y)).roll(1)  # partner of example i: i-1 of the (shuffled) batch
    # λ from the targets of an example whose partner has another label
    i = next(i for i in range(len(y)) if y[i] != y[j[i]])
    lam = ym[i, y[i]].item()
    assert 0.0 <= lam <= 1.0
    # x̃ = λ x_i + (1 − λ) x_j and ỹ = λ y_i + (1 − λ) y_j, one λ for the whole batch
    assert torch.allclose(xm, lam * x + (1 - lam) * x[j], atol=1e-6)
    assert torch.allclose(ym, lam * onehot + (1 - lam) * onehot[j], atol=1e-6)
    assert torch.allclose(ym.sum(1), torch.ones(len(y)))


def test_mixup_lambda_is_beta_distributed():
    lams = []
    for s in range(300):
        x, y, xm, ym, k = _mix(0.4, seed=s)
        j = torch.arange(len(y)).roll(1)
        i = next((i for i in range(len(y)) if y[i] != y[j[i]]), None)
        if i is not None:
            lams.append(ym[i, y[i]].item())
    m = sum(lams) / len(lams)
    v = sum((a - m) ** 2 for a in lams) / len(lams)
    a = 0.4  # Beta(α, α): mean 1/2, variance 1 / (4(2α + 1))
    assert abs(m - 0.5) < 0.05
    assert abs(v - 1 / (4 * (2 * a + 1))) < 0.02


def _hand_distill(z, r, y, T, k):
    """ℓ(p, softmax(z)) + T²·ℓ(softmax(r/T), softmax(z/T)), ℓ(q, s) = −Σ q log s, by hand."""
    p = F.one_hot(y, k).double() if y.ndim == 1 else y.double()
    z, r = z.double(), r.double()

    def softmax(a):
        e = torch.exp(a - a.max(1, keepdim=True).values)
        return e / e.sum(1, keepdim=True)

    def ce(q, s):
        return -(q * torch.log(s)).sum(1).mean()

    return ce(p, softmax(z)) + T ** 2 * ce(softmax(r / T), softmax(z / T))


@pytest.mark.parametrize("T", [1.0, 2.0, 4.0, 20.0])
def test_distill_loss_is_the_seeds_formula(T):
    g = torch.Generator().manual_seed(1)
    z, r = torch.randn(8, 6, generator=g, dtype=torch.float64) * 3, torch.randn(8, 6, generator=g, dtype=torch.float64) * 3
    y = torch.randint(0, 6, (8,), generator=g)
    got = train.distill_loss(z, r, y, T).item()
    assert math.isclose(got, _hand_distill(z, r, y, T, 6).item(), rel_tol=1e-9)
    # with soft (mixup) targets too
    soft = F.softmax(torch.randn(8, 6, generator=g, dtype=torch.float64), 1)
    got = train.distill_loss(z, r, soft, T).item()
    assert math.isclose(got, _hand_distill(z, r, soft, T, 6).item(), rel_tol=1e-9)


def test_distill_loss_gradient_and_teacher_agreement():
    # the soft term is minimal (its gradient vanishes) when the student's logits equal the teacher's
    g = torch.Generator().manual_seed(2)
    r = torch.randn(4, 5, generator=g, dtype=torch.float64)
    z = r.clone().requires_grad_(True)
    soft = train.distill_loss(z, r, F.softmax(r, 1), 3.0) - F.cross_entropy(z, F.softmax(r, 1))
    soft.backward()
    assert z.grad.abs().max() < 1e-12


def test_fit_mixup_uses_soft_targets_and_runs():
    from sclib import data as D, models

    g = torch.Generator().manual_seed(0)
    imgs = (torch.rand(64, 1, 8, 8, generator=g) * 255).to(torch.uint8)
    labels = torch.randint(0, 3, (64,), generator=g)
    tr = D.Batches(imgs, labels, 16, shuffle=True, seed=0)
    torch.manual_seed(0)
    net = models.create("simple", 3, 1)
    h = train.fit(net, tr, tr, epochs=1, lr=0.01, mixup_alpha=0.4, progress=False)
    assert h.config["mixup_alpha"] == 0.4 and len(h.loss) == 4
    assert all(math.isfinite(v) for v in h.loss)
