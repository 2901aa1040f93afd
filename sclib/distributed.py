"""Data-parallel training with ``torchrun``, and the large-batch chapter's helpers.

``sclib.train.fit`` runs unchanged under ``torchrun``: when ``torch.distributed`` is initialized
with k > 1 processes it wraps the model in DistributedDataParallel and every rank trains on its
1/k slice of each GLOBAL batch (``batch_size`` = k·b). This module

- initializes a process group from torchrun's environment (:func:`init_from_env`: gloo on CPU,
  NCCL on GPU, one GPU per local rank);
- is itself a torchrun entry point (``python -m torch.distributed.run ... -m sclib.distributed
  --job JOB.json --out OUT.json``), running a named job (:data:`JOBS`) on every rank and writing
  rank 0's History (and optionally its weights);
- launches such a run on k local processes from Python (:func:`launch`) and returns rank 0's
  result, so a notebook can run real data-parallel workers;
- measures throughput against the number of workers (:func:`throughput`);
- computes the gradient-noise scale g = η(N/B − 1) along a schedule (:func:`noise_along`) and
  builds Goyal et al.'s warmups (:func:`warmup_overrides`). The chapter's experiments themselves
  (scoring, LR grids, Smith et al.'s schedules) are in :mod:`sclib.largebatch`.

Run a chapter's experiment on k GPUs of one machine::

    torchrun --standalone --nproc_per_node=K -m sclib.distributed --job job.json --out result.json

with ``job.json`` = ``{"job": "run", "kwargs": {<sclib.train.run arguments>}}`` whose
``batch_size`` is the GLOBAL batch (K·b). On M machines run on each (node rank 0..M-1)::

    torchrun --nnodes=M --node_rank=R --nproc_per_node=K --rdzv_backend=c10d \\
             --rdzv_endpoint=HOST0:29500 -m sclib.distributed --job job.json --out result.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from . import data as D
from . import schedules, store, train
from .errors import ConfigError, check_number

REPO_ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- process group
def init_from_env(backend: str | None = None):
    """Join the process group torchrun describes in the environment.

    Returns ``(rank, world_size, device)``. Without torchrun's variables (a plain process) it
    returns ``(0, 1, default device)`` and initializes nothing. The backend is NCCL when CUDA is
    available (each local rank gets its own GPU), else gloo.
    """
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return 0, 1, train.default_device()
    use_cuda = torch.cuda.is_available() and backend != "gloo"
    backend = backend or ("nccl" if use_cuda else "gloo")
    local = int(os.environ.get("LOCAL_RANK", 0))
    if use_cuda:
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size(), device


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# ---------------------------------------------------------------- jobs run on every rank
class NoBNNet(nn.Module):
    """A small CNN without BatchNorm (conv-ReLU-pool ×2, linear): k workers × b and one process
    × k·b compute the same gradients only when no layer depends on the batch's own statistics."""

    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 8):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
            nn.Flatten(), nn.Linear(8 * width, num_classes))

    def forward(self, x):
        return self.net(x)


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def job_run(**kwargs):
    """``sclib.train.run`` (``batch_size`` is the global batch). Returns (History, model)."""
    h, net, _ = train.run(return_model=True, **kwargs)
    return h, net


def job_equivalence(*, dataset: str = "digits", model: str = "nobn", batch_size: int, epochs: int = 1,
                    lr: float = 0.1, momentum: float = 0.9, weight_decay: float = 5e-4, n_train=None,
                    seed: int = 0, augment: bool = True, device=None, root=None, width: int = 8):
    """A few SGD steps of a small net: the same call in one process with batch k·b and on k
    ranks (b each) must give the same weights. ``model``: "nobn" (:class:`NoBNNet`, exact up to
    float error) or any registry name (e.g. "simple", with BatchNorm: not exact, see the chapter).
    Returns (History, model); the History's config records the local batch each rank saw."""
    from . import models

    tr = train.load_batches(dataset, batch_size=batch_size, n_train=n_train, n_test=None,
                            seed=seed, augment=augment, device=device, root=root)[0]
    train.seed_everything(seed)
    nc, ic = int(tr.y.max()) + 1, tr.x.shape[1]
    net = NoBNNet(nc, ic, width) if model == "nobn" else models.create(model, nc, ic)
    seen = []
    hook = net.register_forward_pre_hook(lambda m, a: seen.append(int(a[0].shape[0])) if m.training else None)
    world = _world()[1]
    h = train.fit(net, tr, None, epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay,
                  progress=False, config=dict(dataset=dataset, model=model, seed=seed))
    hook.remove()
    h.config.update(local_batch=seen[0] if seen else 0, world_size=world)
    return h, net


