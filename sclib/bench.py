"""Benchmarks (not timed tests): ``python -m sclib.bench`` or ``make bench``.

1. ``sclib.train.fit`` against a minimal hand-written PyTorch loop on the same model, data and
   batch size: the ratio of images/s (target >= 0.95: the History, the progress bar and the
   schedule must cost next to nothing).
2. The in-memory ``Batches`` iterator against torch's ``DataLoader`` over the same tensors with
   the same augmentation (flip + pad-crop), images/s of iteration alone.
3. The stroke rasterizer's drawings/s on one core against the images/s that training the
   Quick, Draw! chapter's model consumes at the chapter's image size (how many cores of
   rendering keep training fed).
4. The whole book: the sum of every executed page's recorded execution time (papermill, at the
   ``cpu`` profile, in ``book/*.ipynb`` metadata: what a fresh clone forcing every notebook
   to execute costs, one page after another) plus one measured full build; and a rebuild with
   nothing changed (staleness check + Jupyter Book build into a warm output folder).

``cpu_options`` measures what may make the CPU path faster -- channels_last, torch's thread
count, ``torch.compile`` -- on the same training loop, so each is kept only if it pays.

``python -m sclib.bench --json`` (:func:`summary`) prints one JSON object from one run, on the
CPU at the *cpu setting* (all cores as torch threads, channels_last): ``fit_ratio`` (item 1 at
that setting), ``old_setting_speedup`` (training img/s at the cpu setting over 1 thread NCHW),
``machine_fraction`` (training GFLOP/s, counted with ``FlopCounterMode`` over one forward and
backward pass, over the GFLOP/s of a large matmul on all cores), ``sweep_speedup`` (a sweep of
small runs with the ``processes`` executor against ``serial``, wall clock) and the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from . import data as D
from . import executors, models, profiles, store, timing, train


def _model(cfg, tr):
    train.seed_everything(0)
    return models.create(cfg.model, int(tr.y.max()) + 1, tr.x.shape[1]).to(tr.x.device)


def fit_vs_loop(cfg, repeats: int = 3, channels_last: bool = False) -> dict:
    """Images/s of sclib.fit and of a bare loop, best of ``repeats`` (alternating), both with
    or both without ``channels_last``."""
    tr, _ = train.load_batches(cfg.dataset, batch_size=cfg.batch_size, n_train=cfg.n_train,
                               device=cfg.device, augment=False)
    res = {"fit": 0.0, "loop": 0.0}
    for _ in range(repeats):
        m = _model(cfg, tr)
        with store.off():  # a stored run would return without training: time the real thing
            h = train.fit(m, tr, None, epochs=cfg.epochs, lr=0.01, schedule={"kind": "onecycle"},
                          channels_last=channels_last, progress=False)
        res["fit"] = max(res["fit"], tr.num_examples * cfg.epochs / sum(h.seconds))
        m = _model(cfg, tr)
        if channels_last:
            m.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
        m.train()
        timing.sync(tr.x.device)
        t0 = time.perf_counter()
        for ep in range(cfg.epochs):
            for x, y in tr:
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                loss = F.cross_entropy(m(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        timing.sync(tr.x.device)
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


def render_vs_train(qd=None, n_drawings: int = 256, steps: int = 4, min_seconds: float = 1.0) -> dict:
    """Drawings/s of the rasterizer on one core (at the chapter's size, width and colouring)
    against training images/s of the chapter's model on batches of that size."""
    import numpy as np

    from . import strokes

    qd = qd or profiles.resolve("quickdraw", "cpu")
    rng = np.random.default_rng(0)
    drawings = [strokes.doodle(strokes.SHAPES[i % len(strokes.SHAPES)], rng) for i in range(n_drawings)]
    per_core = strokes.render_throughput(drawings, qd.image_size, qd.line_width, qd.color_by_order,
                                         min_seconds=min_seconds)
    c = 3 if qd.color_by_order else 1
    k = qd.n_classes or 340
    train.seed_everything(0)
    dev = train.default_device() if qd.device is None else torch.device(qd.device)
    m = models.create(qd.model, k, c).to(dev)
    x = torch.randn(qd.batch_size, c, qd.image_size, qd.image_size, device=dev)
    y = torch.randint(0, k, (qd.batch_size,), device=dev)
    img_s = timing.train_steps(m, x, y, steps)
    return {"render_per_core": per_core, "train": img_s, "ratio": per_core / img_s,
            "size": qd.image_size, "model": qd.model, "cores_needed": img_s / per_core}


def cpu_options(cfg, steps: int = 20, compile: bool = True, repeats: int = 3) -> list:
    """Training images/s of ``cfg.model`` on batches of ``cfg.dataset``'s shape, with each option
    alone: the default, channels_last, one thread instead of all, and ``torch.compile``
    (its one-off compile time reported apart). Returns rows of dicts."""
    tr, _ = train.load_batches(cfg.dataset, batch_size=cfg.batch_size, n_train=cfg.n_train,
                               device=cfg.device, augment=False)
    x, y = next(iter(tr))
    k = int(tr.y.max()) + 1
    threads = torch.get_num_threads()

    def fresh():
        train.seed_everything(0)
        return models.create(cfg.model, k, x.shape[1]).to(x.device)

    def one_thread(m, *a, **k):
        torch.set_num_threads(1)
        try:
            return timing.train_steps(m, *a, **k)
        finally:
            torch.set_num_threads(threads)

    variants = [(f"default (eager, {threads} threads)", lambda: timing.train_steps(fresh(), x, y, steps)),
                ("channels_last", lambda: timing.train_steps(fresh(), x, y, steps, channels_last=True))]
    if threads > 1:
        variants.append(("1 thread", lambda: one_thread(fresh(), x, y, steps)))
        variants.append(("channels_last + 1 thread", lambda: one_thread(fresh(), x, y, steps, channels_last=True)))
    best = {name: 0.0 for name, _ in variants}
    for _ in range(repeats):  # interleaved, best of ``repeats``: other load on the machine is noise
        for name, f in variants:
            best[name] = max(best[name], f())
    rows = [{"option": name, "img_s": v} for name, v in best.items()]
    base = rows[0]["img_s"]
    if compile:
        import logging

        # inductor's "No CUDA runtime is found" on a CPU machine is a fact, not a warning to print
        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
        try:
            m = torch.compile(fresh())
            t0 = time.perf_counter()
            opt = torch.optim.SGD(m.parameters(), lr=0.01)
            for _ in range(2):  # compile forward and backward
                loss = F.cross_entropy(m(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            timing.sync(x.device)
            ctime = time.perf_counter() - t0
            rows.append({"option": "torch.compile", "compile_s": ctime,
                         "img_s": max(timing.train_steps(m, x, y, steps) for _ in range(repeats))})
        except Exception as e:  # no C++ compiler, unsupported platform...
            rows.append({"option": "torch.compile", "img_s": float("nan"),
                         "note": f"failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}"})
    for r in rows:
        r["speedup"] = r["img_s"] / base
    return rows


def book_times(build: bool = True, exclude=()) -> dict:
    """Whole-book costs: the recorded papermill seconds of every executed page (at its profile)
    but those named in ``exclude`` (a page that calls this while it runs cannot time itself),
    a full Jupyter Book build into an empty folder and a rebuild with nothing changed."""
    from . import runner

    pages = {}
    for nb in sorted(runner.BOOK.glob("*.ipynb")):
        if nb.stem in exclude:
            continue
        try:
            meta = json.loads(nb.read_text())["metadata"].get("sclib") or {}
        except (json.JSONDecodeError, KeyError):
            continue
        if "seconds" in meta:
            try:
                stale = runner.stale_reason(nb.stem) is not None
            except FileNotFoundError:  # an executed page whose notebook is gone
                stale = True
            pages[nb.stem] = {"seconds": float(meta["seconds"]),
                              "profile": meta.get("fingerprint", {}).get("profile"), "stale": stale}
    out = {"pages": pages, "execute_s": sum(p["seconds"] for p in pages.values())}
    if build:
        jb = Path(sys.executable).parent / "jupyter-book"
        with tempfile.TemporaryDirectory(prefix="sclib-bench-book-") as d:
            def build_once():
                t0 = time.perf_counter()
                subprocess.run([str(jb), "build", str(runner.ROOT), "--path-output", d],
                               check=True, capture_output=True)
                return time.perf_counter() - t0

            out["full_build_s"] = build_once()
            t0 = time.perf_counter()
            stale = [n for n in runner.notebook_names() if runner.stale_reason(n)]  # what `book` does first
            check_s = time.perf_counter() - t0
            out["rebuild_s"] = check_s + build_once()
            out["stale_now"] = stale
    return out


# ---------------------------------------------------------------- the one-run JSON summary
@contextmanager
def _threads(n: int):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def machine() -> dict:
    """The facts a measurement depends on: CPU model, cores, torch and Python versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "arch": platform.machine(), "cores": executors.cores(),
            "torch": torch.__version__, "python": platform.python_version(),
            "dtype": str(torch.get_default_dtype()).removeprefix("torch.")}


def train_flops(model, x, y) -> float:
    """FLOPs of one training step's forward and backward pass (``FlopCounterMode``; the
    optimizer's element-wise update is not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    model.train()
    with FlopCounterMode(display=False) as fc:
        F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return float(fc.get_total_flops())


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of an ``n``×``n`` matmul in the default dtype on torch's current threads, best of
    ``repeats`` (after one warm-up): what this CPU's cores can do at best."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def settings(cfg, steps: int = 20, repeats: int = 3, threads=None) -> dict:
    """Training img/s on one fixed batch at the cpu setting (``threads``, default all cores,
    channels_last) and at the old setting (1 thread, NCHW), interleaved, best of ``repeats``;
    and the training FLOPs per image."""
    threads = threads or executors.cores()
    tr, _ = train.load_batches(cfg.dataset, batch_size=cfg.batch_size, n_train=cfg.n_train,
                               device="cpu", augment=False)
    x, y = next(iter(tr))
    k = int(tr.y.max()) + 1

    def fresh():
        train.seed_everything(0)
        return models.create(cfg.model, k, x.shape[1])

    best = {"cpu": 0.0, "old": 0.0}
    for _ in range(repeats):
        with _threads(threads):
            best["cpu"] = max(best["cpu"], timing.train_steps(fresh(), x, y, steps, channels_last=True))
        with _threads(1):
            best["old"] = max(best["old"], timing.train_steps(fresh(), x, y, steps))
    return {"cpu_img_s": best["cpu"], "old_img_s": best["old"], "speedup": best["cpu"] / best["old"],
            "threads": threads, "flops_per_image": train_flops(fresh(), x, y) / len(y)}


def fit_job(job: dict):
    """One run of a sweep, ``sclib.train.run(**job)``'s History (module-level: picklable for
    :mod:`sclib.executors`)."""
    return train.run(**job)


def _warm(_job):
    time.sleep(1.0)  # long enough for every worker of the pool to take one


def sweep_jobs(cfg, runs: int = 4, n_test: int | None = 1000) -> list:
    """``runs`` small runs (seeds 0, 1, ...) at ``cfg``'s data, model and batch, channels_last."""
    return [dict(dataset=cfg.dataset, model=cfg.model, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=0.05,
                 n_train=cfg.n_train, n_test=n_test, seed=s, schedule={"kind": "onecycle"}, augment=False,
                 channels_last=True, device="cpu", progress=False) for s in range(runs)]


def sweep_speedup(cfg, runs: int = 4, n_test: int | None = 1000, workers=None) -> dict:
    """Wall clock of a sweep of :func:`sweep_jobs` run by the ``serial`` executor (all cores as
    torch threads in this process) and by ``processes`` (``workers`` processes, default one per
    core, cores // workers threads each; its pool started beforehand, the start timed apart).
    The run store is off: both train everything."""
    jobs = sweep_jobs(cfg, runs, n_test)
    workers, threads = executors.plan("processes", workers)
    with store.off():
        t0 = time.perf_counter()  # the pool's processes start (and import torch) here
        executors.run(_warm, range(workers), executor="processes", workers=workers, progress=False)
        start = time.perf_counter() - t0
        t0 = time.perf_counter()
        executors.run(fit_job, jobs, executor="serial", threads=executors.cores(), progress=False)
        serial_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        executors.run(fit_job, jobs, executor="processes", workers=workers, progress=False)
        par_s = time.perf_counter() - t0
    return {"runs": runs, "workers": workers, "threads": threads, "serial_s": serial_s, "processes_s": par_s,
            "speedup": serial_s / par_s, "pool_start_s": start}


def summary(cfg, *, repeats: int = 3, steps: int = 20, matmul_n: int = 2048, sweep_runs: int = 4,
            sweep_n_test: int | None = 1000) -> dict:
    """The JSON summary (module docstring): one run, on the CPU (``cfg.device`` is ignored)."""
    cfg = SimpleNamespace(**dict(vars(cfg), device="cpu"))
    cores = executors.cores()
    st = settings(cfg, steps=steps, repeats=repeats, threads=cores)
    with _threads(cores):
        fit = fit_vs_loop(cfg, repeats=repeats, channels_last=True)
        mm = matmul_gflops(matmul_n, repeats=max(3, repeats))
    sw = sweep_speedup(cfg, runs=sweep_runs, n_test=sweep_n_test)
    train_gflops = st["cpu_img_s"] * st["flops_per_image"] / 1e9
    return {
        "fit_ratio": fit["ratio"],
        "old_setting_speedup": st["speedup"],
        "machine_fraction": train_gflops / mm,
        "sweep_speedup": sw["speedup"],
        "machine": dict(machine(), threads=cores),
        "setting": {"profile": getattr(cfg, "profile", None), "dataset": cfg.dataset, "model": cfg.model,
                    "batch_size": cfg.batch_size, "n_train": cfg.n_train, "epochs": cfg.epochs,
                    "channels_last": True, "device": "cpu"},
        "measured": {"fit_img_s": fit["fit"], "loop_img_s": fit["loop"], "cpu_setting_img_s": st["cpu_img_s"],
                     "old_setting_img_s": st["old_img_s"], "train_gflop_per_image": st["flops_per_image"] / 1e9,
                     "train_gflops": train_gflops, "matmul_gflops": mm, "matmul_n": matmul_n,
                     "sweep": sw},
    }


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m sclib.bench")
    p.add_argument("--profile", default="cpu", choices=profiles.PROFILES)
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile measurement")
    p.add_argument("--no-build", action="store_true", help="skip the two book builds")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: fit_ratio, old_setting_speedup, machine_fraction, "
                        "sweep_speedup and the machine (see the module docstring)")
    a = p.parse_args(argv)
    cfg = profiles.resolve("performance", a.profile)
    if a.json:
        print(json.dumps(summary(cfg), indent=1), flush=True)
        return
    print(f"benchmarks at profile {a.profile}: {cfg.model} on {cfg.dataset}, batch {cfg.batch_size}, "
          f"{torch.get_num_threads()} torch threads", flush=True)
    r = fit_vs_loop(cfg)
    print(f"1. sclib.fit {r['fit']:.0f} img/s, hand-written loop {r['loop']:.0f} img/s, "
          f"ratio {r['ratio']:.3f} (target >= 0.95)", flush=True)
    r = iterator_vs_dataloader(cfg)
    print(f"2. Batches {r['batches']:.0f} img/s, DataLoader {r['dataloader']:.0f} img/s, "
          f"ratio {r['ratio']:.1f}", flush=True)
    qd = profiles.resolve("quickdraw", a.profile)
    r = render_vs_train(qd)
    print(f"3. rasterizer {r['render_per_core']:.0f} drawings/s per core at {r['size']}px, training "
          f"{r['model']} {r['train']:.0f} img/s: ratio {r['ratio']:.1f} (target >= 10)", flush=True)
    b = book_times(build=not a.no_build)
    per = ", ".join(f"{n} {v['seconds'] / 60:.1f}" for n, v in b["pages"].items())
    worst = max((v["seconds"] for v in b["pages"].values()), default=0.0)
    print(f"4. whole book from a fresh clone (sum of the recorded execution seconds of book/*.ipynb, "
          f"one page after another{'' if a.no_build else ', plus one full build'}): "
          f"{(b['execute_s'] + b.get('full_build_s', 0)) / 60:.1f} min (target <= 180); "
          f"slowest page {worst / 60:.1f} min (target <= 20); per page (min): {per}", flush=True)
    if not a.no_build:
        print(f"   full build {b['full_build_s']:.1f} s; rebuild with nothing changed {b['rebuild_s']:.1f} s "
              f"(target <= 60)", flush=True)
    print("CPU options (training img/s relative to the default; keep only what is > 1):")
    for row in cpu_options(cfg, compile=not a.no_compile):
        extra = f", compile {row['compile_s']:.0f} s once" if "compile_s" in row else row.get("note", "")
        print(f"   {row['option']:32s} {row['img_s']:8.0f} img/s  x{row['speedup']:.2f}{extra}", flush=True)


if __name__ == "__main__":
    main()
