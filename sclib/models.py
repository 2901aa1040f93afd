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


class BasicBlock(nn.Module):
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


class CifarResNet(nn.Module):
    """He et al.'s CIFAR ResNet-(6n+2): three stages of 16, 32, 64 channels."""

    def __init__(self, depth: int, num_classes: int, in_channels: int = 3):
        super().__init__()
        if (depth - 2) % 6:
            raise ConfigError(f"depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        self.stem = _conv_bn(in_channels, 16)
        blocks, c = [], 16
        for i, w in enumerate((16, 32, 64)):
            for j in range(n):
                blocks.append(BasicBlock(c, w, 2 if (i > 0 and j == 0) else 1))
                c = w
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

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
    "resnet20": lambda nc, ic: CifarResNet(20, nc, ic),
    "resnet56": lambda nc, ic: CifarResNet(56, nc, ic),
    "resnet110": lambda nc, ic: CifarResNet(110, nc, ic),
    "resnet18": _resnet18,
}
NAMES = tuple(REGISTRY)


def create(name: str, num_classes: int, in_channels: int = 3) -> nn.Module:
    """Build a fresh, randomly initialized model (seed torch first for reproducibility)."""
    check_choice("model", name, NAMES)
    check_number("num_classes", num_classes, lo=2, integer=True)
    check_number("in_channels", in_channels, lo=1, integer=True)
    return REGISTRY[name](num_classes, in_channels)
