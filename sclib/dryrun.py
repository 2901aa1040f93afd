"""Dry run of a chapter: every code path of a profile on the CPU, two steps per run, and a plan.

``python -m sclib run NAME --profile gpu --dry-run`` executes ``notebooks/NAME.ipynb`` with the
profile's parameters, as ``sclib run`` would, but on the CPU and at a tiny size, and prints the
runs the profile plans and the GPU time they need. Nothing is written to ``book/``, ``runs/`` or
the run store; the executed copy goes to a temporary file (or to ``--out``).

What changes in the dry run (in the notebook's kernel and in every Python process it starts,
torchrun workers included; installed by ``sclib/site/sitecustomize.py`` when ``SCLIB_DRYRUN`` is
set, never in a normal run):

- **Data.** Every dataset is read as usual (the real files where they are; synthetic stand-ins
  in exactly the on-disk format ``sclib.data`` reads where they are not: a CIFAR-10 JPEG
  tarball, Fashion-MNIST idx files, Oxflower17 class folders, a ``tiny-imagenet-200`` folder, and
  Quick, Draw! ndjson files), then ``sclib.data.subset`` keeps a class-balanced handful
  (:data:`TINY` per subset, at least one example per class) and every
  ``sclib.data.Batches`` caps its batch size (:data:`TINY_BATCH`, fewer for larger images).
  The sizes the profile asked for are remembered for the plan.
- **Training.** ``sclib.train.fit`` is wrapped. A run without hooks trains the real model for
  :data:`PLAIN_STEPS` optimizer steps, then the same call (epochs, schedule, optimizer, mixup,
  teacher, batch schedule...) is repeated on a one-layer stand-in so that the returned History
  has exactly the shape the page expects (every epoch, every step's LR and momentum). A sweep
  (hooks and ``max_steps``: range tests, probes) stops after :data:`HOOK_STEPS` steps; a watched
  run (hooks, no ``max_steps``: MAP@3 per epoch, gradient norms, Adam's second moment) runs
  all its epochs at the tiny size. The accuracy range test keeps one step per evaluation.
- **Repeats.** The real model trains once per *configuration* in a process (:func:`_signature`:
  the model and its options, the input shape, the optimizer, precision, memory format, weight
  decay, mixup, label smoothing, batch schedule, teacher; not the LR, schedule, seed or epochs,
  which the stand-in exercises as well). A repeat skips the real model's steps and trains only
  the stand-in; a sweep or watched run does so only when its hooks read nothing of the model
  being trained (:func:`sclib.lr_finder.range_test`: each step's loss and LR;
  :func:`sclib.clr_study.train_eval`: it scores the model it built after an epoch, which on a
  repeat is that model untrained: other numbers, the same code). Other fit hooks (Adam's
  moments, MAP@3 per epoch, the accuracy range test) always get the real model. A forward hook
  that a caller puts on the model fires only in a run that trains it: the first of its
  configuration in the process, or a hooked run (``distributed``'s is the first run of its
  torchrun worker; ``autotune``'s BatchNorm tracker watches hooked runs). So
  kth_verification's 13 range-test probes of one VGG16-BN at 128×128 are one real sweep and
  twelve on the stand-in.
- **Device** ``cpu`` (CUDA hidden), the run store off, no progress bars; ``performance``'s
  ``bench_compile`` (a minute of torch.compile on CPU) and ``bench_build`` (two Jupyter Book
  builds) are turned off (:data:`DRY_OVERRIDES`).

The plan: every run appends one line (model, input shape, dataset, the epochs, training images
and evaluations the profile asked for, forward FLOPs per image counted once per model and shape
with ``torch.utils.flop_counter.FlopCounterMode``) to a JSON-lines file; :func:`gpu_seconds`
turns a line into GPU time with the stated assumptions (:data:`DEVICE`).
"""
from __future__ import annotations

import functools
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(__file__).resolve().parent / "site"     # holds the sitecustomize.py of dry runs

# ------------------------------------------------------------------ sizes of the dry run
TINY = 16            #: examples kept per subset of a dataset (at least one per class)
TINY_BATCH = 8       #: largest batch for 32×32 images (scaled down with the image area, >= 2)
PLAIN_STEPS = 2      #: optimizer steps of the real model in a run without hooks
HOOK_STEPS = 12      #: steps of a sweep with hooks and max_steps (a range test needs >= 8 points)

#: Parameters the dry run changes besides ``device`` (``cpu``) and missing data roots.
DRY_OVERRIDES = {
    "performance": {"bench_compile": False, "bench_build": False},
}
DRY_OVERRIDE_WHY = {
    "bench_compile": "torch.compile takes about a minute of compiling on CPU",
    "bench_build": "two full Jupyter Book builds, no training",
}

#: Full sizes (train, test) of each dataset: what the plan counts when a synthetic stand-in
#: is read instead (the real files give their own sizes).
NOMINAL = {"digits": (1438, 359), "fashion_mnist": (60000, 10000), "cifar10": (50000, 10000),
           "oxflower17": (1088, 272), "tinyimagenet": (100000, 10000)}
