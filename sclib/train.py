"""One training loop: ``fit`` -> :class:`History`, and ``run`` for a whole seeded experiment.

Per-iteration values (loss, lr, momentum) are recorded without a host sync per step: the loss
goes into a preallocated device tensor and is read once per epoch (see cifar10-airbench).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import data as D
from .progress import bar as progress_bar
from . import models, schedules, store
from .errors import ConfigError, check_choice, check_number

PRECISIONS = ("fp32", "bf16", "fp16")
OPTIMIZERS = ("sgd", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "adadelta")


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch; ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = False


def make_optimizer(name, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
    """Build a torch optimizer by name. ``momentum`` is SGD's momentum or Adam's beta1.

    ``name`` may also be a callable ``(params, lr=, momentum=, weight_decay=) -> Optimizer``
    for optimizers torch lacks (e.g. SGDW) or custom parameter groups."""
    check_number("lr", lr, lo=0, lo_open=True)
    check_number("momentum", momentum, lo=0, hi=1, hi_open=True)
    check_number("weight_decay", weight_decay, lo=0)
    if callable(name):
        return name(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    check_choice("optimizer", name, OPTIMIZERS)
    O = torch.optim
    if name in ("sgd", "nesterov"):
        return O.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                     nesterov=(name == "nesterov" and momentum > 0))
    if name in ("adam", "adamw"):
        cls = O.Adam if name == "adam" else O.AdamW
        return cls(params, lr=lr, betas=(momentum, 0.999), weight_decay=weight_decay)
    if name == "rmsprop":
        return O.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adagrad":
        return O.Adagrad(params, lr=lr, weight_decay=weight_decay)
    return O.Adadelta(params, lr=lr, weight_decay=weight_decay)


def current_momentum(optimizer) -> float:
    g = optimizer.param_groups[0]
    if "betas" in g:
        return float(g["betas"][0])
    return float(g.get("momentum", 0.0))


@dataclass
class History:
    """What a run measured. Per iteration: lr, momentum, loss. Per epoch: the rest."""

    config: dict = field(default_factory=dict)
    lr: list = field(default_factory=list)
    momentum: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    seconds: list = field(default_factory=list)        # training wall time of each epoch
    images_per_s: list = field(default_factory=list)
    diverged: bool = False
    steps_per_epoch: int = 0
    batch_size: list = field(default_factory=list)   # global batch size of each epoch

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(**d)

    @property
    def updates(self) -> int:
        """Number of optimizer steps (parameter updates) taken."""
        return len(self.lr)

    @property
    def best_test_acc(self) -> float:
        return max(self.test_acc) if self.test_acc else float("nan")

    @property
    def final_test_acc(self) -> float:
        return self.test_acc[-1] if self.test_acc else float("nan")

    def epochs_to(self, target: float) -> float:
        """First epoch (1-based) whose test accuracy reaches ``target``; inf if none does."""
        for e, a in zip(self.epoch, self.test_acc):
            if a >= target - 1e-12:
                return e
        return math.inf

    def seconds_to(self, target: float) -> float:
        """Training seconds until the epoch that first reaches ``target``; inf if none does."""
        e = self.epochs_to(target)
        return math.inf if math.isinf(e) else float(sum(self.seconds[: int(e)]))


@torch.no_grad()
def evaluate(model, batches, label_smoothing: float = 0.0):
    """(mean loss, accuracy) over ``batches``, in eval mode."""
    model.eval()
    loss = torch.zeros((), device=batches.x.device)
    correct = torch.zeros((), device=batches.x.device, dtype=torch.long)
    for x, y in batches:
        out = model(x)
        loss += F.cross_entropy(out, y, reduction="sum", label_smoothing=label_smoothing)
        correct += (out.argmax(1) == y).sum()
    n = batches.num_examples
    return loss.item() / n, correct.item() / n


def _config_hash(cfg: dict) -> str:
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _data_key(b) -> str:
    """A cheap fingerprint of a Batches' data (labels + a strided sample of the images), so a
    checkpoint made on other data with the same sizes is never resumed."""
    h = hashlib.sha256(b.y.cpu().numpy().tobytes())
    h.update(b.x.flatten()[:: max(1, b.x.numel() // 65536)].cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def _code_key() -> str:
    """The training code itself: a checkpoint or stored run made by other sclib code is not used."""
    h = hashlib.sha256()
    for m in ("train", "data", "models", "schedules", "optim"):
        h.update((Path(__file__).parent / f"{m}.py").read_bytes())
    return h.hexdigest()[:16]


def _batches_key(b) -> dict | None:
    """What a Batches feeds a run: the data fingerprint, its shape and dtype, and how it is
    normalized, augmented, ordered and cut into batches."""
    if b is None:
        return None
    return dict(data=_data_key(b), shape=list(b.x.shape), dtype=str(b.x.dtype), device=b.x.device.type,
                mean=list(b.mean or ()), std=list(b.std or ()),
                **{k: getattr(b, k) for k in ("batch_size", "shuffle", "flip", "crop_pad", "seed", "drop_last")})


def _module_key(m) -> str | None:
    """A module's architecture (its repr) and its current weights and buffers."""
    if m is None:
        return None
    h = hashlib.sha256(repr(m).encode())
    for k, t in m.state_dict().items():
        h.update(k.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _rng_state() -> dict:
    """torch's, numpy's and Python's random states, in types torch.load(weights_only=True) reads."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return dict(torch=torch.get_rng_state(), cuda=cuda, numpy=[kind, keys.tolist(), pos, has_gauss, cached],
                python=random.getstate())


def _set_rng_state(st: dict) -> None:
    torch.set_rng_state(st["torch"])
    if st.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])
    kind, keys, pos, has_gauss, cached = st["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    random.setstate((st["python"][0], tuple(st["python"][1]), st["python"][2]))


def _rng_key() -> str:
    h = hashlib.sha256(torch.get_rng_state().numpy().tobytes())
    if torch.cuda.is_available():  # dropout and on-device augmentation draw from these
        for t in torch.cuda.get_rng_state_all():
            h.update(t.numpy().tobytes())
    h.update(repr(np.random.get_state()).encode() + repr(random.getstate()).encode())
    return h.hexdigest()[:16]


def run_key(cfg: dict, model, train, test=None, teacher=None) -> str:
    """The key of a training run in the store and of its checkpoints: everything that
    determines its result (see :mod:`sclib.store`)."""
    return _config_hash(dict(cfg, _train=_batches_key(train), _test=_batches_key(test),
                             _model=_module_key(model), _teacher=_module_key(teacher), _rng=_rng_key(),
                             _code=_code_key(), _torch=torch.__version__,
                             _dtype=str(torch.get_default_dtype())))


def distill_loss(z, r, target, T: float = 1.0, label_smoothing: float = 0.0):
    """Knowledge distillation, the seed's loss (004, Bag of Tricks §4):
    ℓ(p, softmax(z)) + T²·ℓ(softmax(r/T), softmax(z/T)), ℓ the cross-entropy, ``z`` the
    student's logits, ``r`` the teacher's; ``target`` class indices or soft targets (mixup)."""
    hard = F.cross_entropy(z, target, label_smoothing=label_smoothing)
    soft = F.cross_entropy(z / T, F.softmax(r / T, dim=1))
    return hard + T * T * soft


def _check_batch_schedule(bs, base: int, n: int, epochs: int) -> dict | None:
    if bs is None:
        return None
    if not isinstance(bs, dict) or set(bs) - {"milestones", "factor"} or "milestones" not in bs:
        raise ConfigError(f"batch_schedule must be a dict with 'milestones' (epochs) and 'factor', got {bs!r}")
    ms = bs["milestones"]
    if not isinstance(ms, (list, tuple)) or list(ms) != sorted(ms):
        raise ConfigError(f"batch_schedule.milestones must be an increasing list of epochs, got {ms!r}")
    for m in ms:
        check_number("batch_schedule.milestones", m, lo=1, hi=epochs - 1, integer=True)
    check_number("batch_schedule.factor", bs.get("factor", 2), lo=1, lo_open=True)
    bs = {"milestones": list(ms), "factor": bs.get("factor", 2)}
    biggest = round(base * bs["factor"] ** len(ms))
    if biggest > n:
        raise ConfigError(f"batch_schedule grows the batch to {biggest}, larger than the data ({n} examples)")
    return bs


def _batch_size_at(base: int, bs: dict | None, epoch: int) -> int:
    if not bs:
        return base
    return round(base * bs["factor"] ** sum(epoch >= m for m in bs["milestones"]))


def _dist():
    """(rank, world size) when torch.distributed runs with more than one process, else None."""
    d = torch.distributed
    if d.is_available() and d.is_initialized() and d.get_world_size() > 1:
        return d.get_rank(), d.get_world_size()
    return None


def fit(model, train, test=None, *, epochs: int, lr: float, optimizer: str = "sgd",
        momentum: float = 0.9, weight_decay: float = 0.0, schedule="constant",
        label_smoothing: float = 0.0, mixup_alpha: float = 0.0, teacher=None, distill_T: float = 1.0,
        batch_schedule: dict | None = None, channels_last: bool = False,
        checkpoint: str | os.PathLike | None = None,
        progress: bool | None = None, desc: str = "", config: dict | None = None,
        max_steps: int | None = None, on_step=None, on_epoch=None, precision: str = "fp32") -> History:
    """Train ``model`` on ``train`` (a :class:`sclib.data.Batches`) and evaluate on ``test``.

    The schedule is stepped every iteration (every epoch with ``batch_schedule``, whose batch
    size changes per epoch). With ``checkpoint`` set, the state is saved atomically after every
    epoch and a rerun with the same configuration resumes from it (and ends with the same
    numbers as an uninterrupted run). A loss that becomes NaN or inf stops the run cleanly with
    ``History.diverged = True``.

    ``precision``: ``fp32`` (default), ``bf16`` (autocast; the GPU path) or ``fp16`` (autocast
    with a GradScaler, for GPUs without bf16). The weights, the optimizer and the evaluation
    stay in the default dtype; only the forward pass and the loss run in low precision.

    Hooks (the range test, probes and trackers are uses of this one loop): ``max_steps`` ends the
    run after that many optimizer steps (the schedule then spans ``min(epochs × steps per epoch,
    max_steps)`` iterations); ``on_step(step, loss, lr)`` is called after every step with the
    step's index, loss and LR (a host sync per step, so only when set) and ``on_epoch(history)``
    after every epoch; either stops the run by returning True. A stopped epoch is recorded with
    the steps it ran.

    Options: ``mixup_alpha`` > 0 mixes every batch with torchvision's ``v2.MixUp``; ``teacher``
    adds knowledge distillation (:func:`distill_loss`, temperature ``distill_T``).
    Under ``torchrun`` (torch.distributed initialized, k > 1 processes) the model is wrapped in
    DistributedDataParallel and each rank trains on its 1/k slice of every global batch of
    ``train.batch_size``: k workers × b equal one process × k·b (BatchNorm statistics stay per
    worker, as in Goyal et al.). Metrics are reduced over ranks; only rank 0 writes checkpoints.

    The run store (:mod:`sclib.store`): a run without hooks, outside DDP, whose key
    (:func:`run_key`) is stored is not trained again: its History, its final weights (loaded into
    ``model``) and the random state at its end are returned as training would have left them.
    A run that trains is checkpointed in the store after every epoch (unless ``checkpoint`` names
    another file), so a killed run resumes.
    """
    check_number("epochs", epochs, lo=1, integer=True)
    check_number("label_smoothing", label_smoothing, lo=0, hi=1, hi_open=True)
    check_number("mixup_alpha", mixup_alpha, lo=0)
    check_number("distill_T", distill_T, lo=0, lo_open=True)
    if max_steps is not None:
        check_number("max_steps", max_steps, lo=1, integer=True)
    check_choice("precision", precision, PRECISIONS)
    spec = schedules.normalize(schedule)
    base_bs = train.batch_size
    bsched = _check_batch_schedule(batch_schedule, base_bs, train.num_examples, epochs)
    device = train.x.device
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    par = _dist()
    rank, world = par or (0, 1)
    net = model
    if par:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
        train.rank, train.world = rank, world
    opt = make_optimizer(optimizer, model.parameters(), lr, momentum, weight_decay)
    spe = len(train)
    # With a growing batch the number of steps per epoch changes: step the LR schedule per epoch.
    total = epochs * spe if max_steps is None else min(epochs * spe, max_steps)
    sched = (schedules.build(spec, opt, epochs, 1) if bsched else schedules.build(spec, opt, total, spe))
    opt_name = optimizer if isinstance(optimizer, str) else getattr(optimizer, "__name__", repr(optimizer))
    cfg = dict(config or {}, epochs=epochs, lr=lr, optimizer=opt_name, momentum=momentum,
               weight_decay=weight_decay, schedule=spec, label_smoothing=label_smoothing,
               batch_size=base_bs, n_train=train.num_examples)
    # New options enter the config only when used, so older configurations keep their hash.
    extra = dict(mixup_alpha=mixup_alpha or None, distill_T=distill_T if teacher is not None else None,
                 batch_schedule=bsched, channels_last=channels_last or None,
                 world_size=world if par else None, max_steps=max_steps,
                 precision=None if precision == "fp32" else precision)
    cfg.update({k: v for k, v in extra.items() if v is not None})
    # before anything can move the weights or the random state: the run's identity
    hooks = on_step is not None or on_epoch is not None
    use_store = store.root() is not None and not hooks and not par
    key = run_key(cfg, model, train, test, teacher) if (use_store or checkpoint) else ""
    own_ckpt = False
    if use_store:
        hit = store.load(key)
        if hit is not None:
            model.load_state_dict(hit["model"])
            _set_rng_state(hit["rng"])
            return History.from_dict(json.loads(hit["history"]))
        if checkpoint is None:  # a killed run resumes from its last epoch
            checkpoint, own_ckpt = store.path(key, "ckpt"), True
    low = None if precision == "fp32" else getattr(torch, {"bf16": "bfloat16", "fp16": "float16"}[precision])
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    mix = None
    if mixup_alpha > 0:
        from torchvision.transforms import v2

        mix = v2.MixUp(alpha=float(mixup_alpha), num_classes=int(train.y.max().item()) + 1)
    if teacher is not None:
        teacher.to(device).eval()
    h = History(config=cfg, steps_per_epoch=spe)
    start = 0
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt and ckpt.exists():
        try:
            state = torch.load(ckpt, weights_only=True)
        except Exception:  # corrupt or unsafe: train from scratch; the next epoch overwrites it
            state = {}
        if state.get("key") == key:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng"])
            h = History.from_dict(json.loads(state["history"]))
            start = len(h.epoch)
    bar = progress_bar(range(start, epochs), desc=desc or schedules.describe(spec), unit="epoch",
                       disable=progress is False or rank != 0)  # on the terminal, never in a page
    done, stop = len(h.loss), False  # optimizer steps so far (a resumed run counts its own)
    try:
        for ep in bar:
            if h.diverged or stop:
                break
            net.train()
            train.set_epoch(ep)
            train.batch_size = _batch_size_at(base_bs, bsched, ep)
            n_steps = len(train)
            losses = torch.empty(n_steps, device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            t0 = time.perf_counter()
            ran, seen = n_steps, 0
            for i, (x, y) in enumerate(train):
                h.lr.append(opt.param_groups[0]["lr"])
                h.momentum.append(current_momentum(opt))
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                target = y
                if mix is not None:
                    x, target = mix(x, y)
                with torch.autocast(device.type, dtype=low, enabled=low is not None):
                    out = net(x)
                    if teacher is not None:
                        with torch.no_grad():
                            r = teacher(x)
                        loss = distill_loss(out, r, target, distill_T, label_smoothing)
                    else:
                        loss = F.cross_entropy(out, target, label_smoothing=label_smoothing)
                if par:  # DDP averages gradients over ranks: weight each slice by its share
                    loss = loss * (x.shape[0] * world / train.global_len)
                opt.zero_grad(set_to_none=True)
                if scaler is None:
                    loss.backward()
                    opt.step()
                else:  # fp16: scale the loss so small gradients survive, unscale before the step
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                if not bsched:
                    sched.step()
                losses[i] = loss.detach()
                correct += (out.detach().argmax(1) == y).sum()
                done += 1
                if on_step is not None or max_steps is not None:
                    seen += x.shape[0]
                    stop = bool(on_step(done - 1, loss.item(), h.lr[-1])) if on_step is not None else False
                    if stop or (max_steps is not None and done >= max_steps):
                        stop, ran = True, i + 1
                        break
            if bsched:
                sched.step()
            if par:  # the mean of the ranks' slice means is the global batch mean
                torch.distributed.all_reduce(losses)
                losses /= world
                torch.distributed.all_reduce(correct)
            if device.type == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            step_losses = losses[:ran].tolist()
            h.loss.extend(step_losses)
            if not all(math.isfinite(v) for v in step_losses):
                h.diverged = True  # recorded, not raised: large-LR runs hit this on purpose
            h.epoch.append(ep + 1)
            h.batch_size.append(train.batch_size)
            h.train_loss.append(float(np.mean(step_losses)))
            # a stopped epoch: the accuracy of the batches it ran (all ranks' slices)
            h.train_acc.append(correct.item() / (train.num_examples if ran == n_steps else seen * world))
            h.seconds.append(dt)
            h.images_per_s.append(train.num_examples / dt)
            if test is not None and not h.diverged:
                tl, ta = evaluate(model, test) if rank == 0 else (0.0, 0.0)
                if par:  # rank 0's model (and its BatchNorm statistics) is the one evaluated
                    t = torch.tensor([tl, ta], dtype=torch.float64, device=device)
                    torch.distributed.broadcast(t, 0)
                    tl, ta = t.tolist()
                h.test_loss.append(tl)
                h.test_acc.append(ta)
            elif test is not None:
                h.test_loss.append(float("nan"))
                h.test_acc.append(0.0)
            bar.set_postfix(loss=f"{h.train_loss[-1]:.3f}", acc=f"{h.test_acc[-1]:.3f}" if h.test_acc else "-")
            if ckpt and rank == 0:
                D.atomic_torch_save({"key": key, "model": model.state_dict(), "optimizer": opt.state_dict(),
                                     "scheduler": sched.state_dict(), "rng": torch.get_rng_state(),
                                     "history": json.dumps(h.to_dict())}, ckpt)
            if ckpt and par:
                torch.distributed.barrier()
            if on_epoch is not None and on_epoch(h):
                stop = True
    finally:
        bar.close()
        train.batch_size = base_bs
        if par:
            train.rank, train.world = 0, 1
    if use_store:
        store.save(key, dict(history=json.dumps(h.to_dict()), rng=_rng_state(),
                             model={k: v.detach().cpu() for k, v in model.state_dict().items()}))
        if own_ckpt:
            ckpt.unlink(missing_ok=True)
    return h


# Augmentation per dataset: what the papers used for CIFAR (flip + 4-pixel pad-crop), a
# milder crop for the 28×28 grayscale set, nothing for the 8×8 digits.
AUGMENT = {"cifar10": dict(flip=True, crop_pad=4), "fashion_mnist": dict(flip=True, crop_pad=2),
           "digits": dict(), "oxflower17": dict(flip=True, crop_pad=8),
           "tinyimagenet": dict(flip=True, crop_pad=4)}


def load_batches(dataset: str, *, batch_size: int, n_train=None, n_test=None, seed: int = 0,
                 augment: bool = True, device=None, root=None, test_batch_size: int = 1000):
    """(train, test) :class:`Batches` for a dataset, subset and normalized with train statistics."""
    device = torch.device(device) if device else default_device()
    xtr, ytr = D.load(dataset, "train", root=root)
    xte, yte = D.load(dataset, "test", root=root)
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n is not None:
            check_number(name, n, lo=1, integer=True)
    xtr, ytr = D.subset(xtr, ytr, n_train, seed=0)  # the subset is fixed; the seed varies the run
    xte, yte = D.subset(xte, yte, n_test, seed=0)
    aug = AUGMENT[dataset] if augment else {}
    train = D.Batches(xtr, ytr, batch_size, shuffle=True, seed=seed, device=device, **aug)
    test = D.Batches(xte, yte, min(test_batch_size, len(yte)), mean=train.mean, std=train.std,
                     device=device)
    return train, test


def run(*, dataset: str, model: str, epochs: int, batch_size: int, lr: float, seed: int = 0,
        schedule="constant", optimizer: str = "sgd", momentum: float = 0.9, weight_decay: float = 0.0,
        label_smoothing: float = 0.0, n_train=None, n_test=None, augment: bool = True, device=None,
        root=None, checkpoint=None, progress=None, desc: str = "", return_model: bool = False,
        mixup_alpha: float = 0.0, teacher=None, distill_T: float = 1.0, batch_schedule=None,
        channels_last: bool = False, model_kwargs: dict | None = None, precision: str = "fp32"):
    """A whole seeded experiment: data -> model -> :func:`fit`. Same arguments, same numbers.

    Returns the History, or ``(history, model, test_batches)`` with ``return_model=True``
    (for measurements on the trained model: calibration, logits, ...)."""
    check_number("batch_size", batch_size, lo=1, integer=True)
    check_number("seed", seed, lo=0, integer=True)
    train, test = load_batches(dataset, batch_size=batch_size, n_train=n_train, n_test=n_test,
                               seed=seed, augment=augment, device=device, root=root)
    seed_everything(seed)
    if model_kwargs is not None and not isinstance(model_kwargs, dict):
        raise ConfigError(f"model_kwargs must be a dict of model options, got {model_kwargs!r}")
    net = models.create(model, num_classes=int(train.y.max().item()) + 1, in_channels=train.x.shape[1],
                        **(model_kwargs or {}))
    cfg = dict(dataset=dataset, model=model, seed=seed, n_test=test.num_examples, augment=augment)
    if model_kwargs:
        cfg["model_kwargs"] = dict(model_kwargs)
    h = fit(net, train, test, epochs=epochs, lr=lr, optimizer=optimizer, momentum=momentum,
            weight_decay=weight_decay, schedule=schedule, label_smoothing=label_smoothing,
            mixup_alpha=mixup_alpha, teacher=teacher, distill_T=distill_T,
            batch_schedule=batch_schedule, channels_last=channels_last, precision=precision,
            checkpoint=checkpoint, progress=progress, desc=desc, config=cfg)
    return (h, net, test) if return_model else h
