"""Tests for the CIFAR ResNet options: norm, Fixup init, zero-γ, Bag-of-Tricks variants."""
import pytest
import torch
from torch import nn

from sclib import models
from sclib.errors import ConfigError


# --- the CifarResNet as it was before the options were added (reference for "defaults unchanged")
def _old_conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class _OldBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class _OldResNet(nn.Module):
    def __init__(self, depth, num_classes, in_channels=3):
        super().__init__()
        n = (depth - 2) // 6
        self.stem = _old_conv_bn(in_channels, 16)
        blocks, c = [], 16
        for i, w in enumerate((16, 32, 64)):
            for j in range(n):
                blocks.append(_OldBlock(c, w, 2 if (i > 0 and j == 0) else 1))
                c = w
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


@pytest.mark.parametrize("kwargs", [{}, dict(norm="bn", init="standard", zero_gamma=False,
                                             variant="A")])
def test_defaults_unchanged(kwargs):
    torch.manual_seed(3)
    old = _OldResNet(20, 10)
    torch.manual_seed(3)
    new = models.create("resnet20", 10, **kwargs)
    assert list(old.state_dict()) == list(new.state_dict())
    for (k, a), b in zip(old.state_dict().items(), new.state_dict().values()):
        assert torch.equal(a, b), k
    x = torch.randn(4, 3, 32, 32)
    old.train(), new.train()
    assert torch.equal(old(x), new(x))
    old.eval(), new.eval()
    assert torch.equal(old(x), new(x))


def _identity_path(net, x):
    """Stem, then each block's shortcut only (no residual branch), then the pooled features."""
    h = net.stem(x)
    for b in net.blocks:
        h = torch.relu(b.identity(h))
    return h


@pytest.mark.parametrize("kw", [dict(norm="none", init="fixup"),
                                dict(norm="none", init="fixup", variant="D"),
                                dict(zero_gamma=True), dict(zero_gamma=True, variant="C")])
@pytest.mark.parametrize("name", ["resnet20", "resnet56"])
def test_branches_zero_and_net_is_identity_path(name, kw):
    torch.manual_seed(0)
    net = models.create(name, 10, **kw).train()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        h = net.stem(x)
        for b in net.blocks:
            f = b.branch(h)
            assert f.abs().max().item() == 0.0
            assert f.shape == b.identity(h).shape
            h = b(h)
        assert torch.allclose(net.blocks(net.stem(x)), _identity_path(net, x))
        out = net(x)
    if kw.get("init") == "fixup":
        assert torch.count_nonzero(out) == 0  # zero classifier
    else:
        assert out.abs().sum() > 0  # zero-γ keeps the classifier's random init


def test_fixup_parameters_and_scaling():
    torch.manual_seed(0)
    net = models.create("resnet110", 10, norm="none", init="fixup")
    L = len(net.blocks)
    assert L == 54
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    for b in net.blocks:
        assert b.scale.item() == 1.0
        assert all(getattr(b, n).bias.item() == 0.0 for n in ("bias1a", "bias1b", "bias2a", "bias2b"))
        assert b.conv1.bias is None and b.conv2.bias is None
    w = torch.cat([b.conv1.weight.flatten() for b in net.blocks if b.conv1.weight.shape[1] == 16
                   and b.conv1.weight.shape[0] == 16])
    expected = (2.0 / (16 * 9)) ** 0.5 * L ** -0.5
    assert abs(w.std().item() / expected - 1) < 0.05
    # standard (no-norm) init is He init: about sqrt(L) times larger
    torch.manual_seed(0)
    std = models.create("resnet110", 10, norm="none")
    w2 = torch.cat([b.conv1.weight.flatten() for b in std.blocks if b.conv1.weight.shape[1] == 16
                    and b.conv1.weight.shape[0] == 16])
    assert abs(w2.std().item() / (2.0 / (16 * 9)) ** 0.5 - 1) < 0.05
    assert all(b.conv1.bias is not None for b in std.blocks)


@pytest.mark.parametrize("variant", ["A", "B", "C", "D"])
@pytest.mark.parametrize("norm,init", [("bn", "standard"), ("none", "standard"), ("none", "fixup")])
@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 8, 8)])
def test_variant_shapes(variant, norm, init, shape):
    torch.manual_seed(0)
    net = models.create("resnet20", 7, in_channels=shape[0], norm=norm, init=init, variant=variant)
    x = torch.randn(2, *shape)
    h = net.stem(x)
    assert h.shape[1:] == (16, *shape[1:])
    sizes = []
    for b in net.blocks:
        h = b(h)
        sizes.append(tuple(h.shape[1:]))
    half = (shape[1] + 1) // 2
    quarter = (half + 1) // 2
    assert sizes[2] == (16, shape[1], shape[2]) and sizes[3] == (32, half, half)
    assert sizes[-1] == (64, quarter, quarter)
    assert net(x).shape == (2, 7)


def test_variant_structure():
    a = models.create("resnet20", 10)
    b = models.create("resnet20", 10, variant="B")
    c = models.create("resnet20", 10, variant="C")
    d = models.create("resnet20", 10, variant="D")
    assert [p.shape for p in a.parameters()] == [p.shape for p in b.parameters()]
    convs = [m for m in c.stem if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == [8, 8, 16] and all(m.stride == (1, 1) for m in convs)
    down = d.blocks[3].shortcut
    assert isinstance(down[0], nn.AvgPool2d) and down[1].stride == (1, 1)
    assert a.blocks[3].shortcut[0].stride == (2, 2)


@pytest.mark.parametrize("kwargs,match", [
    (dict(norm="ln"), "norm"), (dict(init="xavier"), "init"), (dict(variant="E"), "variant"),
    (dict(zero_gamma=1), "zero_gamma"), (dict(init="fixup"), "fixup"),
    (dict(norm="none", zero_gamma=True), "zero_gamma"), (dict(width=2), "width"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ConfigError, match=match) as e:
        models.create("resnet20", 10, **kwargs)
    assert "\n" not in str(e.value)


def test_options_only_for_cifar_resnets():
    with pytest.raises(ConfigError, match="norm.*simple"):
        models.create("simple", 10, norm="none")


def test_nonorm_standard_output_grows_with_depth():
    """Without normalization and with He init the output variance explodes with depth."""
    x = torch.randn(8, 3, 32, 32)
    scale = {}
    for name in ("resnet20", "resnet110"):
        torch.manual_seed(0)
        net = models.create(name, 10, norm="none")
        with torch.no_grad():
            scale[name] = net.blocks(net.stem(x)).std().item()
    assert scale["resnet110"] > 100 * scale["resnet20"]
