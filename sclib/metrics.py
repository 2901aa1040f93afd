"""Accuracy, top-k accuracy and Kaggle's MAP@k."""
from __future__ import annotations

import torch


def accuracy(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows whose arg-max equals the target."""
    return (scores.argmax(dim=1) == targets).float().mean().item()


def topk_accuracy(scores: torch.Tensor, targets: torch.Tensor, k: int = 5) -> float:
    """Fraction of rows whose target is among the ``k`` highest scores."""
    top = scores.topk(k, dim=1).indices
    return (top == targets.view(-1, 1)).any(dim=1).float().mean().item()


def map_at_k(scores: torch.Tensor, targets: torch.Tensor, k: int = 3) -> float:
    """Mean average precision at ``k`` as Kaggle scores Quick, Draw!.

    Each sample has one true label, so its average precision is 1/rank of the target
    within the top ``k`` predictions, and 0 when the target is not among them
    (000_b276cd025f8c8c73.txt: MAP@3 = 1/N Σ_i Σ_k P_i(k)).
    """
    if scores.ndim != 2 or targets.ndim != 1 or len(scores) != len(targets):
        raise ValueError(f"scores must be N×C and targets N, got {tuple(scores.shape)} and "
                         f"{tuple(targets.shape)}")
    k = min(k, scores.shape[1])
    top = scores.topk(k, dim=1).indices                      # N×k, best first
    hit = top == targets.view(-1, 1)                           # at most one True per row
    weights = 1.0 / torch.arange(1, k + 1, dtype=torch.float32, device=scores.device)
    return (hit.float() * weights).sum(dim=1).mean().item()
