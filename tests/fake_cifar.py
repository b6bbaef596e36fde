"""A tiny CIFAR-10-shaped image folder for tests: each class a distinct colour, plus noise."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from msp_pynq.data import CIFAR10_CLASSES


def class_image(rng: np.random.Generator, label: int) -> np.ndarray:
    base = np.array([(label * 25) % 256, (label * 70) % 256, 255 - label * 25], np.int16)
    noise = rng.integers(-30, 31, (32, 32, 3))
    img = np.clip(base + noise, 0, 255).astype(np.uint8)
    img[label * 3:label * 3 + 3, :, :] = 255          # a class-specific bright stripe
    return img


def make_image_folder(root: Path, train_per_class: int = 8, val_per_class: int = 2,
                      seed: int = 0) -> dict:
    """``root/train/<class>/NNNN.png`` with indices 0.. (train) and 4500.. (validation)."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    images = {}
    for label, name in enumerate(CIFAR10_CLASSES):
        folder = root / "train" / name
        folder.mkdir(parents=True)
        for idx in list(range(train_per_class)) + list(range(4500, 4500 + val_per_class)):
            img = class_image(rng, label)
            Image.fromarray(img).save(folder / f"{idx:04d}.png")
            images[(name, idx)] = img
    return images
