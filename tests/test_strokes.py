import csv
import json

import numpy as np
import pytest
import torch

from sclib import strokes as S
from sclib.errors import ConfigError, DataMissingError


@pytest.fixture(scope="module")
def ndjson_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ndjson")
    S.write_doodles(root, n_classes=10, per_class=30, seed=1)
    return root


@pytest.fixture(scope="module")
def csv_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("csv")
    S.write_doodles(root, n_classes=10, per_class=20, seed=2, fmt="csv", n_test=7)
    return root


def test_generated_ndjson_is_googles_format(ndjson_root):
    files = sorted(ndjson_root.glob("*.ndjson"))
    assert len(files) == 10
    lines = files[0].read_text().splitlines()
    assert len(lines) == 30
    obj = json.loads(lines[0])
    assert tuple(obj) == S.NDJSON_KEYS
    assert isinstance(obj["key_id"], str) and isinstance(obj["recognized"], bool)
    assert obj["timestamp"].endswith(" UTC") and obj["word"] == files[0].stem
    S.check_drawing(obj["drawing"])  # strokes of [[x...], [y...]], ints in 0-255
    assert all(isinstance(v, int) for s in obj["drawing"] for v in s[0] + s[1])
    # Google's simplification: aligned top-left, longer side spans 0-255
    xs = [v for s in obj["drawing"] for v in s[0]]
    ys = [v for s in obj["drawing"] for v in s[1]]
    assert min(xs) == 0 and min(ys) == 0 and max(max(xs), max(ys)) == 255


def test_generator_is_seeded_noisy_and_varied(tmp_path, ndjson_root):
    S.write_doodles(tmp_path, n_classes=10, per_class=30, seed=1)
    a = (ndjson_root / "house.ndjson").read_text()
    assert (tmp_path / "house.ndjson").read_text() == a
    S.write_doodles(tmp_path / "other", n_classes=10, per_class=30, seed=3)
    assert (tmp_path / "other" / "house.ndjson").read_text() != a
    recs = [json.loads(line) for f in ndjson_root.glob("*.ndjson") for line in f.read_text().splitlines()]
    assert len({len(r["drawing"]) for r in recs}) >= 4           # varying stroke counts
    assert 0 < sum(not r["recognized"] for r in recs) < len(recs) / 3


def test_generator_writes_wrong_labels_when_asked(tmp_path):
    # a clean "plus" is always two strokes; a wrong label puts another shape in plus.ndjson
    def strokes_in_plus(noise):
        S.write_doodles(tmp_path / str(noise), n_classes=10, per_class=40, label_noise=noise, seed=0)
        return [len(json.loads(line)["drawing"]) for line in (tmp_path / str(noise) / "plus.ndjson").open()]
    assert set(strokes_in_plus(0.0)) == {2}
    assert sum(n != 2 for n in strokes_in_plus(0.5)) >= 5


def test_read_ndjson_streams_with_a_cap(ndjson_root):
    stats = S.ReadStats()
    recs = list(S.read_ndjson(ndjson_root / "circle.ndjson", limit=5, stats=stats))
    assert len(recs) == 5 and stats.records == 5 and stats.lines == 5
    assert all(r.word == "circle" for r in recs)
    assert len({r.key_id for r in recs}) == 5


def test_read_csv_train_and_test(csv_root):
    recs = list(S.read_csv(csv_root / "train_simplified" / "star.csv"))
    assert len(recs) == 20 and all(r.word == "star" for r in recs)
    assert recs[0].recognized in (True, False)
    with open(csv_root / "train_simplified" / "star.csv") as f:
        assert tuple(next(csv.reader(f))) == S.CSV_TRAIN_COLUMNS
    test = list(S.read_csv(csv_root / "test_simplified.csv"))
    assert len(test) == 7 and all(r.word is None for r in test)
    S.check_drawing(test[0].drawing)


def _corrupt(src, dst, lineno, text):
    lines = src.read_text().splitlines()
    lines[lineno - 1] = text
    dst.write_text("\n".join(lines) + "\n")


