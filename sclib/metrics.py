"""Accuracy, top-k accuracy and Kaggle's MAP@k."""
from __future__ import annotations

import torch

from .errors import check_number


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
    weights = 1.0 / torch.arange(1, k + 1, dtype=torch.float64, device=scores.device)
    return (hit.float() * weights).sum(dim=1).mean().item()


def expected_calibration_error(probs: torch.Tensor, targets: torch.Tensor, n_bins: int = 15) -> float:
    """ECE: Σ_b |B_b|/N · |accuracy(B_b) - mean confidence(B_b)|, confidence = max probability,
    equal-width bins (i/n_bins, (i+1)/n_bins] (Guo et al., 2017). ``probs`` are N×C probabilities."""
    if probs.ndim != 2 or targets.ndim != 1 or len(probs) != len(targets):
        raise ValueError(f"probs must be N×C and targets N, got {tuple(probs.shape)} and "
                         f"{tuple(targets.shape)}")
    check_number("n_bins", n_bins, lo=1, integer=True)
    conf, pred = probs.max(dim=1)
    correct = (pred == targets).to(probs.dtype)
    # bin i holds confidences in (i/n, (i+1)/n]; a confidence of exactly 0 goes to bin 0
    idx = (torch.ceil(conf * n_bins) - 1).clamp(0, n_bins - 1).long()
    # Σ_b |B_b|/N·|acc_b - conf_b| = Σ_b |Σ_{i∈b} (correct_i - conf_i)| / N
    gap = torch.zeros(n_bins, dtype=probs.dtype, device=probs.device).index_add_(0, idx, correct - conf)
    return (gap.abs().sum() / len(conf)).item()
