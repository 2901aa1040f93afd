"""Quick, Draw! drawings as strokes: streaming readers, a rasterizer, a doodle generator.

The data of the Quick, Draw! Doodle Recognition Challenge (000_b276cd025f8c8c73.txt) are not
images but stroke lists, in two formats:

- Google's simplified ndjson, one file per class (``<word>.ndjson``), one JSON object per line
  with keys ``word, countrycode, timestamp, recognized, key_id, drawing``;
- Kaggle's ``train_simplified/<word>.csv`` with columns ``countrycode, drawing, key_id,
  recognized, timestamp, word`` (``drawing`` a JSON string) and ``test_simplified.csv``
  without ``word``.

``drawing`` is a list of strokes ``[[x0, x1, ...], [y0, y1, ...]]``, integers in 0-255.

Readers stream line by line (a file is never held in memory, so 50M drawings are possible);
a malformed line raises :class:`MalformedDrawingError` naming the file and line, or is skipped
and counted with ``on_error="skip"``. :func:`rasterize` draws with PIL at the target size.
:func:`write_doodles` writes a synthetic, noisy dataset in the exact ndjson/CSV formats so the
whole pipeline runs offline on real files.
"""
from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import math
import os
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np
import torch

from . import calibration, metrics
from . import train as T
from .errors import ConfigError, DataMissingError, check_choice, check_number

NDJSON_KEYS = ("word", "countrycode", "timestamp", "recognized", "key_id", "drawing")
CSV_TRAIN_COLUMNS = ("countrycode", "drawing", "key_id", "recognized", "timestamp", "word")
CSV_TEST_COLUMNS = ("key_id", "countrycode", "drawing")
ON_ERROR = ("raise", "skip")

csv.field_size_limit(1 << 24)  # a long drawing is one CSV field of a few hundred kB at most


class MalformedDrawingError(DataMissingError):
    """A line of a drawings file is not a valid record; the message names file and line."""


class Record(NamedTuple):
    key_id: str
    word: str | None          # None in Kaggle's test CSV
    drawing: list             # [[xs, ys], ...]
    countrycode: str = ""
    recognized: bool | None = None
    timestamp: str = ""


@dataclass
class ReadStats:
    """Filled in by the readers: lines seen, records kept, lines skipped (with the first reasons)."""

    lines: int = 0
    records: int = 0
    skipped: int = 0
    errors: list = field(default_factory=list)

    def _skip(self, msg: str) -> None:
        self.skipped += 1
        if len(self.errors) < 20:
            self.errors.append(msg)


# ---------------------------------------------------------------- validation
def check_drawing(drawing) -> list:
    """Return ``drawing`` if it is a valid stroke list, else raise ValueError saying why."""
    if not isinstance(drawing, list) or not drawing:
        raise ValueError("drawing must be a non-empty list of strokes")
    for i, s in enumerate(drawing):
        if not (isinstance(s, list) and len(s) >= 2 and isinstance(s[0], list) and isinstance(s[1], list)):
            raise ValueError(f"stroke {i} must be [[x...], [y...]]")
        xs, ys = s[0], s[1]
        if len(xs) != len(ys) or not xs:
            raise ValueError(f"stroke {i} has {len(xs)} x and {len(ys)} y coordinates")
        for v in xs + ys:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 255:
                raise ValueError(f"stroke {i} has a coordinate {v!r} outside 0-255")
    return drawing


def _open_text(path: Path):
    if str(path).endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _fail(path, lineno, reason, on_error, stats):
    msg = f"{path}:{lineno}: malformed drawing record: {reason}"
    if on_error == "raise":
        raise MalformedDrawingError(msg)
    stats._skip(msg)


def _bool(v):
    if isinstance(v, bool) or v is None:
        return v
    return {"true": True, "false": False}.get(str(v).strip().lower())


