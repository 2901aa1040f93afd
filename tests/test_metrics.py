import pytest
import torch

from sclib.metrics import accuracy, map_at_k, topk_accuracy


def test_map_at_3_hand_computed():
    scores = torch.tensor([
        [0.9, 0.05, 0.03, 0.02],   # target 0 at rank 1 -> 1
        [0.1, 0.6, 0.3, 0.0],      # target 2 at rank 2 -> 1/2
        [0.4, 0.3, 0.2, 0.1],      # target 2 at rank 3 -> 1/3
        [0.4, 0.3, 0.2, 0.1],      # target 3 at rank 4 -> 0
    ])
    targets = torch.tensor([0, 2, 2, 3])
    assert abs(map_at_k(scores, targets, k=3) - (1 + 1 / 2 + 1 / 3 + 0) / 4) < 1e-7
    assert abs(map_at_k(scores, targets, k=1) - 1 / 4) < 1e-7
    assert abs(map_at_k(scores, targets, k=4) - (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4) < 1e-7


def test_accuracy_and_topk():
    scores = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(scores, torch.tensor([1, 1, 1])) == pytest.approx(2 / 3)
    assert topk_accuracy(scores, torch.tensor([1, 1, 0]), k=2) == 1.0
