"""The ImageFolder-style loaders of the gpu profile (Oxflower17, Tiny ImageNet)."""
import numpy as np
import pytest
from PIL import Image

from sclib import data
from sclib.errors import DataMissingError


def _img(path, v):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((20, 30, 3), v, np.uint8)).save(path)


def test_missing_root_says_how_to_get_the_data():
    for name in ("oxflower17", "tinyimagenet"):
        with pytest.raises(DataMissingError, match=f"{name}: data not found.*root="):
            data.load(name, "train")


def test_oxflower17_flat_layout_is_split_by_class(tmp_path, monkeypatch):
    monkeypatch.setenv("SCLIB_CACHE", str(tmp_path / "cache"))
    for i in range(160):  # the original layout: 80 images per class, in class order
        _img(tmp_path / "of" / "jpg" / f"image_{i + 1:04d}.jpg", 10 if i < 80 else 200)
    xtr, ytr = data.load("oxflower17", "train", root=tmp_path / "of")
    xte, yte = data.load("oxflower17", "test", root=tmp_path / "of")
    assert xtr.shape == (128, 3, 128, 128) and xte.shape == (32, 3, 128, 128)
    assert ytr.bincount().tolist() == [64, 64] and yte.bincount().tolist() == [16, 16]
    assert (xtr[ytr == 1].float().mean() > 150).item()  # labels follow the images


def test_tinyimagenet_layout(tmp_path, monkeypatch):
    monkeypatch.setenv("SCLIB_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "tiny-imagenet-200"
    for c in ("n01", "n02"):
        for i in range(3):
            _img(root / "train" / c / "images" / f"{c}_{i}.JPEG", 50)
    _img(root / "val" / "images" / "val_0.JPEG", 50)
    _img(root / "val" / "images" / "val_1.JPEG", 50)
    (root / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn02\t0\t0\t1\t1\nval_1.JPEG\tn01\t0\t0\t1\t1\n")
    x, y = data.load("tinyimagenet", "train", root=root)
    assert x.shape == (6, 3, 64, 64) and y.tolist() == [0, 0, 0, 1, 1, 1]
    x, y = data.load("tinyimagenet", "test", root=root)
    assert y.tolist() == [1, 0]