def _readable(reader):
    """A file that cannot be read (truncated gzip, bad encoding, I/O error) raises one
    :class:`DataMissingError` naming it, like a missing one; malformed records are handled by
    the reader itself."""

    @functools.wraps(reader)
    def wrapper(path, **kw):
        if "limit" in kw and kw["limit"] is not None:
            check_number("limit", kw["limit"], lo=0, integer=True)
        try:
            yield from reader(path, **kw)
        except DataMissingError:
            raise
        except (OSError, EOFError, UnicodeDecodeError, zlib.error) as e:
            raise DataMissingError(f"{path}: unreadable drawings file ({type(e).__name__}: "
                                   f"{str(e).splitlines()[0] if str(e) else ''})") from None

    return wrapper


def _check_raster(size, line_width) -> None:
    check_number("size", size, lo=2, hi=4096, integer=True)
    check_number("line_width", line_width, lo=1, hi=64, integer=True)


# ---------------------------------------------------------------- readers
@_readable
def read_ndjson(path, *, limit: int | None = None, on_error: str = "raise",
                stats: ReadStats | None = None) -> Iterator[Record]:
    """Stream the records of one Google simplified ndjson file (``.ndjson`` or ``.ndjson.gz``).

    ``limit`` stops after that many valid records (the per-class cap). ``on_error="skip"``
    skips malformed lines and counts them in ``stats`` instead of raising."""
    check_choice("on_error", on_error, ON_ERROR)
    stats = stats if stats is not None else ReadStats()
    path = Path(path)
    if not path.is_file():
        raise DataMissingError(f"drawings file not found: {path}")
    kept = 0
    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            if limit is not None and kept >= limit:
                return
            stats.lines += 1
            if not line.strip():
                _fail(path, lineno, "empty line", on_error, stats)
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
                missing = [k for k in NDJSON_KEYS if k not in obj]
                if missing:
                    raise ValueError(f"missing key(s) {missing}")
                rec = Record(str(obj["key_id"]), str(obj["word"]), check_drawing(obj["drawing"]),
                             str(obj["countrycode"]), _bool(obj["recognized"]), str(obj["timestamp"]))
            except ValueError as e:  # JSONDecodeError is a ValueError
                _fail(path, lineno, e, on_error, stats)
                continue
            kept += 1
            stats.records += 1
            yield rec


@_readable
def read_csv(path, *, limit: int | None = None, on_error: str = "raise",
             stats: ReadStats | None = None) -> Iterator[Record]:
    """Stream the records of a Kaggle ``train_simplified/<word>.csv`` or ``test_simplified.csv``.

    Columns are found by the header, so both layouts work; the test file gives ``word=None``.
    Line numbers in errors are physical lines of the file (the header is line 1)."""
    check_choice("on_error", on_error, ON_ERROR)
    stats = stats if stats is not None else ReadStats()
    path = Path(path)
    if not path.is_file():
        raise DataMissingError(f"drawings file not found: {path}")
    kept = 0
    with _open_text(path) as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or not {"key_id", "drawing"} <= set(header):
            raise MalformedDrawingError(f"{path}:1: CSV header must name at least key_id and drawing, "
                                        f"got {header!r}")
        col = {name: i for i, name in enumerate(header)}
        while True:
            if limit is not None and kept >= limit:
                return
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                _fail(path, reader.line_num, e, on_error, stats)
                continue
            lineno = reader.line_num
            stats.lines += 1
            try:
                if len(row) != len(header):
                    raise ValueError(f"{len(row)} fields, header has {len(header)}")
                get = lambda k, d="": row[col[k]] if k in col else d  # noqa: E731
                rec = Record(get("key_id"), get("word", None), check_drawing(json.loads(get("drawing"))),
                             get("countrycode"), _bool(get("recognized", None)), get("timestamp"))
            except ValueError as e:
                _fail(path, lineno, e, on_error, stats)
                continue
            kept += 1
            stats.records += 1
            yield rec


def read_file(path, **kw) -> Iterator[Record]:
    """Dispatch on the suffix: ``.ndjson[.gz]`` or ``.csv[.gz]``."""
    name = str(path).lower().removesuffix(".gz")
    if name.endswith(".ndjson"):
        return read_ndjson(path, **kw)
    if name.endswith(".csv"):
        return read_csv(path, **kw)
    raise ConfigError(f"drawings file {path} must end in .ndjson or .csv (optionally .gz)")