def test_malformed_ndjson_line_names_file_and_line(ndjson_root, tmp_path):
    bad = tmp_path / "circle.ndjson"
    _corrupt(ndjson_root / "circle.ndjson", bad, 4, '{"word": "circle", "drawing": [[[1, 2]')
    with pytest.raises(S.MalformedDrawingError, match=r"circle\.ndjson:4: malformed"):
        list(S.read_ndjson(bad))
    stats = S.ReadStats()
    recs = list(S.read_ndjson(bad, on_error="skip", stats=stats))
    assert len(recs) == 29 and stats.skipped == 1 and stats.lines == 30
    assert ":4:" in stats.errors[0]


def test_out_of_range_coordinate_is_malformed(ndjson_root, tmp_path):
    obj = json.loads((ndjson_root / "star.ndjson").read_text().splitlines()[1])
    obj["drawing"][0][0][0] = 300
    bad = tmp_path / "star.ndjson"
    _corrupt(ndjson_root / "star.ndjson", bad, 2, json.dumps(obj))
    with pytest.raises(S.MalformedDrawingError, match=r"star\.ndjson:2: .*outside 0-255"):
        list(S.read_ndjson(bad))


def test_malformed_csv_line_names_file_and_line(csv_root, tmp_path):
    bad = tmp_path / "star.csv"
    # line 1 is the header; line 3 is the second drawing
    _corrupt(csv_root / "train_simplified" / "star.csv", bad, 3, 'US,"[[[1, 2], [3]]]",123,True,x,star')
    with pytest.raises(S.MalformedDrawingError, match=r"star\.csv:3: .*2 x and 1 y"):
        list(S.read_csv(bad))
    stats = S.ReadStats()
    assert len(list(S.read_csv(bad, on_error="skip", stats=stats))) == 19 and stats.skipped == 1


def test_bad_arguments_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="on_error='ignore' is not one of: raise, skip"):
        list(S.read_ndjson(tmp_path / "x.ndjson", on_error="ignore"))
    with pytest.raises(DataMissingError, match="not found"):
        list(S.read_ndjson(tmp_path / "x.ndjson"))
    with pytest.raises(DataMissingError, match="root="):
        S.load_split(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="n_classes"):
        S.write_doodles(tmp_path, n_classes=99)


def test_split_is_seeded_disjoint_and_stratified(ndjson_root, csv_root):
    a = S.load_split(ndjson_root, per_class=20, val_fraction=0.25, seed=0)
    b = S.load_split(ndjson_root, per_class=20, val_fraction=0.25, seed=0)
    c = S.load_split(ndjson_root, per_class=20, val_fraction=0.25, seed=1)
    assert a.train.key_ids == b.train.key_ids and a.val.key_ids == b.val.key_ids
    assert a.val.key_ids != c.val.key_ids
    assert not set(a.train.key_ids) & set(a.val.key_ids)
    assert len(a.train.key_ids) + len(a.val.key_ids) == 10 * 20
    assert torch.bincount(a.val.labels).tolist() == [5] * 10
    assert a.classes == sorted(a.classes) and len(a.classes) == 10
    csv_set = S.load_split(csv_root, n_classes=3, per_class=10, seed=0)
    assert len(csv_set.classes) == 3 and len(csv_set.train.key_ids) + len(csv_set.val.key_ids) == 30


def test_rasterize_shape_dtype_and_known_pixels():
    line = [[[0, 255], [128, 128]]]  # one horizontal stroke across the middle
    img = S.rasterize(line, 32, line_width=1)
    assert img.shape == (32, 32) and img.dtype == np.uint8
    lit = np.argwhere(img > 0)
    assert set(lit[:, 0]) <= {15, 16} and img.max() == 255
    assert lit[:, 1].min() <= 1 and lit[:, 1].max() >= 30  # across the whole width (half-pixel margin)
    assert img[:8].max() == 0 and img[24:].max() == 0
    thick = S.rasterize(line, 32, line_width=3)
    assert (thick > 0).sum() > 2 * (img > 0).sum()
    dot = S.rasterize([[[100], [100]]], 28, line_width=2)
    assert dot.max() == 255


