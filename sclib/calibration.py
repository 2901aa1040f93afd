"""What a trained classifier's outputs say on a data set: accuracy, NLL, calibration, confidence.

One measurement for every chapter that reads more than accuracy from a trained network (label
smoothing, mixup and ZeroInit, the Bag-of-Tricks ablation): the logits of the network in eval
mode, then accuracy, the plain cross-entropy (NLL), the expected calibration error
(:func:`sclib.metrics.expected_calibration_error`), the max-softmax confidences and the logit
norms and gaps that label smoothing changes (Bag of Tricks Fig. 4). Everything is computed in
float64 on the CPU from the network's logits.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import data, metrics

#: Examples per forward pass when a :class:`sclib.data.Batches` is read straight from its tensors.
CHUNK = 1000


@torch.no_grad()
def logits(net, batches, *, channels_last: bool = False) -> tuple:
    """``(logits, labels)`` of ``net`` in eval mode over ``batches``, float64 logits on the CPU.

    A :class:`sclib.data.Batches` is read in order straight from its normalized tensors, so a
    training set is seen unshuffled and unaugmented (its clean accuracy); any other iterable of
    ``(x, y)`` is read as it comes. The network's train/eval mode is restored afterwards."""
    if isinstance(batches, data.Batches):
        batches = [(batches.x[i:i + CHUNK], batches.y[i:i + CHUNK]) for i in range(0, len(batches.y), CHUNK)]
    was_training = net.training
    net.eval()
    zs, ys = [], []
    try:
        for x, y in batches:
            if channels_last and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            zs.append(net(x).double().cpu())
            ys.append(y.cpu())
    finally:
        net.train(was_training)
    return torch.cat(zs), torch.cat(ys)


def logit_gaps(z: torch.Tensor) -> np.ndarray:
    """Per example, the gap between the maximum logit and the average of the rest (Bag of
    Tricks Fig. 4, bottom)."""
    z = torch.as_tensor(z, dtype=torch.float64)
    top = z.max(1).values
    rest = (z.sum(1) - top) / (z.shape[1] - 1)
    return (top - rest).numpy()


def measure(net, batches, n_bins: int = 15, *, channels_last: bool = False) -> dict:
    """``net`` on ``batches`` (see :func:`logits`): ``acc``, ``nll`` (plain cross-entropy),
    ``ece`` (``n_bins`` equal-width bins), ``mean_conf``, ``conf`` (every example's max-softmax
    probability), ``logit_norm`` (mean L2 norm of the logit vector), ``gaps``
    (:func:`logit_gaps`), ``num_classes`` and ``finite``. With a non-finite logit (a diverged
    network) only the accuracy is meaningful: every other measurement is nan."""
    z, y = logits(net, batches, channels_last=channels_last)
    out = dict(acc=metrics.accuracy(z, y), num_classes=int(z.shape[1]), finite=bool(torch.isfinite(z).all()))
    if not out["finite"]:
        nan = float("nan")
        return dict(out, nll=nan, ece=nan, mean_conf=nan, logit_norm=nan, conf=np.full(len(y), nan),
                    gaps=np.full(len(y), nan))
    p = z.softmax(1)
    conf = p.max(1).values
    return dict(out, nll=F.cross_entropy(z, y).item(), ece=metrics.expected_calibration_error(p, y, n_bins=n_bins),
                mean_conf=conf.mean().item(), conf=conf.numpy(), logit_norm=z.norm(dim=1).mean().item(),
                gaps=logit_gaps(z))