def class_files(root) -> dict:
    """``{word: path}`` for a folder of per-class files (ndjson, or Kaggle's train_simplified/)."""
    root = Path(root)
    if not root.is_dir():
        raise DataMissingError(f"root={str(root)!r} is not a folder of Quick, Draw! files; pass the "
                               "folder of Google's <word>.ndjson files or Kaggle's train_simplified/")
    if (root / "train_simplified").is_dir():
        root = root / "train_simplified"
    files = {}
    for p in sorted(root.iterdir()):
        name = p.name.removesuffix(".gz")
        for ext in (".ndjson", ".csv"):
            if name.endswith(ext) and not name.startswith("test_simplified"):
                word = name[: -len(ext)].removeprefix("full_simplified_").removeprefix("full-simplified-")
                files[word] = p
    if not files:
        raise DataMissingError(f"no <word>.ndjson or <word>.csv files in {root}")
    return files


#: Real drawings kept beside the project (344 classes × 25, Google's simplified ndjson; see
#: ../shared/data/README.md). Optional: nothing requires it.
SHARED_SAMPLE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "quickdraw-simplified-25.tar.gz"
FULL_DATA_URL = "https://github.com/googlecreativelab/quickdraw-dataset (simplified ndjson, 345 classes)"


def extract_ndjson(tarball, dest) -> Path:
    """Extract the ``<word>.ndjson`` files of a tarball into ``dest`` and return their folder."""
    import tarfile

    tarball = Path(tarball)
    if not tarball.is_file():
        raise DataMissingError(f"root={str(tarball)!r}: no such file; the full data is at {FULL_DATA_URL}")
    try:
        with tarfile.open(tarball) as tf:
            members = [m for m in tf.getmembers() if m.isfile() and m.name.endswith(".ndjson")]
            tf.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataMissingError(f"root={str(tarball)!r} is not a readable tarball: "
                               f"{' '.join(str(e).split())}") from None
    folders = {(Path(dest) / m.name).parent for m in members}
    if len(folders) != 1:
        raise DataMissingError(f"root={str(tarball)!r} must hold one folder of <word>.ndjson files, "
                               f"found {len(folders)}")
    return folders.pop()


def real_drawings(root, workdir) -> tuple:
    """Where the real drawings are: ``(folder of <word>.ndjson files, description)``, or
    ``(None, why)`` when there are none. ``root`` is a folder of Google's or Kaggle's files, a
    ``.tar.gz`` of ndjson files (extracted into ``workdir``), or None for :data:`SHARED_SAMPLE`
    when it is beside the project (nothing requires it)."""
    if root is None:
        if not SHARED_SAMPLE.is_file():
            return None, (f"no real drawings here ({SHARED_SAMPLE.name} is not in ../shared/data); "
                          f"the full data: {FULL_DATA_URL}; pass -p root DIR")
        root = SHARED_SAMPLE
    root = Path(root)
    if root.is_file():
        return extract_ndjson(root, Path(workdir) / "real"), f"real Quick, Draw! drawings ({root.name})"
    class_files(root)  # a clear error now if it is not a folder of per-class files
    return root, f"real Quick, Draw! drawings ({root})"


@dataclass
class Split:
    drawings: list
    labels: torch.Tensor
    key_ids: list


@dataclass
class DrawingSet:
    classes: list
    train: Split
    val: Split
    stats: ReadStats


def load_split(root, *, n_classes: int | None = None, per_class: int | None = None,
               val_fraction: float = 0.1, seed: int = 0, on_error: str = "raise") -> DrawingSet:
    """Read up to ``per_class`` drawings of each of the first ``n_classes`` classes (sorted by
    name; all when None) and split each class, seeded, into train and validation.

    The cap takes the first drawings of each file, so only those lines are read. The label is
    the class of the file: the word inside a record is not trusted to match (the real data
    has noisy labels, and so does ours on purpose)."""
    check_number("val_fraction", val_fraction, lo=0, hi=1, lo_open=True, hi_open=True)
    if per_class is not None:
        check_number("per_class", per_class, lo=2, integer=True)
    files = class_files(root)
    words = sorted(files)
    if n_classes is not None:
        check_number("n_classes", n_classes, lo=2, hi=len(words), integer=True)
        words = words[:n_classes]
    stats = ReadStats()
    rng = np.random.default_rng(seed)
    parts = {"train": ([], [], []), "val": ([], [], [])}
    for c, w in enumerate(words):
        recs = list(read_file(files[w], limit=per_class, on_error=on_error, stats=stats))
        order = rng.permutation(len(recs))
        n_val = max(1, round(val_fraction * len(recs))) if len(recs) > 1 else 0
        for j, i in enumerate(order):
            d, y, k = parts["val" if j < n_val else "train"]
            d.append(recs[i].drawing)
            y.append(c)
            k.append(recs[i].key_id)
    mk = {s: Split(d, torch.tensor(y, dtype=torch.int64), k) for s, (d, y, k) in parts.items()}
    return DrawingSet(words, mk["train"], mk["val"], stats)


