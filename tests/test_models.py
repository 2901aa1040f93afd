import pytest
import torch

from sclib import models
from sclib.errors import ConfigError


@pytest.mark.parametrize("name", models.NAMES)
@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28)])
def test_every_model_builds_and_runs(name, shape):
    torch.manual_seed(0)
    m = models.create(name, num_classes=7, in_channels=shape[0]).eval()
    with torch.no_grad():
        out = m(torch.randn(2, *shape))
    assert out.shape == (2, 7)


def test_cifar_resnet_depths():
    for depth, n_blocks in ((20, 9), (56, 27), (110, 54)):
        m = models.create(f"resnet{depth}", 10)
        assert len(m.blocks) == n_blocks


def test_unknown_model_lists_names():
    with pytest.raises(ConfigError, match="resnet20"):
        models.create("resnet9000", 10)
    with pytest.raises(ConfigError, match="num_classes"):
        models.create("simple", 1)
