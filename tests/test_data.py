"""CIFAR-10 loading (image folder and python batches) and augmentation."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from msp_pynq.data import CIFAR10_CLASSES, load_cifar10
from msp_pynq.errors import MSPError
from msp_pynq.train.augment import random_crop_flip, to_float

from fake_cifar import make_image_folder


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MSP_PYNQ_CACHE", str(tmp_path / "cache"))
    images = make_image_folder(tmp_path / "cifar", train_per_class=3, val_per_class=2)
    return tmp_path / "cifar", images


def test_image_folder_split_and_pixels(folder):
    root, images = folder
    x_train, y_train = load_cifar10(root, "train", progress=False)
    x_val, y_val = load_cifar10(root, "val", progress=False)
    assert x_train.shape == (30, 32, 32, 3) and x_train.dtype == np.uint8
    assert x_val.shape == (20, 32, 32, 3)
    assert np.bincount(y_train).tolist() == [3] * 10 and np.bincount(y_val).tolist() == [2] * 10
    # files are sorted per class: validation image 1 of class 'cat' is 4501.png
    cat = CIFAR10_CLASSES.index("cat")
    np.testing.assert_array_equal(x_val[cat * 2 + 1], images[("cat", 4501)])
    np.testing.assert_array_equal(x_train[0], images[("airplane", 0)])


def test_image_folder_cache_is_used(folder, monkeypatch):
    root, _ = folder
    first = load_cifar10(root, "all", progress=False)
    import msp_pynq.data.cifar10 as mod
    monkeypatch.setattr(mod, "_decode_folder", lambda *a: pytest.fail("decoded twice"))
    second = load_cifar10(root, "all", progress=False)
    np.testing.assert_array_equal(first[0], second[0])


def test_missing_class_folder_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("MSP_PYNQ_CACHE", str(tmp_path / "cache"))
    (tmp_path / "c" / "train" / "airplane").mkdir(parents=True)
    with pytest.raises(MSPError, match="class folder 'automobile' is missing"):
        load_cifar10(tmp_path / "c", progress=False)


def test_bad_split_and_missing_root(tmp_path):
    with pytest.raises(MSPError, match="unknown split"):
        load_cifar10(tmp_path, "validation")
    with pytest.raises(MSPError, match="not found"):
        load_cifar10(tmp_path / "nowhere")


def _write_batches(root, n=4):
    rng = np.random.default_rng(0)
    data = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        arr = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        with open(root / name, "wb") as fh:
            pickle.dump({b"data": arr, b"labels": labels}, fh)
        data[name] = (arr, labels)
    return data


def test_python_batches_layout(tmp_path):
    data = _write_batches(tmp_path)
    x, y = load_cifar10(tmp_path, "train")
    assert x.shape == (20, 32, 32, 3)
    # channel-planar rows -> NHWC: pixel (0, 0) of image 0 is bytes 0, 1024, 2048
    arr = data["data_batch_1"][0]
    assert x[0, 0, 0].tolist() == [arr[0, 0], arr[0, 1024], arr[0, 2048]]
    xt, yt = load_cifar10(tmp_path, "test")
    assert xt.shape == (4, 32, 32, 3) and yt.tolist() == data["test_batch"][1]


def test_python_batches_refuse_code_in_pickles(tmp_path):
    _write_batches(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    with open(tmp_path / "data_batch_3", "wb") as fh:
        pickle.dump({b"data": Evil(), b"labels": []}, fh)
    with pytest.raises(MSPError, match="refusing to load"):
        load_cifar10(tmp_path, "train")


def test_random_crop_flip_is_a_shifted_window():
    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (16, 8, 8, 3), dtype=torch.uint8)
    out = random_crop_flip(imgs, g, pad=2)
    padded = torch.nn.functional.pad(imgs, (0, 0, 2, 2, 2, 2))
    flips = 0
    for i in range(16):
        windows = [padded[i, dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)]
        plain = any(torch.equal(out[i], w) for w in windows)
        flipped = any(torch.equal(out[i], w.flip(1)) for w in windows)
        assert plain or flipped
        flips += flipped and not plain
    assert 0 < flips < 16


def test_to_float_layout_and_range():
    x = torch.tensor([[[[0, 128, 255]]]], dtype=torch.uint8)   # N=1, H=1, W=1, C=3
    y = to_float(x)
    assert y.shape == (1, 3, 1, 1)
    assert y.flatten().tolist() == pytest.approx([0.0, 128 / 255, 1.0], rel=1e-6)