# ---------------------------------------------------------------- rasterizer
def _order_colors(n: int) -> list:
    """Stroke i of n: red fades and green grows with drawing order; blue is always full, so the
    blue channel alone is the grayscale drawing and nothing is lost by colouring."""
    out = []
    for i in range(n):
        t = i / max(n - 1, 1)
        out.append((int(round(255 * (1 - t))), int(round(255 * t)), 255))
    return out


def rasterize(drawing, size: int, line_width: int = 2, color_by_order: bool = False) -> np.ndarray:
    """Draw a stroke list (coordinates 0-255) as a ``size``×``size`` uint8 image.

    Grayscale (H×W, lines 255 on 0) or, with ``color_by_order``, RGB (H×W×3) coloured by stroke
    order. Coordinates are scaled straight to the target size (no 256² intermediate), with a
    margin of half the line width so edge strokes are not clipped."""
    from PIL import Image, ImageDraw

    _check_raster(size, line_width)
    mode = "RGB" if color_by_order else "L"
    img = Image.new(mode, (size, size), 0)
    draw = ImageDraw.Draw(img)
    pad = line_width / 2
    s = (size - 1 - 2 * pad) / 255.0
    colors = _order_colors(len(drawing)) if color_by_order else [255] * len(drawing)
    for stroke, col in zip(drawing, colors):
        pts = [(pad + x * s, pad + y * s) for x, y in zip(stroke[0], stroke[1])]
        if len(pts) == 1:  # a dot: PIL draws nothing for a one-point line
            pts = pts * 2
        draw.line(pts, fill=col, width=line_width)
    return np.asarray(img)


def render_batch(drawings, size: int, line_width: int = 2, color_by_order: bool = False) -> torch.Tensor:
    """uint8 tensor N×C×H×W (C = 3 with ``color_by_order``, else 1)."""
    _check_raster(size, line_width)
    if len(drawings) == 0:
        raise ConfigError("render_batch needs at least one drawing, got none")
    a = np.stack([rasterize(d, size, line_width, color_by_order) for d in drawings])
    a = a[:, None] if a.ndim == 3 else a.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(a))


def render_throughput(drawings, size: int, line_width: int = 2, color_by_order: bool = False,
                      min_seconds: float = 1.0) -> float:
    """Drawings rendered per second by one process (one core), best of passes over ``drawings``
    until ``min_seconds`` have elapsed."""
    best, spent = 0.0, 0.0
    while spent < min_seconds:
        t0 = time.perf_counter()
        for d in drawings:
            rasterize(d, size, line_width, color_by_order)
        dt = time.perf_counter() - t0
        spent += dt
        best = max(best, len(drawings) / dt)
    return best


def pre_rendered_bytes(n_drawings: int, size: int, channels: int) -> int:
    """Bytes to store ``n_drawings`` as uint8 images: what pre-rendering would cost on disk."""
    return n_drawings * size * size * channels