def test_rasterize_colour_by_order():
    two = [[[0, 255], [0, 0]], [[0, 255], [255, 255]]]  # first stroke on top, second at bottom
    img = S.rasterize(two, 32, line_width=1, color_by_order=True)
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    top, bottom = img[:4].reshape(-1, 3).max(0), img[-4:].reshape(-1, 3).max(0)
    assert tuple(top) == (255, 0, 255) and tuple(bottom) == (0, 255, 255)
    gray = S.rasterize(two, 32, line_width=1)
    assert np.array_equal(img[..., 2], gray)  # the blue channel is the grayscale drawing
    batch = S.render_batch([two, two], 16, color_by_order=True)
    assert batch.shape == (2, 3, 16, 16) and batch.dtype == torch.uint8
    assert np.array_equal(batch[0].numpy(), S.rasterize(two, 16, color_by_order=True).transpose(2, 0, 1))


def test_rendered_batches_match_pre_rendered(ndjson_root):
    from sclib.data import Batches

    ds = S.load_split(ndjson_root, per_class=6, seed=0)
    x = S.render_batch(ds.train.drawings, 20)
    pre = Batches(x, ds.train.labels, 16, shuffle=True, seed=3)
    fly = S.RenderedBatches(ds.train.drawings, ds.train.labels, 16, size=20, mean=pre.mean,
                            std=pre.std, shuffle=True, seed=3)
    pre.set_epoch(1), fly.set_epoch(1)
    assert len(pre) == len(fly)
    for (xa, ya), (xb, yb) in zip(pre, fly):
        assert torch.equal(ya, yb) and torch.allclose(xa, xb, atol=1e-5)


def test_map3_after_each_epoch_of_one_run(ndjson_root):
    from sclib import models, train
    from sclib.data import Batches

    ds = S.load_split(ndjson_root, n_classes=3, per_class=12, seed=0)
    tr = Batches(S.render_batch(ds.train.drawings, 16), ds.train.labels, 8, shuffle=True)
    va = Batches(S.render_batch(ds.val.drawings, 16), ds.val.labels, 2, mean=tr.mean, std=tr.std)
    train.seed_everything(0)
    m = models.create("simple", 3, 1)
    h, maps = S.fit_map_at_k(m, tr, va, epochs=2, lr=0.05, schedule="constant", progress=False)
    assert len(maps) == 2 and len(h.epoch) == 2 and all(0 <= v <= 1 for v in maps)
    # the last score is the trained model's MAP@3 on the validation split
    from sclib.calibration import logits
    from sclib.metrics import map_at_k
    assert maps[-1] == pytest.approx(map_at_k(logits(m, va)[0], va.y, 3))


def test_submission_format(tmp_path):
    scores = torch.tensor([[0.1, 0.5, 0.3, 0.2], [0.9, 0.0, 0.05, 0.04]])
    path = S.write_submission(tmp_path / "sub.csv", ["111", "222"], scores,
                              ["cat", "The Eiffel Tower", "dog", "sun"])
    assert path.read_text() == "key_id,word\n111,The_Eiffel_Tower dog sun\n222,cat dog sun\n"
    with pytest.raises(ConfigError, match="same length"):
        S.write_submission(tmp_path / "x.csv", ["1"], scores, ["a", "b", "c", "d"])


