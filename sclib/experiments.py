"""Multi-run experiments that chapters share: seeds × methods, with one progress bar."""
from __future__ import annotations

from tqdm import tqdm

from . import lr_finder, models, train


def range_test(cfg, seed: int = 0, **kw):
    """The LR range test for ``cfg``'s dataset and model (a fresh seeded model)."""
    tr, _ = train.load_batches(cfg.dataset, batch_size=cfg.batch_size, n_train=cfg.n_train,
                               n_test=cfg.n_test, seed=seed, device=cfg.device, root=cfg.root)
    train.seed_everything(seed)
    net = models.create(cfg.model, num_classes=int(tr.y.max()) + 1, in_channels=tr.x.shape[1]).to(tr.x.device)
    return lr_finder.range_test(net, tr, start_lr=cfg.range_start_lr, end_lr=cfg.range_end_lr,
                                num_iter=cfg.range_iters, momentum=cfg.momentum,
                                weight_decay=cfg.weight_decay, **kw)


def compare(cfg, methods: dict, seeds=None, epochs=None, progress: bool = True) -> dict:
    """Train every method (label -> dict of ``train.run`` overrides) for every seed.

    Returns label -> list of Histories, in seed order.
    """
    seeds = list(range(cfg.seeds)) if seeds is None else list(seeds)
    out = {label: [] for label in methods}
    jobs = [(label, s) for s in seeds for label in methods]
    for label, s in tqdm(jobs, desc="runs", unit="run", disable=not progress, mininterval=5):
        kw = dict(dataset=cfg.dataset, model=cfg.model, epochs=epochs or cfg.epochs,
                  batch_size=cfg.batch_size, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                  n_train=cfg.n_train, n_test=cfg.n_test, device=cfg.device, root=cfg.root,
                  seed=s, progress=False)
        kw.update(methods[label])
        out[label].append(train.run(**kw))
    return out


def time_to_baseline(runs: dict, baseline: str) -> dict:
    """Per method: mean epochs and seconds to reach the baseline's best accuracy *of the same
    seed* (paired), inf when some seed never reaches it within the budget."""
    import math

    import numpy as np

    targets = [h.best_test_acc for h in runs[baseline]]
    out = {}
    for label, hs in runs.items():
        e = [h.epochs_to(t) for h, t in zip(hs, targets)]
        s = [h.seconds_to(t) for h, t in zip(hs, targets)]
        ok = all(map(math.isfinite, e))
        out[label] = dict(epochs=float(np.mean(e)) if ok else math.inf,
                          seconds=float(np.mean(s)) if ok else math.inf,
                          reached=sum(map(math.isfinite, e)), of=len(e))
    return out
