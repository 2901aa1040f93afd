"""Benchmarks (not timed tests): ``python -m sclib.bench`` or ``make bench``.

1. ``sclib.train.fit`` against a minimal hand-written PyTorch loop on the same model, data and
   batch size: the ratio of images/s (target >= 0.95: the History, the progress bar and the
   schedule must cost next to nothing).
2. The in-memory ``Batches`` iterator against torch's ``DataLoader`` over the same tensors with
   the same augmentation (flip + pad-crop), images/s of iteration alone.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from . import data as D
from . import models, profiles, train


def _model(cfg, tr):
    train.seed_everything(0)
    return models.create(cfg.model, int(tr.y.max()) + 1, tr.x.shape[1]).to(tr.x.device)


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def fit_vs_loop(cfg, repeats: int = 3) -> dict:
    """Images/s of sclib.fit and of a bare loop, best of ``repeats`` (alternating)."""
    tr, _ = train.load_batches(cfg.dataset, batch_size=cfg.batch_size, n_train=cfg.n_train,
                               device=cfg.device, augment=False)
    res = {"fit": 0.0, "loop": 0.0}
    for _ in range(repeats):
        m = _model(cfg, tr)
        h = train.fit(m, tr, None, epochs=cfg.epochs, lr=0.01, schedule={"kind": "onecycle"}, progress=False)
        res["fit"] = max(res["fit"], tr.num_examples * cfg.epochs / sum(h.seconds))
        m = _model(cfg, tr)
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
        m.train()
        _sync(tr.x.device)
        t0 = time.perf_counter()
        for ep in range(cfg.epochs):
            for x, y in tr:
                loss = F.cross_entropy(m(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        _sync(tr.x.device)
        res["loop"] = max(res["loop"], tr.num_examples * cfg.epochs / (time.perf_counter() - t0))
    res["ratio"] = res["fit"] / res["loop"]
    return res


def iterator_vs_dataloader(cfg) -> dict:
    """Images/s of one augmented pass: Batches vs DataLoader(TensorDataset) + v2 transforms."""
    from torch.utils.data import DataLoader, TensorDataset
    from torchvision.transforms import v2

    x, y = D.load(cfg.dataset, "train")
    x, y = D.subset(x, y, cfg.n_train)
    pad = train.AUGMENT[cfg.dataset].get("crop_pad", 2)
    b = D.Batches(x, y, cfg.batch_size, shuffle=True, flip=True, crop_pad=pad)
    t0 = time.perf_counter()
    for _ in b:
        pass
    ours = len(y) / (time.perf_counter() - t0)
    tf = v2.Compose([v2.RandomHorizontalFlip(), v2.RandomCrop(x.shape[-1], padding=pad),
                     v2.ToDtype(torch.float32, scale=True), v2.Normalize(b.mean, b.std)])

    class DS(TensorDataset):
        def __getitem__(self, i):
            return tf(self.tensors[0][i]), self.tensors[1][i]

    dl = DataLoader(DS(x, y), batch_size=cfg.batch_size, shuffle=True, num_workers=0)
    t0 = time.perf_counter()
    for _ in dl:
        pass
    theirs = len(y) / (time.perf_counter() - t0)
    return {"batches": ours, "dataloader": theirs, "ratio": ours / theirs}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m sclib.bench")
    p.add_argument("--profile", default="cpu", choices=profiles.PROFILES)
    cfg = profiles.resolve("performance", p.parse_args(argv).profile)
    r = fit_vs_loop(cfg)
    print(f"sclib.fit {r['fit']:.0f} img/s, hand-written loop {r['loop']:.0f} img/s, "
          f"ratio {r['ratio']:.3f} (target >= 0.95)")
    r = iterator_vs_dataloader(cfg)
    print(f"Batches {r['batches']:.0f} img/s, DataLoader {r['dataloader']:.0f} img/s, "
          f"ratio {r['ratio']:.1f}")


if __name__ == "__main__":
    main()