def test_real_drawings_from_a_tarball_a_folder_or_nowhere(tmp_path, ndjson_root, monkeypatch):
    import tarfile

    tar = tmp_path / "sample.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(ndjson_root, arcname="data")
    folder, what = S.real_drawings(tar, tmp_path / "work")
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in ndjson_root.iterdir())
    assert "sample.tar.gz" in what
    assert S.real_drawings(ndjson_root, tmp_path)[0] == ndjson_root
    # nothing requires the shared sample: without it, None and where the full data is
    monkeypatch.setattr(S, "SHARED_SAMPLE", tmp_path / "absent.tar.gz")
    folder, why = S.real_drawings(None, tmp_path)
    assert folder is None and "quickdraw-dataset" in why
    with pytest.raises(DataMissingError, match="root="):
        S.real_drawings(tmp_path / "nothing.tar.gz", tmp_path)
    (tmp_path / "bad.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(DataMissingError, match="not a readable tarball"):
        S.real_drawings(tmp_path / "bad.tar.gz", tmp_path)


def test_schedule_sweep_pairs_seeds_and_scores_every_epoch(ndjson_root):
    from sclib.data import Batches

    ds = S.load_split(ndjson_root, n_classes=3, per_class=12, seed=0)
    tr = Batches(S.render_batch(ds.train.drawings, 16), ds.train.labels, 8, shuffle=True)
    va = Batches(S.render_batch(ds.val.drawings, 16), ds.val.labels, 2, mean=tr.mean, std=tr.std)
    runs = {"conventional": (S.conventional(2), 2), "one-cycle": (S.onecycle(0.4), 1)}
    scores = {}
    out = S.schedule_sweep("simple", tr, va, runs=runs, seeds=[0, 1], num_classes=3, scores_out=scores,
                           lr=0.04, momentum=0.9, progress=False)
    assert [len(m) for m in out["conventional"]] == [2, 2] and [len(m) for m in out["one-cycle"]] == [1, 1]
    assert len(scores["one-cycle"]) == 2 and scores["one-cycle"][0].shape == (len(va.y), 3)
    again = {}
    S.schedule_sweep("simple", tr, va, runs=runs, seeds=[1], num_classes=3, scores_out=again, lr=0.04,
                     momentum=0.9, progress=False)
    assert torch.equal(again["one-cycle"][0], scores["one-cycle"][1])  # seed 1 is seed 1, whatever ran before
    assert not torch.equal(scores["one-cycle"][0], scores["one-cycle"][1])  # seeds differ (init, data order)
    assert tr.seed == 0                                          # the caller's batches are untouched
    assert S.conventional(8) == {"kind": "step", "milestones": [6.0], "gamma": 0.1}


def test_schedule_sweep_final_only_is_the_same_run_kept_by_the_store(ndjson_root, monkeypatch):
    from sclib.data import Batches

    ds = S.load_split(ndjson_root, n_classes=3, per_class=12, seed=0)
    tr = Batches(S.render_batch(ds.train.drawings, 16), ds.train.labels, 8, shuffle=True)
    va = Batches(S.render_batch(ds.val.drawings, 16), ds.val.labels, 2, mean=tr.mean, std=tr.std)
    runs = {"conventional": (S.conventional(2), 2), "one-cycle": (S.onecycle(0.4), 2)}
    kw = dict(runs=runs, seeds=[0, 1], num_classes=3, lr=0.04, momentum=0.9, progress=False)
    every = S.schedule_sweep("simple", tr, va, **kw)
    final = S.schedule_sweep("simple", tr, va, every_epoch=False, **kw)
    # the final weights' MAP@3 is the last per-epoch score of the same (hooked) run, seed by seed
    assert {k: [m[-1] for m in v] for k, v in every.items()} == final
    # the hook-free runs are in the store: a second sweep trains nothing and scores the same
    from sclib import models
    steps, create = [], models.create

    def count(mod, *_):  # training-mode forward passes (scoring runs in eval mode)
        if mod.training:
            steps.append(1)

    def counting(*a, **k):
        m = create(*a, **k)
        m.register_forward_hook(count)
        return m

    monkeypatch.setattr(models, "create", counting)
    assert S.schedule_sweep("simple", tr, va, every_epoch=False, **kw) == final
    assert steps == []
    assert S.schedule_sweep("simple", tr, va, **kw) == every and steps  # hooked runs always train
