"""Training throughput: images/s of SGD steps on one fixed batch. A cost, never a result: the
chapters price with it the runs a profile does not make, and :mod:`sclib.bench` compares CPU
settings with it. The one timing loop outside :mod:`sclib.train`."""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F


def sync(device) -> None:
    """Wait for queued CUDA work, so a wall clock measures it (a no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def train_steps(model, x, y, steps: int, channels_last: bool = False) -> float:
    """Images/s of ``steps`` SGD steps on one fixed batch (after one warm-up step)."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    step()
    sync(x.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(x.device)
    return len(y) * steps / (time.perf_counter() - t0)
