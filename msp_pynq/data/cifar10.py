"""CIFAR-10 from an image folder (``train/<class>/NNNN.jpg``) or the official python batches.

Images come back as ``uint8 [N, 32, 32, 3]`` (NHWC, RGB) with ``int64`` labels. The image
folder is split as the project's validation rule says: files ``4500.jpg``..``4999.jpg`` of
every class are validation, the rest training. Decoded folders are cached as ``.npz`` (no
pickle) under ``$MSP_PYNQ_CACHE`` (default ``~/.cache/msp-pynq``), keyed by the folder's path
and contents, so the 50,000 JPEGs are decoded once.

The root is found from ``$MSP_PYNQ_CIFAR10``, else ``../shared/datasets/cifar10`` beside the
project checkout.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..errors import MSPError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
VAL_FIRST_INDEX = 4500          # files 4500..4999 of each class are the validation split
SPLITS = ("train", "val", "all", "test")


def default_root() -> "Path | None":
    """The CIFAR-10 folder: ``$MSP_PYNQ_CIFAR10``, else ``../shared/datasets/cifar10``."""
    env = os.environ.get("MSP_PYNQ_CIFAR10")
    if env:
        return Path(env)
    guess = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "cifar10"
    return guess if guess.is_dir() else None


def _cache_dir() -> Path:
    return Path(os.environ.get("MSP_PYNQ_CACHE", Path.home() / ".cache" / "msp-pynq"))


def _folder_files(root: Path) -> list:
    base = root / "train" if (root / "train").is_dir() else root
    files = []
    for label, name in enumerate(CIFAR10_CLASSES):
        folder = base / name
        if not folder.is_dir():
            raise MSPError(f"{base}: class folder {name!r} is missing (expected one folder per "
                           f"class: {', '.join(CIFAR10_CLASSES)})")
        files += [(p, label) for p in sorted(folder.iterdir()) if p.suffix.lower() in
                  (".jpg", ".jpeg", ".png")]
    if not files:
        raise MSPError(f"{base}: no images found")
    return files


def _decode_folder(files: list, progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from PIL import Image
    try:
        from tqdm import tqdm
    except ImportError:                                  # pragma: no cover - tqdm is a host extra
        tqdm = None
    images = np.empty((len(files), 32, 32, 3), np.uint8)
    labels = np.array([label for _, label in files], np.int64)
    index = np.array([int(p.stem) if p.stem.isdigit() else -1 for p, _ in files], np.int64)
    it = files if tqdm is None or not progress else tqdm(files, desc="decoding CIFAR-10", unit="img")
    for i, (path, _) in enumerate(it):
        with Image.open(path) as im:
            rgb = im.convert("RGB")
            if rgb.size != (32, 32):
                raise MSPError(f"{path}: image is {rgb.size[0]}x{rgb.size[1]}, expected 32x32")
            images[i] = np.asarray(rgb)
    return images, labels, index


def _load_folder(root: Path, progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    files = _folder_files(root)
    key = hashlib.sha1(("\n".join(f"{p}:{p.stat().st_size}" for p, _ in files)).encode()).hexdigest()[:16]
    cache = _cache_dir() / f"cifar10-{key}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            return data["images"], data["labels"], data["index"]
    images, labels, index = _decode_folder(files, progress)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, images=images, labels=labels, index=index)
    tmp.replace(cache)
    return images, labels, index


def _load_python_batches(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The official ``cifar-10-batches-py`` layout (data_batch_1..5, test_batch).

    Those files are Python pickles of plain dicts of arrays; they are read with a restricted
    unpickler that refuses anything but builtins and numpy arrays.
    """
    import pickle

    class _Restricted(pickle.Unpickler):
        def find_class(self, module, name):
            if module.startswith("numpy") or (module, name) in {("builtins", "dict"), ("builtins", "list")}:
                return super().find_class(module, name)
            raise MSPError(f"{root}: CIFAR batch file refers to {module}.{name}; refusing to load it")

    names = ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
    images, labels = [], []
    for name in names:
        path = root / name
        if not path.exists():
            raise MSPError(f"{path}: missing CIFAR-10 python batch file")
        with open(path, "rb") as fh:
            batch = _Restricted(fh, encoding="bytes").load()
        data = np.asarray(batch[b"data"], np.uint8)
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch[b"labels"], np.int64))
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


def load_cifar10(root: "str | Path | None" = None, split: str = "train",
                 progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 images ``uint8 [N, 32, 32, 3]`` and labels ``int64 [N]``.

    ``split``: ``'train'`` (files 0000..4499 of each class), ``'val'`` (4500..4999), ``'all'``;
    for the python-batch layout ``'train'``/``'all'`` are the 50,000 training images and
    ``'test'`` the official test batch.

    >>> images, labels = load_cifar10(split="val")          # doctest: +SKIP
    >>> images.shape, labels[:3]                            # doctest: +SKIP
    ((5000, 32, 32, 3), array([0, 0, 0]))
    """
    if split not in SPLITS:
        raise MSPError(f"unknown split {split!r}; expected one of {SPLITS}")
    root = Path(root) if root is not None else default_root()
    if root is None or not root.exists():
        raise MSPError(f"CIFAR-10 not found at {root}; set MSP_PYNQ_CIFAR10 or pass root=")
    py_dir = root if (root / "data_batch_1").exists() else root / "cifar-10-batches-py"
    if (py_dir / "data_batch_1").exists():
        return _load_python_batches(py_dir, split)
    if split == "test":
        raise MSPError(f"{root}: the image-folder layout has no test split (use 'val')")
    images, labels, index = _load_folder(root, progress)
    if split == "all":
        return images, labels
    keep = index >= VAL_FIRST_INDEX if split == "val" else index < VAL_FIRST_INDEX
    return images[keep], labels[keep]