#: Jobs a torchrun worker can run: name -> function(**kwargs) -> (History, model).
JOBS = {"run": job_run, "equivalence": job_equivalence}


def main(argv=None) -> int:
    """torchrun entry point: run ``--job`` on this rank; rank 0 writes ``--out`` (JSON)."""
    p = argparse.ArgumentParser(prog="python -m sclib.distributed",
                                description="Run an sclib job on every torchrun worker.")
    p.add_argument("--job", required=True, help='JSON file: {"job": "run", "kwargs": {...}}')
    p.add_argument("--out", required=True, help="rank 0 writes the History here (JSON)")
    p.add_argument("--weights", default=None, help="rank 0 saves the model's state_dict here")
    p.add_argument("--backend", default=None, choices=("gloo", "nccl"))
    a = p.parse_args(argv)
    spec = json.loads(Path(a.job).read_text())
    if spec.get("job") not in JOBS:
        raise ConfigError(f"job={spec.get('job')!r} is not one of: {', '.join(JOBS)}")
    threads = os.environ.get("SCLIB_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    rank, world, device = init_from_env(a.backend)
    kwargs = dict(spec.get("kwargs", {}))
    if device.type == "cuda":
        kwargs["device"] = str(device)
    try:
        t0 = time.perf_counter()
        h, net = JOBS[spec["job"]](**kwargs)
        wall = time.perf_counter() - t0
        if rank == 0:
            out = dict(history=h.to_dict(), world_size=world, rank=rank,
                       threads_per_worker=torch.get_num_threads(), backend=dist.get_backend() if dist.is_initialized() else None,
                       wall_s=wall, device=str(device))
            tmp = Path(a.out).with_suffix(".tmp")
            tmp.write_text(json.dumps(out))
            os.replace(tmp, a.out)
            if a.weights:
                D.atomic_torch_save({k: v.detach().cpu() for k, v in net.state_dict().items()}, Path(a.weights))
        if dist.is_initialized():
            dist.barrier()
    finally:
        cleanup()
    return 0


# ---------------------------------------------------------------- launching from Python
@dataclass
class Result:
    """What rank 0 of a launched run reported."""

    history: train.History
    world_size: int
    threads_per_worker: int
    backend: str | None
    wall_s: float
    seconds_total: float          # the whole launch: process start, rendezvous, job
    weights: dict | None = None
    info: dict = field(default_factory=dict)


def launch(job: str, kwargs: dict, nproc: int = 2, *, threads: int | None = None,
           weights: bool = False, backend: str | None = None, timeout: float = 900) -> Result:
    """Run ``JOBS[job](**kwargs)`` on ``nproc`` local processes started by torchrun
    (``python -m torch.distributed.run --standalone``) and return rank 0's result.

    ``threads``: torch threads per worker (default: the cores divided among the workers).
    A worker failure raises RuntimeError with the end of torchrun's output.
    """
    check_number("nproc", nproc, lo=1, hi=64, integer=True)
    if job not in JOBS:
        raise ConfigError(f"job={job!r} is not one of: {', '.join(JOBS)}")
    threads = threads or max(1, (os.cpu_count() or 1) // nproc)
    with tempfile.TemporaryDirectory(prefix="sclib-ddp-") as d:
        d = Path(d)
        (d / "job.json").write_text(json.dumps({"job": job, "kwargs": kwargs}))
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
               f"--nproc_per_node={nproc}", "-m", "sclib.distributed",
               "--job", str(d / "job.json"), "--out", str(d / "out.json")]
        if weights:
            cmd += ["--weights", str(d / "weights.pt")]
        if backend:
            cmd += ["--backend", backend]
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), SCLIB_THREADS=str(threads),
                   SCLIB_PROGRESS="0",
                   PYTHONPATH=os.pathsep.join([str(REPO_ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"torchrun ({nproc} workers, job {job}) timed out after {timeout} s") from e
        total = time.perf_counter() - t0
        if p.returncode != 0 or not (d / "out.json").exists():
            tail = (p.stdout + p.stderr)[-4000:]
            raise RuntimeError(f"torchrun ({nproc} workers, job {job}) failed with exit status "
                               f"{p.returncode}:\n{tail}")
        out = json.loads((d / "out.json").read_text())
        w = torch.load(d / "weights.pt", weights_only=True) if weights else None
    return Result(history=train.History.from_dict(out["history"]), world_size=out["world_size"],
                  threads_per_worker=out["threads_per_worker"], backend=out["backend"],
                  wall_s=out["wall_s"], seconds_total=total, weights=w,
                  info=dict(device=out["device"]))


def max_weight_diff(a: dict, b: dict) -> float:
    """max |a − b| over all floating-point tensors of two state dicts (same keys)."""
    if set(a) != set(b):
        raise ValueError(f"state dicts differ in keys: {sorted(set(a) ^ set(b))}")
    return max((float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].is_floating_point()),
               default=0.0)


def equivalence(n_workers: int = 2, *, model: str = "nobn", local_batch: int = 16, **kwargs) -> dict:
    """Train the same seeded net with ``n_workers`` real processes × ``local_batch`` and in this
    process with one batch of ``n_workers·local_batch``; compare the weights.

    Returns dict(max_abs_diff, max_abs_weight, steps, world_size, local_batch, ddp, single)."""
    kw = dict(kwargs, model=model, batch_size=n_workers * local_batch, device="cpu")
    ddp = launch("equivalence", kw, n_workers, threads=1, weights=True, backend="gloo")
    h1, net1 = job_equivalence(**kw)
    ref = {k: v.detach().cpu() for k, v in net1.state_dict().items()}
    return dict(max_abs_diff=max_weight_diff(ddp.weights, ref),
                max_abs_weight=max(float(v.float().abs().max()) for v in ref.values() if v.is_floating_point()),
                steps=ddp.history.updates, world_size=ddp.world_size,
                local_batch=ddp.history.config.get("local_batch"), ddp=ddp, single=h1)


def throughput(workers=(1, 2), *, per_worker_batch: int, threads_per_worker: int = 1,
               epochs: int = 4, repeats: int = 1, **run_kwargs) -> list[dict]:
    """Images/s of ``train.run`` on 1..k real gloo/NCCL workers at a fixed per-worker batch
    (weak scaling, as Goyal et al. scale k with n fixed).

    ``repeats`` rounds, each launching every worker count in turn, so that a slow spell of the
    machine falls on every count alike; the order reverses from round to round, so that going
    first or last in a round (a previous launch's leftovers, caches) favours no count. A launch's
    rate is images over seconds of its epochs but the first (which includes warm-up): ``rates``
    holds one per round, in round order (what a paired comparison pairs), ``epoch_rates`` the
    epochs behind each, and ``images_per_s`` their mean. Epochs of one launch are not
    independent samples: they share its process, placement and load. Efficiency =
    rate(k) / (k · rate(1)). The run store is off for these runs: a stored run would return
    another launch's timings."""
    check_number("epochs", epochs, lo=2, integer=True)
    check_number("repeats", repeats, lo=1, integer=True)
    workers = list(workers)
    if len(set(workers)) != len(workers):
        raise ConfigError(f"workers must be distinct worker counts, got {workers}")
    launches = {k: [] for k in workers}
    for rnd in range(repeats):
        for k in workers if rnd % 2 == 0 else workers[::-1]:
            with store.off():  # a timing: the workers must train, never return a stored run
                launches[k].append(launch("run", dict(run_kwargs, epochs=epochs, batch_size=k * per_worker_batch),
                                          k, threads=threads_per_worker))
    rows = []
    for k, rs in launches.items():
        epoch_rates = [[float(v) for v in r.history.images_per_s[1:]] for r in rs]
        rates = [len(e) / sum(1.0 / v for v in e) for e in epoch_rates]  # equal epochs: images / seconds
        rows.append(dict(workers=k, threads_per_worker=rs[0].threads_per_worker,
                         global_batch=k * per_worker_batch, backend=rs[0].backend or "-",
                         images_per_s=float(np.mean(rates)), rates=rates, epoch_rates=epoch_rates,
                         launch_s=float(np.mean([r.seconds_total for r in rs]))))
    base = rows[0]["images_per_s"] / rows[0]["workers"]
    for row in rows:
        row["images_per_s_per_worker"] = row["images_per_s"] / row["workers"]
        row["efficiency"] = row["images_per_s_per_worker"] / base
    return rows


# ---------------------------------------------------------------- large-batch helpers
def noise_scale(lr, batch_size, n: int):
    """The seed's gradient-noise scale g = η (N/B − 1) (004, Goyal et al. / Smith et al. pages).
    Works elementwise on arrays."""
    return np.asarray(lr, dtype=float) * (n / np.asarray(batch_size, dtype=float) - 1.0)


def batch_per_step(h: train.History) -> np.ndarray:
    """The global batch size of every optimizer step of ``h`` (a History with ``batch_size``
    per epoch; the last batch of an epoch may be smaller, as the data iterator makes it)."""
    n = h.config["n_train"]
    sizes = h.batch_size or [h.config["batch_size"]] * len(h.epoch)
    out = []
    for b in sizes:
        full, rest = divmod(n, b)
        out += [b] * full + ([rest] if rest else [])
    return np.asarray(out[: len(h.lr)], dtype=float)


def noise_along(h: train.History, momentum: bool = False) -> dict:
    """g = η(N/B − 1) per optimizer step of a run, with the epoch (fractional) and update index
    of each step. Uses the nominal batch B of each epoch (not the short last batch). With
    ``momentum``, η is the effective step η/(1 − m) of SGD with momentum m (the step it settles
    to under a steady gradient), as Smith et al. count it when they raise m."""
    n = h.config["n_train"]
    sizes = h.batch_size or [h.config["batch_size"]] * len(h.epoch)
    epoch_f, b_nom = [], []
    for e, b in enumerate(sizes):
        steps = -(-n // b)
        epoch_f += list(e + np.arange(steps) / steps)
        b_nom += [b] * steps
    m = min(len(h.lr), len(b_nom))
    lr = np.asarray(h.lr[:m], dtype=float)
    step = lr
    if momentum:
        mom = np.asarray(h.momentum[:m] if len(h.momentum) >= m else [h.config.get("momentum", 0.0)] * m,
                         dtype=float)
        step = lr / (1.0 - mom)
    return dict(epoch=np.asarray(epoch_f[:m]), update=np.arange(1, m + 1), lr=lr,
                batch=np.asarray(b_nom[:m], dtype=float), g=noise_scale(step, np.asarray(b_nom[:m]), n))


def warmup_overrides(mode: str, *, lr: float, start_lr: float, warmup_epochs: float, base=None) -> dict:
    """``train.run`` overrides for a large-batch run at ``lr`` with Goyal et al.'s warmups:
    "none"; "constant" (``start_lr`` for ``warmup_epochs``, then ``lr``: ``warmup_mode``
    "constant"); "gradual" (linear from ``start_lr`` to ``lr`` over ``warmup_epochs``).
    ``base``: the schedule after the warmup (a spec dict; default constant)."""
    if mode not in ("none", "constant", "gradual"):
        raise ConfigError(f"warmup mode={mode!r} is not one of: none, constant, gradual")
    spec = dict(schedules.normalize(base or "constant"))
    factor = min(1.0, start_lr / lr)
    if mode != "none" and factor < 1.0:
        spec.update(warmup_epochs=warmup_epochs, warmup_start_factor=factor,
                    warmup_mode="linear" if mode == "gradual" else "constant")
    return dict(lr=lr, schedule=spec)


if __name__ == "__main__":
    sys.exit(main())