# ---------------------------------------------------------------- batches rendered on the fly
class RenderedBatches:
    """Like :class:`sclib.data.Batches` (same shuffling, same normalization) but each batch is
    rendered from strokes when it is requested: nothing is pre-rendered.

    ``sclib.train.fit`` reads the device from ``.x``, the size from ``len``, ``batch_size`` and
    ``num_examples``; ``x`` is an empty tensor here because there are no stored images."""

    def __init__(self, drawings, labels, batch_size: int, *, size: int, line_width: int = 2,
                 color_by_order: bool = False, mean, std, shuffle: bool = False, seed: int = 0,
                 device="cpu"):
        check_number("batch_size", batch_size, lo=1, integer=True)
        self.drawings, self.batch_size, self.shuffle, self.seed = list(drawings), batch_size, shuffle, seed
        self.render = dict(size=size, line_width=line_width, color_by_order=color_by_order)
        self.y = torch.as_tensor(labels, dtype=torch.int64).to(device)
        self.x = torch.empty(0, device=device)
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)
        self.epoch = 0

    def __len__(self):
        return -(-len(self.y) // self.batch_size)

    @property
    def num_examples(self) -> int:
        return len(self.y)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        n = len(self.y)
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)  # as Batches does
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        for i in range(0, n, self.batch_size):
            idx = order[i: i + self.batch_size]
            x = render_batch([self.drawings[j] for j in idx.tolist()], **self.render)
            x = (x.to(torch.get_default_dtype()).div_(255.0) - self.mean) / self.std
            yield x.to(self.x.device), self.y[idx.to(self.y.device)]


# ---------------------------------------------------------------- MAP@3 during fit
def fit_map_at_k(model, train, val, *, k: int = 3, scores_out: list | None = None, **fit_kwargs):
    """``sclib.train.fit`` that also scores MAP@k on ``val`` after every epoch of the same run.

    Returns ``(history, [MAP@k after epoch 1, 2, ...])`` (NaN after a divergence). With
    ``scores_out`` a list, the validation logits after each epoch are appended to it."""
    maps = []

    def score():
        logits, y = calibration.logits(model, val, channels_last=fit_kwargs.get("channels_last", False))
        maps.append(metrics.map_at_k(logits, y, k))
        if scores_out is not None:
            scores_out.append(logits)

    # after every epoch, outside the epoch's clock; none after a diverged one
    h = T.fit(model, train, None, on_epoch=lambda hist: hist.diverged or score(), **fit_kwargs)
    maps += [math.nan] * (fit_kwargs["epochs"] - len(maps))
    return h, maps


def conventional(epochs: float) -> dict:
    """The seed's "constant then decay" schedule for a run of ``epochs``: the LR × 0.1 at 75%."""
    return {"kind": "step", "milestones": [0.75 * epochs], "gamma": 0.1}


def onecycle(max_lr: float) -> dict:
    """One cycle (``002`` §4.4's form): ``max_lr``/10 → ``max_lr`` → ``max_lr``/10 over 90% of
    the run, then down to ``max_lr``/1000; momentum 0.95 → 0.85 → 0.95."""
    return {"kind": "onecycle", "max_lr": max_lr, "div_factor": 10, "final_div_factor": 100,
            "pct_start": 0.45}


def schedule_sweep(model: str, train, val, *, runs: dict, seeds, num_classes: int, desc: str = "runs",
                   scores_out: dict | None = None, every_epoch: bool = True, **fit_kwargs) -> dict:
    """MAP@3 of every run, for every seed: after every epoch, or (``every_epoch=False``) of the
    final weights only.

    ``runs`` maps a label to ``(schedule spec, epochs)``. Seed ``s`` fixes the initial weights
    and the order of the training batches, the same for every label, so the labels are paired
    by seed. Returns ``{label: [MAP@3 per epoch] per seed}`` (seed order); with
    ``every_epoch=False``, ``{label: [final MAP@3] per seed}`` (NaN for a diverged run). Those
    runs have no hook, so the run store keeps them and a re-executed page retrains none of them.
    With ``scores_out`` a dict, the validation logits after each run's last epoch go to
    ``scores_out[label]`` (a list in seed order)."""
    import copy

    from . import models
    from .experiments import sweep

    def one(label, s):
        spec, epochs = runs[label]
        tb = copy.copy(train)
        tb.seed = s  # this seed's data order (Batches shuffles with seed + epoch)
        T.seed_everything(s)
        net = models.create(model, num_classes, int(train.x.shape[1]))
        logits = []
        if every_epoch:
            _, maps = fit_map_at_k(net, tb, val, epochs=epochs, schedule=spec, scores_out=logits, **fit_kwargs)
        else:
            h = T.fit(net, tb, None, epochs=epochs, schedule=spec, **fit_kwargs)  # no hook: the store keeps it
            maps = math.nan
            if not h.diverged:
                z, y = calibration.logits(net, val, channels_last=fit_kwargs.get("channels_last", False))
                logits.append(z)
                maps = metrics.map_at_k(z, y, 3)
        if scores_out is not None:
            scores_out.setdefault(label, []).append(logits[-1] if logits else None)
        return maps

    return sweep(one, runs, seeds, desc=desc)


