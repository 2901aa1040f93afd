"""Model registry: ``create(name, num_classes, in_channels)``.

The KTH report (002) names a "simple convolutional network" without describing it; ours is
three conv-BN-ReLU-pool blocks (32, 64, 128 channels) and a linear classifier, which is the
smallest net of that description. The other entries follow the standard definitions.
"""
from __future__ import annotations

import torch
from torch import nn

from .errors import ConfigError, check_choice, check_number


def _conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class SimpleCNN(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 3, widths=(32, 64, 128)):
        super().__init__()
        layers, c = [], in_channels
        for w in widths:
            layers += [_conv_bn(c, w), nn.MaxPool2d(2, ceil_mode=True)]
            c = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class VGG16BN(nn.Module):
    """VGG16 with BatchNorm for 32×32 inputs (one linear classifier, as in CIFAR ports)."""

    def __init__(self, num_classes: int, in_channels: int = 3):
        super().__init__()
        layers, c = [], in_channels
        for v in _VGG16:
            if v == "M":
                layers.append(nn.MaxPool2d(2, ceil_mode=True))  # ceil: 28×28 inputs work too
            else:
                layers.append(_conv_bn(c, v))
                c = v
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


class ScalarBias(nn.Module):
    """One learnable scalar added to the input (Fixup's bias; initialised to 0)."""

    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x + self.bias


def _norm(kind, c):
    return nn.BatchNorm2d(c) if kind == "bn" else nn.Identity()


class BasicBlock(nn.Module):
    """He et al.'s basic block, optionally without normalization and/or with Fixup parameters.

    ``norm="bn"`` (default): conv-BN-ReLU-conv-BN + shortcut, ReLU.  ``norm="none"``: the BNs
    become identities and the convs get a bias (standard init) or, with ``fixup=True``, the
    four scalar biases and the multiplier of Zhang et al. (2019) (``bias1a/1b/2a/2b``, ``scale``).
    ``avg_down=True`` (ResNet-D): the downsampling shortcut is 2×2 average pooling followed by a
    stride-1 1×1 conv instead of a stride-2 1×1 conv.
    """

    def __init__(self, cin, cout, stride, norm="bn", fixup=False, avg_down=False):
        super().__init__()
        conv_bias = norm == "none" and not fixup
        self.fixup = fixup
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=conv_bias)
        self.bn1 = _norm(norm, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=conv_bias)
        self.bn2 = _norm(norm, cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            if avg_down and stride != 1:
                self.shortcut = nn.Sequential(
                    nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False),
                    nn.Conv2d(cin, cout, 1, 1, bias=conv_bias), _norm(norm, cout))
            else:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=conv_bias),
                                              _norm(norm, cout))
        if fixup:
            self.bias1a, self.bias1b = ScalarBias(), ScalarBias()
            self.bias2a, self.bias2b = ScalarBias(), ScalarBias()
            self.scale = nn.Parameter(torch.ones(1))

    def branch(self, x):
        """The residual branch F(x) alone (zero at Fixup / zero-γ initialisation)."""
        if self.fixup:
            out = torch.relu(self.bias1b(self.conv1(self.bias1a(x))))
            return self.bias2b(self.conv2(self.bias2a(out)) * self.scale)
        out = torch.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out))

    def identity(self, x):
        """The shortcut path alone."""
        return self.shortcut(self.bias1a(x) if self.fixup else x)

    def forward(self, x):
        return torch.relu(self.branch(x) + self.identity(x))


NORMS = ("bn", "none")
INITS = ("standard", "fixup")
VARIANTS = ("A", "B", "C", "D")
RESNET_OPTIONS = ("norm", "init", "zero_gamma", "variant")


