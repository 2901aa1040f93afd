"""sclib.timing: the one timing loop outside train.fit (chapters price runs with it, bench compares settings)."""
import ast
from pathlib import Path

import torch

from sclib import models, timing

ROOT = Path(__file__).resolve().parents[1]


def _net():
    torch.manual_seed(0)
    return models.create("simple", num_classes=10, in_channels=1)


def test_train_steps_trains_and_returns_a_rate():
    net = _net()
    before = [p.detach().clone() for p in net.parameters()]
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    rate = timing.train_steps(net, x, y, steps=2)
    assert 0 < rate < float("inf")
    assert net.training
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, net.parameters()))


def test_train_steps_channels_last_converts_the_model():
    net = _net()
    timing.train_steps(net, torch.randn(4, 1, 8, 8), torch.randint(0, 10, (4,)), steps=1, channels_last=True)
    conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_chapters_time_through_timing_not_bench():
    # the pages that price runs must not depend on the benchmark module (its changes would make them stale)
    for mod in ("kth", "pipeline_study", "largebatch"):
        tree = ast.parse((ROOT / "sclib" / f"{mod}.py").read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        assert "bench" not in imported, mod