# ---------------------------------------------------------------- submission
def write_submission(path, key_ids, scores: torch.Tensor, classes, k: int = 3) -> Path:
    """Kaggle's format: header ``key_id,word``, then the top-``k`` words joined by spaces (a word's
    own spaces become underscores, as the competition required)."""
    if len(key_ids) != len(scores):
        raise ConfigError(f"key_ids ({len(key_ids)}) and scores ({len(scores)}) must have the same length")
    top = torch.as_tensor(scores).topk(min(k, len(classes)), dim=1).indices.tolist()
    names = [c.replace(" ", "_") for c in classes]
    path = Path(path)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["key_id", "word"])
        for kid, t in zip(key_ids, top):
            w.writerow([kid, " ".join(names[i] for i in t)])
    return path


# ---------------------------------------------------------------- the doodle generator
def _arc(cx, cy, rx, ry, a0, a1, n):
    a = np.linspace(a0, a1, n)
    return [np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1)]


def _poly(*pts):
    return np.array(pts, dtype=float)


def _sides(pts, rng, closed=True):
    """A polygon drawn in one stroke or one stroke per side (both are common in the real data)."""
    pts = np.vstack([pts, pts[:1]]) if closed else pts
    if rng.random() < 0.5:
        return [pts]
    return [pts[i:i + 2] for i in range(len(pts) - 1)]


def _shape(name, rng):
    """Strokes of one clean shape in the unit square (y down, as on screen)."""
    r = rng.uniform
    if name == "circle":
        a0 = r(0, 2 * np.pi)
        return _arc(0.5, 0.5, 0.5, 0.5, a0, a0 + r(1.8, 2.1) * np.pi, int(r(14, 24)))
    if name == "square":
        return _sides(_poly((0, 0), (1, 0), (1, 1), (0, 1)), rng)
    if name == "triangle":
        return _sides(_poly((0.5, 0), (1, 1), (0, 1)), rng)
    if name == "star":
        a = -np.pi / 2 + np.arange(11) * 4 * np.pi / 5
        return [np.stack([0.5 + 0.5 * np.cos(a), 0.5 + 0.5 * np.sin(a)], 1)]
    if name == "house":
        s = _sides(_poly((0.1, 0.45), (0.9, 0.45), (0.9, 1), (0.1, 1)), rng)
        s.append(_poly((0.05, 0.47), (0.5, 0), (0.95, 0.47)))
        if rng.random() < 0.6:
            s.append(_poly((0.42, 1), (0.42, 0.72), (0.58, 0.72), (0.58, 1)))
        return s
    if name == "zigzag":
        n = int(r(4, 8))
        x = np.linspace(0, 1, n + 1)
        return [np.stack([x, 0.35 + 0.3 * (np.arange(n + 1) % 2)], 1)]
    if name == "spiral":
        t = np.linspace(0, r(2.5, 4) * 2 * np.pi, 60)
        rad = 0.5 * t / t[-1]
        return [np.stack([0.5 + rad * np.cos(t), 0.5 + rad * np.sin(t)], 1)]
    if name == "plus":
        return [_poly((0.5, 0), (0.5, 1)), _poly((0, 0.5), (1, 0.5))]
    if name == "arrow":
        s = [_poly((0, 0.5), (1, 0.5))]
        head = _poly((0.7, 0.25), (1, 0.5), (0.7, 0.75))
        return s + ([head] if rng.random() < 0.5 else [head[:2], head[1:]])
    if name == "smiley":
        s = _arc(0.5, 0.5, 0.5, 0.5, 0, 2 * np.pi, 20)
        s += [_poly((0.33, 0.33), (0.35, 0.4)), _poly((0.65, 0.33), (0.67, 0.4))]
        return s + _arc(0.5, 0.55, 0.25, 0.2, 0.15 * np.pi, 0.85 * np.pi, 8)
    if name == "envelope":
        s = _sides(_poly((0, 0.15), (1, 0.15), (1, 0.85), (0, 0.85)), rng)
        return s + [_poly((0, 0.15), (0.5, 0.55), (1, 0.15))]
    if name == "sun":
        s = _arc(0.5, 0.5, 0.22, 0.22, 0, 2 * np.pi, 14)
        for a in np.linspace(0, 2 * np.pi, int(r(5, 10)), endpoint=False):
            c, d = np.cos(a), np.sin(a)
            s.append(_poly((0.5 + 0.3 * c, 0.5 + 0.3 * d), (0.5 + 0.5 * c, 0.5 + 0.5 * d)))
        return s
    if name == "ladder":
        s = [_poly((0.2, 0), (0.2, 1)), _poly((0.8, 0), (0.8, 1))]
        return s + [_poly((0.2, y), (0.8, y)) for y in np.linspace(0.15, 0.85, int(r(3, 7)))]
    raise AssertionError(name)