#: Quick, Draw!: classes and drawings per class the dry run keeps, and what the plan counts for
#: the synthetic stand-in of real drawings (the shared 25-per-class sample's size).
QD_CLASSES, QD_PER_CLASS = 4, 6
QUICKDRAW_SAMPLE = (344, 25)

# ------------------------------------------------------------------ the GPU time model
#: The device the plan is priced on and the assumptions, printed with every estimate. A run
#: costs (3 × forward FLOPs × training images + forward FLOPs × evaluated images) / ``flops``
#: plus ``step_s`` per layer (conv, linear, norm) per optimizer step and ``eval_s`` per layer per
#: evaluated batch: kernel launches, which dominate for small CIFAR networks in float32 eager
#: PyTorch. Calibrate with the times ``sclib gpu`` records (runs/gpu-log.json).
DEVICE = dict(name="NVIDIA H200", flops=50e12, step_s=30e-6, eval_s=10e-6,
              note="50 TFLOP/s achieved = ~10% of the H200's ~495 TFLOP/s dense TF32 peak (float32 "
                   "weights, cuDNN convolutions in TF32, deterministic algorithms), plus 30 µs per "
                   "layer per optimizer step and 10 µs per layer per evaluated batch of 1000")


#: fit() options that change what the real model's forward and backward pass, or its optimizer,
#: do (a repeat of all of them trains only the stand-in); the LR, schedule, momentum, epochs and
#: seed do not: the stand-in's run takes those code paths just as well.
_MODEL_OPTIONS = ("optimizer", "precision", "channels_last", "weight_decay", "mixup_alpha", "label_smoothing",
                  "batch_schedule", "distill_T")


def _option_key(v) -> str:
    """A fit() option as a key: a callable by its name (``sclib.optim.make`` names the optimizer it
    builds), a partial by its function and arguments; never a repr with a memory address."""
    if isinstance(v, functools.partial):
        return f"partial({_option_key(v.func)}, {v.args!r}, {sorted(v.keywords.items())!r})"
    if callable(v):
        return f"{getattr(v, '__module__', '')}.{getattr(v, '__name__', type(v).__name__)}"
    return repr(v)


def _signature(line: dict, model, has_test: bool, kw: dict) -> tuple:
    """The configuration of a run whose real-model code paths a dry run exercises once: the plan
    line's kind, model, input shape and batch, the model's parameters (how many, which train,
    their dtypes), whether it is evaluated, and the options in :data:`_MODEL_OPTIONS`."""
    def params(m):
        if m is None:
            return None
        ps = list(m.parameters())
        return (type(m).__name__, getattr(m, "_sclib_name", ""), sum(p.numel() for p in ps),
                sum(p.numel() for p in ps if p.requires_grad), tuple(sorted({str(p.dtype) for p in ps})))
    opts = tuple((k, bool(kw[k]) if k in ("weight_decay", "mixup_alpha", "label_smoothing") else _option_key(kw[k]))
                 for k in _MODEL_OPTIONS if kw.get(k) not in (None, False, 0, 0.0, "sgd", "fp32"))
    return (line["kind"], line["model"], line["layers"], tuple(line["shape"]), line["batch"], has_test, opts,
            params(model), params(kw.get("teacher")))


def gpu_seconds(line: dict) -> float:
    """Estimated GPU seconds of one plan line (see :data:`DEVICE`)."""
    flops = (line["train_images"] * (3 * line["fwd_flops"] + line.get("teacher_flops", 0.0))
             + line["eval_images"] * line["fwd_flops"])
    return (flops / DEVICE["flops"] + line["steps"] * line["layers"] * DEVICE["step_s"]
            + line["eval_images"] / 1000 * line["layers"] * DEVICE["eval_s"])


# ================================================================== inside the kernel
_STATE: dict = {}


def _tag(labels, dataset, n):
    labels._sclib_plan = (dataset, int(n))


def _tag_of(labels):
    return getattr(labels, "_sclib_plan", None)


def _record(line: dict) -> None:
    if os.environ.get("RANK", "0") != "0":  # torchrun: one line per run, from rank 0
        return
    line = dict(line, chapter=_STATE["chapter"], pid=os.getpid())
    with open(_STATE["plan"], "a") as f:
        f.write(json.dumps(line) + "\n")


def set_data_paths(cifar10_tarball=None, fashion_mnist_dir=None) -> None:
    """Point ``sclib.data``'s default places at other files (this process only): a CIFAR-10
    JPEG tarball and a folder of Fashion-MNIST idx files. Used by dry runs (synthetic stand-ins)
    and by ``sclib gpu --data DIR`` (the real files carried to another machine)."""
    from . import data

    if cifar10_tarball:
        data.CIFAR10_TARBALLS = (Path(cifar10_tarball),)
    if fashion_mnist_dir:
        data.FASHION_MNIST_DIRS = (str(fashion_mnist_dir),)


