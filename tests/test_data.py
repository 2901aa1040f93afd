import os

import pytest
import torch

from sclib import data
from sclib.errors import ConfigError, DataMissingError


def test_digits_shapes_and_split():
    x, y = data.load("digits", "train")
    xt, yt = data.load("digits", "test")
    assert x.dtype == torch.uint8 and x.shape[1:] == (1, 8, 8) and y.dtype == torch.int64
    assert len(x) + len(xt) == 1797 and len(yt) == 355
    assert int(x.max()) == 255


@pytest.mark.skipif(not os.path.exists("/usr/share/datasets/fashion-mnist"),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian_package():
    x, y = data.load("fashion_mnist", "test")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.uint8
    assert torch.bincount(y).tolist() == [1000] * 10


def test_missing_real_data_says_how_to_get_it(tmp_path):
    with pytest.raises(DataMissingError, match="apt-get install dataset-fashion-mnist"):
        data.load("fashion_mnist", root=tmp_path)
    with pytest.raises(DataMissingError, match="cifar10"):
        data.load("cifar10", root=str(tmp_path))


def test_corrupt_idx_file_is_a_clear_error(tmp_path):
    for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (tmp_path / f).write_bytes(b"not an idx file")
    with pytest.raises(DataMissingError, match="corrupt"):
        data.load("fashion_mnist", "train", root=tmp_path)


def test_bad_names():
    with pytest.raises(ConfigError, match="digits, fashion_mnist, cifar10"):
        data.load("imagenet")
    with pytest.raises(ConfigError, match="split"):
        data.load("digits", "val")


def test_batches_cover_data_and_shuffle_by_seed_and_epoch():
    x, y = data.load("digits", "train")
    b = data.Batches(x, y, 100, shuffle=True, seed=3)
    ys = torch.cat([yb for _, yb in b])
    assert sorted(ys.tolist()) == sorted(y.tolist()) and len(b) == -(-len(y) // 100)
    first = torch.cat([yb for _, yb in b])
    assert torch.equal(ys, first)                  # same epoch -> same order
    b.set_epoch(1)
    assert not torch.equal(ys, torch.cat([yb for _, yb in b]))


def test_pad_crop_is_a_translation_of_the_padded_image():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.uint8).view(2, 1, 6, 6)
    b = data.Batches(x, torch.tensor([0, 1]), 2, crop_pad=2, mean=(0.0,), std=(1.0,))
    g = torch.Generator().manual_seed(0)
    out = b._augment(b.x, g)
    padded = torch.nn.functional.pad(b.x, (2, 2, 2, 2))
    for i in range(2):
        windows = [padded[i, :, dy:dy + 6, dx:dx + 6] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)


def test_subset_is_class_balanced():
    x, y = data.load("digits", "train")
    xs, ys = data.subset(x, y, 500)
    assert len(ys) == 500 and torch.bincount(ys).tolist() == [50] * 10


def test_random_flip_mirrors_some_images_and_only_mirrors():
    x = torch.randint(0, 255, (64, 1, 5, 5), dtype=torch.uint8)
    b = data.Batches(x, torch.zeros(64, dtype=torch.long), 64, flip=True, mean=(0.0,), std=(1.0,))
    out = b._augment(b.x, torch.Generator().manual_seed(0))
    same = [torch.equal(out[i], b.x[i]) for i in range(64)]
    mirrored = [torch.equal(out[i], b.x[i].flip(2)) for i in range(64)]
    assert all(s or m for s, m in zip(same, mirrored))
    assert 10 < sum(mirrored) < 54  # about half, for a fair coin