SHAPES = ("arrow", "circle", "envelope", "house", "ladder", "plus", "smiley", "spiral", "square",
          "star", "sun", "triangle", "zigzag")


def _densify(p, step=0.06):
    """Points every ~``step`` along a polyline, so jitter bends lines as a hand does."""
    out = [p[:1]]
    for a, b in zip(p[:-1], p[1:]):
        n = max(1, int(np.linalg.norm(b - a) / step))
        out.append(a + (b - a) * (np.arange(1, n + 1) / n)[:, None])
    return np.vstack(out)


def _rdp(p, eps):
    """Ramer-Douglas-Peucker, as Google simplified the strokes (epsilon 2.0); iterative."""
    keep = np.zeros(len(p), dtype=bool)
    keep[[0, -1]] = True
    todo = [(0, len(p) - 1)]
    while todo:
        i0, i1 = todo.pop()
        if i1 - i0 < 2:
            continue
        a, ab, seg = p[i0], p[i1] - p[i0], p[i0 + 1: i1]
        norm = math.hypot(ab[0], ab[1])
        d = (np.abs(ab[0] * (seg[:, 1] - a[1]) - ab[1] * (seg[:, 0] - a[0])) / norm if norm > 0
             else np.hypot(seg[:, 0] - a[0], seg[:, 1] - a[1]))
        j = int(d.argmax())
        if d[j] > eps:
            keep[i0 + 1 + j] = True
            todo += [(i0, i0 + 1 + j), (i0 + 1 + j, i1)]
    return p[keep]


def doodle(name: str, rng: np.random.Generator) -> list:
    """One hand-drawing-like doodle of shape ``name``, simplified as Google's data is: aligned to
    the top-left, scaled so the longer side spans 0-255, integer coordinates, RDP eps 2.

    Variation: random aspect, rotation, shear, smooth wobble and point jitter, stroke order
    shuffled half the time, strokes drawn backwards a third of the time, a few dropped."""
    strokes = _shape(name, rng)
    if len(strokes) > 2 and rng.random() < 0.15:  # a forgotten stroke
        strokes.pop(int(rng.integers(len(strokes))))
    if rng.random() < 0.5:
        strokes = [strokes[i] for i in rng.permutation(len(strokes))]
    strokes = [s[::-1] if rng.random() < 0.33 else s for s in strokes]
    th, sh = rng.normal(0, 0.15), rng.normal(0, 0.1)
    A = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]) @ np.array([[1, sh], [0, 1]])
    A = A @ np.diag(rng.uniform(0.7, 1.0, 2))
    wob = rng.normal(0, 0.03, (2, 3))  # a low-frequency wobble shared by the whole drawing
    out = []
    for s in strokes:
        p = _densify(s) @ A.T
        p = p + wob[:, 0] * np.sin(3 * p[:, ::-1] + wob[:, 1]) + rng.normal(0, 0.008, p.shape)
        out.append(p)
    allp = np.vstack(out)
    lo, span = allp.min(0), (allp.max(0) - allp.min(0)).max()
    drawing = []
    for p in out:
        q = np.rint(_rdp((p - lo) / span * 255, 2.0)).astype(int).clip(0, 255)
        keep = np.r_[True, np.any(np.diff(q, axis=0) != 0, axis=1)]
        q = q[keep]
        drawing.append([q[:, 0].tolist(), q[:, 1].tolist()])
    return drawing