def on_start() -> None:
    """Called by ``sclib/site/sitecustomize.py`` at the start of every Python process of a dry
    run (``SCLIB_DRYRUN`` = its configuration file) or of ``sclib gpu`` (``SCLIB_DATA`` = JSON of
    :func:`set_data_paths`' arguments)."""
    if os.environ.get("SCLIB_DATA"):
        set_data_paths(**json.loads(os.environ["SCLIB_DATA"]))
    if os.environ.get("SCLIB_DRYRUN"):
        install(json.loads(Path(os.environ["SCLIB_DRYRUN"]).read_text()))


def install(cfg: dict) -> None:
    """Install the dry run's patches in this process (see the module docstring)."""
    import torch

    from . import bench, data, lr_finder, models, strokes, superconv, timing, train

    if _STATE:
        return
    _STATE.update(chapter=cfg["chapter"], plan=cfg["plan"], synthetic=cfg.get("synthetic", {}),
                  flops={}, next={}, mult=1.0, qd={}, doodles={}, trained=set(), free_hooks=0)
    set_data_paths(cfg.get("synthetic", {}).get("cifar10_tarball"),
                   cfg.get("synthetic", {}).get("fashion_mnist_dir"))
    orig = dict(load=data.load, subset=data.subset, Batches=data.Batches, fit=train.fit,
                create=models.create, acc_rt=superconv.accuracy_range_test,
                train_steps=timing.train_steps, fit_vs_loop=bench.fit_vs_loop,
                load_split=strokes.load_split, pre_bytes=strokes.pre_rendered_bytes,
                write_doodles=strokes.write_doodles)
    syn = _STATE["synthetic"]
    loaded = {}

    def is_synthetic(name, root):
        if name in ("cifar10", "fashion_mnist"):
            return root is None and bool(syn.get({"cifar10": "cifar10_tarball",
                                                  "fashion_mnist": "fashion_mnist_dir"}[name]))
        if name in ("oxflower17", "tinyimagenet"):
            return root is not None and str(root) == str(syn.get(f"{name}_root"))
        return False

    def load(name, split="train", root=None, download=False):
        key = (name, split, str(root))
        if key not in loaded:  # decoded once per process: a chapter loads its data many times
            x, y = orig["load"](name, split, root=root, download=download)
            n = NOMINAL[name][split == "test"] if is_synthetic(name, root) else len(y)
            loaded[key] = (x, y, n)
        x, y, n = loaded[key]
        _tag(y, name, n)
        return x, y

    def subset(images, labels, n, seed=0):
        name, full = _tag_of(labels) or (None, len(labels))
        classes = len(labels.unique())
        # the size sclib.data.subset gives at full size: n // classes per class (0 for n < classes)
        planned = full if n is None or n >= full else (n // classes) * classes
        if planned == 0:  # empty at full size too: the same result, and the same error after it
            return orig["subset"](images, labels, n, seed=seed)
        k = min(len(labels), max(TINY, classes), planned)
        xs, ys = orig["subset"](images, labels, k, seed=seed)
        if ys is labels:  # the whole (tiny) set: a copy, so the loaded tensor keeps its own tag
            xs, ys = xs.clone(), ys.clone()
        _tag(ys, name, planned)
        return xs, ys

    class Batches(orig["Batches"]):
        """``sclib.data.Batches`` with its batch size capped (the asked-for one is kept for the plan)."""

        def __post_init__(self):
            tag = _tag_of(self.labels)
            self._plan_dataset, self._plan_n = tag if tag else (None, len(self.labels))
            self._plan_bs = self.batch_size
            bs = self.batch_size
            if isinstance(bs, int) and not isinstance(bs, bool) and bs > 0:
                if bs > self._plan_n:  # what the full-size data would say
                    raise ConfigError(f"batch_size={bs} is larger than the data ({self._plan_n} examples)")
                h, w = self.images.shape[-2:]
                cap = max(2, min(TINY_BATCH, TINY_BATCH * 1024 // max(1, h * w)))
                self.batch_size = max(1, min(bs, cap, len(self.labels)))
            super().__post_init__()

    def create(name, num_classes, in_channels=3, **kw):
        m = orig["create"](name, num_classes, in_channels, **kw)
        m._sclib_name = name + "".join(f" {k}={v}" for k, v in kw.items())
        return m

    def flops_of(model, shape):
        from torch.utils.flop_counter import FlopCounterMode

        if model is None:
            return 0.0
        nparams = sum(p.numel() for p in model.parameters())
        key = (type(model).__name__, getattr(model, "_sclib_name", ""), nparams, tuple(shape))
        if key not in _STATE["flops"]:
            p = next(model.parameters(), None)
            x = torch.zeros((2, *shape), dtype=p.dtype if p is not None else torch.get_default_dtype(),
                            device=p.device if p is not None else "cpu")
            was = model.training
            model.eval()
            try:
                with torch.no_grad(), FlopCounterMode(display=False) as fc:
                    model(x)
            finally:
                model.train(was)
            _STATE["flops"][key] = fc.get_total_flops() / 2
        return _STATE["flops"][key]

    def layers_of(model):
        kinds = (torch.nn.modules.conv._ConvNd, torch.nn.Linear, torch.nn.modules.batchnorm._NormBase,
                 torch.nn.GroupNorm, torch.nn.LayerNorm)
        return sum(isinstance(m, kinds) for m in model.modules())

    def input_shape(batches):
        if getattr(batches, "x", None) is not None and batches.x.dim() == 4 and batches.x.numel():
            return list(batches.x.shape[1:])
        r = getattr(batches, "render", None)  # strokes.RenderedBatches: no stored images
        if r:
            return [3 if r.get("color_by_order") else 1, r["size"], r["size"]]
        x, _ = next(iter(batches))
        return list(x.shape[1:])

    def plan_line(model, tr, te, epochs, kw, kind):
        nxt, _STATE["next"] = _STATE["next"], {}
        shape = input_shape(tr)
        tag = _tag_of(getattr(tr, "y", None)) or (None, tr.num_examples)  # strokes.RenderedBatches
        dataset = getattr(tr, "_plan_dataset", tag[0]) or (kw.get("config") or {}).get("dataset")
        n = getattr(tr, "_plan_n", tag[1])
        bs = getattr(tr, "_plan_bs", tr.batch_size)
        bsched = kw.get("batch_schedule")
        per_epoch = []
        for e in range(epochs):
            b = bs
            if bsched:
                b = round(bs * bsched.get("factor", 2) ** sum(e >= m for m in bsched["milestones"]))
            per_epoch.append((math.ceil(n / b), b))
        max_steps = nxt.get("max_steps", kw.get("max_steps"))
        steps, images, ran = 0, 0, 0
        for s, b in per_epoch:
            if max_steps is not None and steps >= max_steps:
                break
            take = s if max_steps is None else min(s, max_steps - steps)
            steps, images, ran = steps + take, images + min(take * b, n), ran + 1
        te_n = getattr(te, "_plan_n", te.num_examples) if te is not None else 0
        evals = ran * te_n + nxt.get("eval_images", 0)
        m = _STATE["mult"]
        return (dict(kind=kind, model=getattr(model, "_sclib_name", type(model).__name__),
                     dataset=dataset or "?", shape=shape, epochs=ran, steps=steps * m,
                     train_images=images * m, eval_images=evals, batch=bs,
                     fwd_flops=flops_of(model, shape), teacher_flops=flops_of(kw.get("teacher"), shape),
                     layers=layers_of(model)))

    class StandIn(torch.nn.Module):
        """One linear layer on 2×2-pooled images: the History's shape at no cost."""

        def __init__(self, c, k):
            super().__init__()
            self.pool = torch.nn.AdaptiveAvgPool2d(2)
            self.fc = torch.nn.Linear(4 * c, k)

        def forward(self, x):
            return self.fc(self.pool(x).flatten(1))

    def n_outputs(model, tr):
        lin = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        return lin[-1].out_features if lin else int(tr.y.max()) + 1

    def fit(model, train_b, test=None, **kw):
        epochs = kw["epochs"]
        hooks = kw.get("on_step") is not None or kw.get("on_epoch") is not None
        kind = "sweep" if hooks and (kw.get("max_steps") is not None or "max_steps" in _STATE["next"]) else \
            "watched" if hooks else "run"
        keep = _STATE["next"].pop("keep_steps", False)
        line = plan_line(model, train_b, test, epochs, kw, kind)
        sig = _signature(line, model, test is not None, kw)
        repeat = sig in _STATE["trained"] and (not hooks or _STATE["free_hooks"] > 0)
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            h = _fit_small(model, train_b, test, hooks, keep, kw, repeat)
            _STATE["trained"].add(sig)  # only a real run that finished counts
            return h
        finally:
            _record(dict(line, dry_s=round(time.perf_counter() - t0, 2),
                         dry_cpu_s=round(time.process_time() - c0, 2), repeat=repeat))

    def fit_stand_in(model, train_b, test, kw):
        """The same fit() call on a one-layer stand-in (and a stand-in teacher): the History's shape."""
        torch.manual_seed(0)
        c = input_shape(train_b)[0]
        shape_kw = dict(kw, progress=False)
        if kw.get("teacher") is not None:
            shape_kw["teacher"] = StandIn(c, n_outputs(kw["teacher"], train_b))
        return orig["fit"](StandIn(c, n_outputs(model, train_b)), train_b, test, **shape_kw)

    def _fit_small(model, train_b, test, hooks, keep, kw, repeat=False):
        if hooks:
            if kw.get("max_steps") is not None and not keep:
                kw["max_steps"] = min(kw["max_steps"], HOOK_STEPS)
            if repeat:  # hooks that read only the loss and LR, or score the model they built
                return fit_stand_in(model, train_b, test, kw)
            return orig["fit"](model, train_b, test, **kw)
        bsched = kw.get("batch_schedule")
        if bsched and isinstance(train_b, orig["Batches"]):  # room for the grown batch in the tiny data
            grow = bsched.get("factor", 2) ** len(bsched.get("milestones", []))
            base = max(2, min(train_b.batch_size, train_b.num_examples // math.ceil(grow)))
            reps = max(1, math.ceil(math.ceil(base * grow) / train_b.num_examples))
            train_b = Batches(train_b.images.repeat(reps, 1, 1, 1), train_b.labels.repeat(reps), base,
                              shuffle=train_b.shuffle, flip=train_b.flip, crop_pad=train_b.crop_pad,
                              seed=train_b.seed, device=train_b.device, mean=train_b.mean, std=train_b.std)
        if not repeat:  # the real model's code paths, once per configuration
            steps = kw.get("max_steps")
            orig["fit"](model, train_b, test, **dict(kw, max_steps=min(steps or PLAIN_STEPS, PLAIN_STEPS)))
        return fit_stand_in(model, train_b, test, kw)

    def accuracy_range_test(model, train_batches, test_batches, *, start_lr=0.0, end_lr=3.0,
                            num_iter=100, n_evals=10, **kw):
        from .errors import check_number

        check_number("num_iter", num_iter, lo=2, integer=True)  # the full-size checks first
        check_number("n_evals", n_evals, lo=1, hi=num_iter, integer=True)
        te_n = getattr(test_batches, "_plan_n", test_batches.num_examples)
        _STATE["next"] = dict(max_steps=num_iter, eval_images=n_evals * te_n, keep_steps=True)
        return orig["acc_rt"](model, train_batches, test_batches, start_lr=start_lr, end_lr=end_lr,
                              num_iter=max(2, n_evals), n_evals=n_evals, **kw)

    def train_steps(model, x, y, steps, channels_last=False):
        shape = list(x.shape[1:])
        _record(dict(kind="bench", dry_s=0.0, model=getattr(model, "_sclib_name", type(model).__name__), dataset="-",
                     shape=shape, epochs=0, steps=steps + 1, train_images=(steps + 1) * len(x),
                     eval_images=0, batch=len(x), fwd_flops=flops_of(model, shape), teacher_flops=0.0,
                     layers=layers_of(model)))
        return orig["train_steps"](model, x[:2], y[:2], min(steps, PLAIN_STEPS), channels_last=channels_last)

    def fit_vs_loop(cfg, repeats=3, **kw):
        _STATE["mult"] = 2.0  # each fit is timed against a hand-written loop over the same data
        try:
            return orig["fit_vs_loop"](cfg, repeats=repeats, **kw)
        finally:
            _STATE["mult"] = 1.0

    def write_doodles(root, *, n_classes=10, per_class=1000, **kw):
        _STATE["doodles"][str(Path(root).resolve())] = per_class
        return orig["write_doodles"](root, n_classes=n_classes, per_class=min(per_class, QD_PER_CLASS + 2), **kw)

    def planned_drawings(root, n_classes, per_class):
        """(classes, drawings per class) the full-size run would read from ``root``."""
        key = str(Path(root).resolve())
        if key in _STATE["doodles"]:
            per = _STATE["doodles"][key]
            files = strokes.class_files(root)
            return n_classes or len(files), min(per_class or per, per)
        if key == str(Path(syn.get("quickdraw_root", "/nonexistent")).resolve()):
            return n_classes or QUICKDRAW_SAMPLE[0], min(per_class or QUICKDRAW_SAMPLE[1], QUICKDRAW_SAMPLE[1])
        files = strokes.class_files(root)
        first = next(iter(files.values()))
        try:
            per = sum(1 for _ in open(first)) if first.suffix == ".ndjson" else (per_class or 1000)
        except OSError:
            per = per_class or 1000
        return n_classes or len(files), min(per_class or per, per)

    def load_split(root, *, n_classes=None, per_class=None, val_fraction=0.1, **kw):
        import torch as _t

        n_cls, per = planned_drawings(root, n_classes, per_class)
        ds = orig["load_split"](root, n_classes=min(n_classes, QD_CLASSES) if n_classes else None,
                                per_class=min(per_class or QD_PER_CLASS, QD_PER_CLASS),
                                val_fraction=val_fraction, **kw)
        if len(ds.classes) > QD_CLASSES:  # keep the first classes (labels stay 0..k-1)
            for part in (ds.train, ds.val):
                keep = [i for i, y in enumerate(part.labels.tolist()) if y < QD_CLASSES]
                part.drawings = [part.drawings[i] for i in keep]
                part.key_ids = [part.key_ids[i] for i in keep]
                part.labels = part.labels[_t.tensor(keep, dtype=_t.long)] if keep else part.labels[:0]
            ds.classes = ds.classes[:QD_CLASSES]
        n_val = max(1, round(val_fraction * per)) if per > 1 else 0
        _tag(ds.train.labels, "quickdraw", n_cls * (per - n_val))
        _tag(ds.val.labels, "quickdraw", n_cls * n_val)
        _STATE["qd"][len(ds.train.labels)] = n_cls * (per - n_val)
        return ds

    def pre_rendered_bytes(n_drawings, size, channels):
        # the planned number of drawings decides between pre-rendering and rendering on the fly
        return orig["pre_bytes"](_STATE["qd"].get(n_drawings, n_drawings), size, channels)

    def split(batches, val_fraction, seed=0):
        tr, va = orig_split(batches, val_fraction, seed)
        n = getattr(batches, "_plan_n", batches.num_examples)
        n_val = max(1, int(round(n * val_fraction)))
        tr._plan_n, tr._plan_bs = n - n_val, getattr(batches, "_plan_bs", batches.batch_size)
        va._plan_n = n_val
        tr._plan_dataset = va._plan_dataset = getattr(batches, "_plan_dataset", None)
        return tr, va

    def model_free_hooks(fn):
        """``fn``'s fit hooks read the step's loss and LR, or score the model it built after an
        epoch (on a repeat: that model untrained), nothing else of it: a repeat of its
        configuration may train the stand-in under them (module docstring, "Repeats")."""
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            _STATE["free_hooks"] += 1
            try:
                return fn(*args, **kwargs)
            finally:
                _STATE["free_hooks"] -= 1
        return wrapped

    from . import autotune, clr_study

    lr_finder.range_test = model_free_hooks(lr_finder.range_test)
    clr_study.train_eval = model_free_hooks(clr_study.train_eval)
    orig_split = autotune.split
    data.load, data.subset, data.Batches = load, subset, Batches
    train.fit = lr_finder.fit = fit
    models.create = create
    superconv.accuracy_range_test = accuracy_range_test
    timing.train_steps, bench.fit_vs_loop = train_steps, fit_vs_loop
    strokes.load_split, strokes.pre_rendered_bytes, strokes.write_doodles = load_split, pre_rendered_bytes, write_doodles
    autotune.split = split

    from . import lr_rules

    orig_mask = lr_rules.subset_mask

    def subset_mask(labels, n, seed=0):
        """lr_rules' training-subset mask on a tiny stand-in: at full size a subset smaller than the
        split leaves images for its held-out set, so one image per class stays out here too."""
        full = (_tag_of(labels) or (None, len(labels)))[1]
        classes = len(labels.unique())
        if n is not None and n < full and n >= len(labels) - classes:
            n = max(classes, len(labels) - classes)
        return orig_mask(labels, n, seed=seed)

    lr_rules.subset_mask = subset_mask
    _record(dict(kind="installed"))


# ================================================================== synthetic stand-ins
def _atomic_dir(final: Path, build) -> Path:
    """Build a folder once: into a temporary sibling, then renamed (concurrent dry runs agree)."""
    if final.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        build(tmp)
        try:
            os.replace(tmp, final)
        except OSError:  # another process made it first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _images(rng, n, size, c=3):
    import numpy as np

    base = rng.integers(0, 256, size=(n, 1, 1, c))
    noise = rng.integers(-40, 41, size=(n, size, size, c))
    return np.clip(base + noise, 0, 255).astype("uint8")


def _jpeg(arr) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _write_cifar10(d: Path) -> None:
    import io
    import tarfile

    import numpy as np

    from .data import CIFAR10_CLASSES

    rng = np.random.default_rng(0)
    with tarfile.open(d / "cifar10-jpeg.tar.gz", "w:gz") as tf:
        for split, per in (("train", 4), ("test", 2)):
            for cls in CIFAR10_CLASSES:
                for i, img in enumerate(_images(rng, per, 32)):
                    b = _jpeg(img)
                    info = tarfile.TarInfo(f"{split}/{cls}/{i:04d}.jpg")
                    info.size = len(b)
                    tf.addfile(info, io.BytesIO(b))


def _write_fashion_mnist(d: Path) -> None:
    import gzip
    import struct

    import numpy as np

    rng = np.random.default_rng(0)
    for prefix, per in (("train", 4), ("t10k", 2)):
        y = np.repeat(np.arange(10, dtype=np.uint8), per)
        x = _images(rng, len(y), 28, 1)[..., 0]
        with gzip.open(d / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">HBB", 0, 8, 3) + struct.pack(">III", *x.shape) + x.tobytes())
        with gzip.open(d / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">HBB", 0, 8, 1) + struct.pack(">I", len(y)) + y.tobytes())


def _write_oxflower17(d: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    for c in range(17):
        (d / f"class_{c:02d}").mkdir()
        for i, img in enumerate(_images(rng, 5, 40)):
            (d / f"class_{c:02d}" / f"image_{c * 5 + i:04d}.jpg").write_bytes(_jpeg(img))


def _write_tinyimagenet(d: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    wnids = [f"n{i:08d}" for i in range(200)]
    for w in wnids:
        (d / "train" / w / "images").mkdir(parents=True)
        for i, img in enumerate(_images(rng, 2, 64)):
            (d / "train" / w / "images" / f"{w}_{i}.JPEG").write_bytes(_jpeg(img))
    (d / "val" / "images").mkdir(parents=True)
    lines = []
    for i, (w, img) in enumerate(zip(wnids, _images(rng, len(wnids), 64))):
        (d / "val" / "images" / f"val_{i}.JPEG").write_bytes(_jpeg(img))
        lines.append(f"val_{i}.JPEG\t{w}\t0\t0\t63\t63")
    (d / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")


def _write_quickdraw(d: Path) -> None:
    from . import strokes

    strokes.write_doodles(d, n_classes=3, per_class=12, label_noise=0.1, seed=0)


def _real_cifar10() -> bool:
    from . import data

    return any(Path(p).exists() for p in data.CIFAR10_TARBALLS)


def _real_fashion_mnist() -> bool:
    from . import data

    return any((Path(d) / f"train-images-idx3-ubyte{s}").exists()
               for d in data.FASHION_MNIST_DIRS for s in (".gz", ""))


def stand_ins(synthetic: bool = False) -> dict:
    """Synthetic datasets in ``sclib.data``'s on-disk formats, made once in the data cache
    (``$SCLIB_CACHE/dryrun-data``): every dataset that has no real files here (all of them with
    ``synthetic=True``). Returns the paths the dry run uses (keys of :func:`set_data_paths` and
    the chapters' root parameters)."""
    from . import data

    base = data.cache_dir() / "dryrun-data-v1"
    out = {}
    if synthetic or not _real_cifar10():
        out["cifar10_tarball"] = str(_atomic_dir(base / "cifar10", _write_cifar10) / "cifar10-jpeg.tar.gz")
    if synthetic or not _real_fashion_mnist():
        out["fashion_mnist_dir"] = str(_atomic_dir(base / "fashion-mnist", _write_fashion_mnist))
    out["oxflower17_root"] = str(_atomic_dir(base / "oxflower17", _write_oxflower17))
    out["tinyimagenet_root"] = str(_atomic_dir(base / "tiny-imagenet-200", _write_tinyimagenet))
    out["quickdraw_root"] = str(_atomic_dir(base / "quickdraw", _write_quickdraw))
    return out


# ================================================================== the dry run (parent side)
@dataclass
class DryRun:
    """What a dry run did and planned."""

    chapter: str
    profile: str
    params: dict
    seconds: float
    lines: list = field(default_factory=list)   # plan lines (dicts), one per run
    synthetic: dict = field(default_factory=dict)
    out: Path | None = None

    @property
    def runs(self) -> int:
        return len(self.lines)

    @property
    def gpu_seconds(self) -> float:
        return sum(gpu_seconds(l) for l in self.lines)

    def groups(self) -> list:
        """Plan lines grouped by (kind, model, dataset, input shape), most expensive first."""
        g = {}
        for l in self.lines:
            k = (l["kind"], l["model"], l["dataset"], "×".join(map(str, l["shape"])))
            a = g.setdefault(k, dict(kind=k[0], model=k[1], dataset=k[2], shape=k[3], runs=0, epochs=0,
                                     steps=0, train_images=0, eval_images=0, fwd_flops=l["fwd_flops"],
                                     seconds=0.0, dry_s=0.0))
            a["runs"] += 1
            for key in ("epochs", "steps", "train_images", "eval_images", "dry_s"):
                a[key] += l.get(key, 0)
            a["seconds"] += gpu_seconds(l)
        return sorted(g.values(), key=lambda a: -a["seconds"])


class DryRunFailed(ConfigError):
    """A cell of the dry run failed: one line; ``result`` holds the plan up to that cell."""

    def __init__(self, message: str, result: DryRun):
        super().__init__(message)
        self.result = result


def _one_line(text) -> str:
    return " ".join(str(text).split())


def _params_for(name: str, profile: str, params: dict, syn: dict, synthetic: bool = False) -> dict:
    from . import profiles

    if name not in profiles.CHAPTERS:
        return {}
    full = dict(profiles.CHAPTERS[name][profile])
    full.update(DRY_OVERRIDES.get(name, {}))
    if "device" in full:
        full["device"] = "cpu"
    for key, syn_key in (("oxflower17_root", "oxflower17_root"), ("tinyimagenet_root", "tinyimagenet_root")):
        if key in full and full[key] is None:
            full[key] = syn[syn_key]
    if name == "quickdraw" and full.get("root") is None:
        full["root"] = syn["quickdraw_root"]  # the real-drawings code path, on stand-in files
    full.update(params)
    return full


def dry_run(name: str, profile: str = "gpu", params: dict | None = None, *, out: Path | None = None,
            synthetic: bool = False) -> DryRun:
    """Execute ``notebooks/NAME.ipynb`` at ``profile`` on the CPU at a tiny size (module
    docstring) and return its plan. Bad input raises ConfigError before anything runs; a cell
    that fails raises ConfigError with one line (the cell, the exception, where the executed
    copy was kept)."""
    import papermill as pm

    from . import runner

    params = dict(params or {})
    runner.validate(name, profile, params)
    syn_all = stand_ins(synthetic)
    full = _params_for(name, profile, params, syn_all, synthetic)
    runner.validate(name, profile, {k: v for k, v in full.items()})
    work = Path(tempfile.mkdtemp(prefix=f"sclib-dryrun-{name}-"))
    plan = work / "plan.jsonl"
    cfg = dict(chapter=name, plan=str(plan),
               synthetic={k: v for k, v in syn_all.items()
                          if k in ("cifar10_tarball", "fashion_mnist_dir") or str(v) in map(str, full.values())})
    (work / "config.json").write_text(json.dumps(cfg))
    target = Path(out) if out is not None else work / f"{name}-{profile}.dryrun.ipynb"
    env = {"SCLIB_DRYRUN": str(work / "config.json"), "SCLIB_RUNS": "off", "SCLIB_PROGRESS": "0",
           "CUDA_VISIBLE_DEVICES": "",
           # tiny tensors: one intra-op thread is many times faster than several fighting for cores
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "PYTHONPATH": os.pathsep.join([str(SITE), str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    t0 = time.time()
    failed = None
    # the kernel's own chatter (jupyter's warnings) goes to a log beside the executed copy
    sys.stderr.flush()
    log_fd = os.open(work / "stderr.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    saved_fd = os.dup(2)
    os.dup2(log_fd, 2)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        pm.execute_notebook(str(runner.NOTEBOOKS / f"{name}.ipynb"), str(target),
                            parameters=dict(profile=profile, **full), cwd=str(ROOT), progress_bar=False,
                            kernel_name="python3")
    except Exception as e:  # a cell raised (PapermillExecutionError), or the kernel died
        if type(e).__name__ == "PapermillExecutionError":
            failed = f"cell {e.exec_count}: {e.ename}: {_one_line(e.evalue)}"
        else:
            failed = f"{type(e).__name__}: {_one_line(e)}"
    finally:
        sys.stderr.flush()
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        os.close(log_fd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.time() - t0
    lines = []
    if plan.exists():
        lines = [json.loads(l) for l in plan.read_text().splitlines() if l.strip()]
    installed = any(l["kind"] == "installed" for l in lines)
    lines = [l for l in lines if l["kind"] != "installed"]
    if failed is None and not installed:
        failed = "the dry run's patches were not installed in the kernel (sclib/site/sitecustomize.py)"
    result = DryRun(name, profile, full, seconds, lines, dict(cfg["synthetic"]),
                    Path(out) if out is not None else None)
    if failed is not None:
        kept = target if target.exists() else None
        raise DryRunFailed(f"dry run of {name} at profile {profile} failed in {failed}"
                           + (f" (executed copy: {kept}; log: {work / 'stderr.log'})" if kept else
                              f" (log: {work / 'stderr.log'})"), result)
    shutil.rmtree(work, ignore_errors=True)  # the executed copy too, unless it went to ``out``
    return result


# ================================================================== printing
def _si(n: float) -> str:
    for unit, f in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= f:
            return f"{n / f:.3g}{unit}"
    return f"{n:.3g}"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 5940 else f"{seconds / 3600:.1f} h"


def report(r: DryRun) -> str:
    """The dry run's plan as text: what was checked, the runs, the estimate and its assumptions."""
    from . import profiles, runner

    repeats = sum(bool(l.get("repeat")) for l in r.lines)
    out = [f"dry run of {r.chapter} at profile {r.profile}: every cell ran on the CPU in {r.seconds:.0f} s "
           f"({PLAIN_STEPS} steps per run, {HOOK_STEPS} per sweep; tiny data; the real model once per "
           f"configuration: {repeats} of {r.runs} runs repeat one and train the stand-in only)"]
    changed = DRY_OVERRIDES.get(r.chapter, {})
    if changed:
        out.append("  not run in the dry run: " + "; ".join(f"{k}={profiles.CHAPTERS[r.chapter][r.profile].get(k)!r} -> {v!r} ({DRY_OVERRIDE_WHY.get(k, '')})"
                                                         for k, v in changed.items()))
    if r.synthetic:
        out.append("  synthetic stand-ins for: " + ", ".join(
            k.replace("_root", "").replace("_tarball", "").replace("_dir", "") for k in r.synthetic))
    out.append(f"planned runs at profile {r.profile} ({r.runs} in all; images and FLOPs at the profile's full size):")
    out.append(f"  {'kind':<7} {'model':<34} {'dataset':<13} {'input':<11} {'runs':>4} {'epochs':>6} "
               f"{'steps':>7} {'train img':>9} {'eval img':>8} {'GFLOP/img':>9} {'GPU':>9} {'dry run':>7}")
    for g in r.groups():
        out.append(f"  {g['kind']:<7} {g['model'][:34]:<34} {g['dataset'][:13]:<13} {g['shape']:<11} {g['runs']:>4} "
                   f"{g['epochs']:>6} {_si(g['steps']):>7} {_si(g['train_images']):>9} {_si(g['eval_images']):>8} "
                   f"{g['fwd_flops'] / 1e9:>9.3f} {minutes(g['seconds']):>9} {g['dry_s']:>6.0f}s")
    total_flops = sum(l["train_images"] * (3 * l["fwd_flops"] + l.get("teacher_flops", 0)) + l["eval_images"] * l["fwd_flops"]
                      for l in r.lines)
    out.append(f"estimated GPU time of {r.chapter} at profile {r.profile}: {minutes(r.gpu_seconds)} "
               f"({_si(total_flops)}FLOP) on an {DEVICE['name']}, assuming {DEVICE['note']}; FLOPs counted by "
               f"torch.utils.flop_counter (convolutions and matrix products), forward once per model and "
               f"input shape; evaluations outside fit() and torch.compile not counted")
    if r.out is not None:
        shown = r.out.relative_to(runner.ROOT) if r.out.resolve().is_relative_to(runner.ROOT) else r.out
        out.append(f"executed dry-run copy: {shown}")
    return "\n".join(out)