class CifarResNet(nn.Module):
    """He et al.'s CIFAR ResNet-(6n+2): three stages of 16, 32, 64 channels.

    Options (defaults give the original network, bit for bit):

    - ``norm``: ``"bn"`` or ``"none"`` (no normalization; convs get biases unless Fixup).
    - ``init``: ``"standard"`` (He init, fan_out) or ``"fixup"`` (only with ``norm="none"``):
      every residual branch's last conv and the classifier are zero, the branch's first conv is
      He-initialised and scaled by L^(-1/(2m-2)) = L^(-1/2) (L residual branches, m = 2 layers
      per branch), plus scalar biases (stem, each branch, before the classifier) and a
      multiplier per branch.
    - ``zero_gamma``: γ = 0 in each block's last BN (only with ``norm="bn"``).
    - ``variant``: Bag of Tricks (He et al. 2018, Fig. 2) tweaks adapted to the CIFAR net;
      cumulative as in the paper (B ⊂ C ⊂ D). ``"B"`` moves the stride from the 1×1 to the 3×3
      conv of the downsampling block's path A — the CIFAR basic block already strides in its
      first 3×3 conv, so B is the same network as A. ``"C"`` replaces the stem conv (3×3, 16)
      by three 3×3 convs of widths 8, 8, 16 (the paper's c/2, c/2, c, stride 1 at 32×32).
      ``"D"`` additionally downsamples the shortcut with 2×2 average pooling before a stride-1
      1×1 conv.
    """

    def __init__(self, depth: int, num_classes: int, in_channels: int = 3, norm: str = "bn",
                 init: str = "standard", zero_gamma: bool = False, variant: str = "A"):
        super().__init__()
        if (depth - 2) % 6:
            raise ConfigError(f"depth must be 6n+2, got {depth}")
        check_choice("norm", norm, NORMS)
        check_choice("init", init, INITS)
        check_choice("variant", variant, VARIANTS)
        if not isinstance(zero_gamma, bool):
            raise ConfigError(f"zero_gamma must be one of: True, False (got {zero_gamma!r})")
        if init == "fixup" and norm != "none":
            raise ConfigError(f"init='fixup' needs norm='none' (allowed with norm={norm!r}: standard)")
        if zero_gamma and norm != "bn":
            raise ConfigError("zero_gamma=True needs norm='bn' (allowed with norm='none': False)")
        fixup = init == "fixup"
        self.options = dict(norm=norm, init=init, zero_gamma=zero_gamma, variant=variant)
        n = (depth - 2) // 6
        if norm == "bn" and variant in ("A", "B"):
            self.stem = _conv_bn(in_channels, 16)
        else:
            widths = (8, 8, 16) if variant in ("C", "D") else (16,)
            layers, c = [], in_channels
            for w in widths:
                layers += [nn.Conv2d(c, w, 3, 1, 1, bias=norm == "none" and not fixup),
                           _norm(norm, w)]
                if fixup:
                    layers.append(ScalarBias())
                layers.append(nn.ReLU(inplace=True))
                c = w
            self.stem = nn.Sequential(*layers)
        blocks, c = [], 16
        for i, w in enumerate((16, 32, 64)):
            for j in range(n):
                blocks.append(BasicBlock(c, w, 2 if (i > 0 and j == 0) else 1, norm=norm,
                                         fixup=fixup, avg_down=variant == "D"))
                c = w
        self.blocks = nn.Sequential(*blocks)
        head = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        if fixup:
            head.append(ScalarBias())
        self.head = nn.Sequential(*head, nn.Linear(c, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if fixup:
            L = len(blocks)
            for b in blocks:
                fan_out = b.conv1.weight.shape[0] * b.conv1.weight[0, 0].numel()
                nn.init.normal_(b.conv1.weight, 0.0, (2.0 / fan_out) ** 0.5 * L ** (-0.5))
                nn.init.zeros_(b.conv2.weight)
            nn.init.zeros_(self.head[-1].weight)
            nn.init.zeros_(self.head[-1].bias)
        if zero_gamma:
            for b in blocks:
                nn.init.zeros_(b.bn2.weight)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


def _mobilenet_v2(num_classes, in_channels):
    from torchvision.models import mobilenet_v2

    m = mobilenet_v2(weights=None, num_classes=num_classes)
    # Small-input stem: stride 1 in the first conv, as CIFAR ports of MobileNetV2 do.
    m.features[0][0] = nn.Conv2d(in_channels, 32, 3, 1, 1, bias=False)
    return m


def _resnet18(num_classes, in_channels):
    from torchvision.models import resnet18

    m = resnet18(weights=None, num_classes=num_classes)
    if in_channels != 3:
        m.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
    return m


REGISTRY = {
    "simple": lambda nc, ic: SimpleCNN(nc, ic),
    "vgg16_bn": lambda nc, ic: VGG16BN(nc, ic),
    "mobilenet_v2": _mobilenet_v2,
    "resnet20": lambda nc, ic, **kw: CifarResNet(20, nc, ic, **kw),
    "resnet8": lambda nc, ic, **kw: CifarResNet(8, nc, ic, **kw),   # the smallest (n = 1): CPU-scale ablations
    "resnet56": lambda nc, ic, **kw: CifarResNet(56, nc, ic, **kw),
    "resnet110": lambda nc, ic, **kw: CifarResNet(110, nc, ic, **kw),
    "resnet18": _resnet18,
}
NAMES = tuple(REGISTRY)


OPTIONS = {name: (RESNET_OPTIONS if name in ("resnet8", "resnet20", "resnet56", "resnet110") else ())
           for name in REGISTRY}


def create(name: str, num_classes: int, in_channels: int = 3, **kwargs) -> nn.Module:
    """Build a fresh, randomly initialized model (seed torch first for reproducibility).

    ``kwargs`` are model options; the CIFAR ResNets (resnet8/20/56/110) accept ``norm``, ``init``, ``zero_gamma``
    and ``variant`` (see :class:`CifarResNet`), the other models none.
    """
    check_choice("model", name, NAMES)
    check_number("num_classes", num_classes, lo=2, integer=True)
    check_number("in_channels", in_channels, lo=1, integer=True)
    for key in kwargs:
        if key not in OPTIONS[name]:
            allowed = ", ".join(OPTIONS[name]) or "none"
            raise ConfigError(f"model option {key!r} is not accepted by {name!r} "
                              f"(allowed options: {allowed})")
    return REGISTRY[name](num_classes, in_channels, **kwargs)