_COUNTRIES = ("US", "GB", "DE", "BR", "RU", "CA", "FR", "IN", "JP", "AU", "PL", "KR")


def write_doodles(root, *, n_classes: int = 10, per_class: int = 1000, label_noise: float = 0.05,
                  seed: int = 0, fmt: str = "ndjson", n_test: int = 0) -> dict:
    """Write a synthetic doodle dataset in Google's simplified ndjson (``<word>.ndjson``) or
    Kaggle's CSV layout (``train_simplified/<word>.csv`` plus ``test_simplified.csv`` with
    ``n_test`` rows), one file per class, ``per_class`` drawings each, seeded.

    A fraction ``label_noise`` of each class file holds drawings of another shape (noisy labels,
    as in the real data); those are mostly ``recognized: false``. Returns ``{word: path}``."""
    check_choice("fmt", fmt, ("ndjson", "csv"))
    check_number("n_classes", n_classes, lo=2, hi=len(SHAPES), integer=True)
    check_number("per_class", per_class, lo=1, integer=True)
    check_number("label_noise", label_noise, lo=0, hi=1, hi_open=True)
    check_number("n_test", n_test, lo=0, integer=True)
    root = Path(root)
    folder = root / "train_simplified" if fmt == "csv" else root
    folder.mkdir(parents=True, exist_ok=True)
    words = SHAPES[:n_classes]
    rng = np.random.default_rng(seed)
    key = iter(rng.choice(10 ** 15, size=n_classes * per_class + n_test, replace=False) + 4 * 10 ** 15)

    def record(word):
        wrong = rng.random() < label_noise
        shape = words[(words.index(word) + rng.integers(1, n_classes)) % n_classes] if wrong else word
        ts = f"2017-03-{rng.integers(1, 29):02d} {rng.integers(24):02d}:{rng.integers(60):02d}:" \
             f"{rng.integers(60):02d}.{rng.integers(10 ** 5):05d}"
        return dict(word=word, countrycode=str(rng.choice(_COUNTRIES)), timestamp=ts,
                    recognized=bool(rng.random() < (0.1 if wrong else 0.9)), key_id=str(next(key)),
                    drawing=doodle(shape, rng))

    def write_atomic(path, rows):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", newline="") as f:
                rows(f)
            os.replace(tmp, path)  # a reader never sees half a file
        finally:
            tmp.unlink(missing_ok=True)

    def ndjson_rows(word):
        def rows(f):
            for _ in range(per_class):
                r = record(word)
                r["timestamp"] += " UTC"
                f.write(json.dumps(r, separators=(",", ":")) + "\n")
        return rows

    def csv_rows(word):
        def rows(f):
            w = csv.writer(f, lineterminator="\n")
            w.writerow(CSV_TRAIN_COLUMNS)
            for _ in range(per_class):
                r = record(word)
                w.writerow([r["countrycode"], json.dumps(r["drawing"]), r["key_id"],
                            str(r["recognized"]), r["timestamp"], r["word"]])
        return rows

    def test_rows(f):
        w = csv.writer(f, lineterminator="\n")
        w.writerow(CSV_TEST_COLUMNS)
        for i in range(n_test):
            r = record(words[i % n_classes])
            w.writerow([r["key_id"], r["countrycode"], json.dumps(r["drawing"])])

    paths = {}
    for word in words:
        path = folder / f"{word}.{fmt}"
        write_atomic(path, ndjson_rows(word) if fmt == "ndjson" else csv_rows(word))
        paths[word] = path
    if fmt == "csv" and n_test:
        write_atomic(root / "test_simplified.csv", test_rows)
    return paths
