"""A small labelled dataset anyone has: random crops of the sample photos, one class per photo.

The "quantize your own model" notebook trains on it when CIFAR-10 is not at hand (CI, a fresh
PC): each image is a random square-ish crop (30 to 100% of the photo's short side), possibly
flipped, resized to the model's input. Needs Pillow.

>>> images, labels, classes = photo_crops(8, seed=0)
>>> images.shape, images.dtype, classes
((8, 32, 32, 3), dtype('uint8'), ['chelsea', 'rocket', 'coffee', 'astronaut'])
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MSPError
from ..fileio import finite
from .images import MAX_BATCH_BYTES, MAX_SIDE, open_image, sample_photos

MAX_COUNT = 1_000_000


def photo_crops(count: int, size: "tuple[int, int] | int" = 32, seed: int = 0,
                photos: "list[Path] | None" = None, min_scale: float = 0.3) -> "tuple[np.ndarray, np.ndarray, list[str]]":
    """``(uint8 [count, H, W, 3] images, int64 labels, class names)``: ``count`` random crops,
    labels cycling over ``photos`` (default: :func:`sample_photos`), class names their stems."""
    if type(count) is not int or not 1 <= count <= MAX_COUNT:
        raise MSPError(f"photo_crops: count must be an integer in 1..{MAX_COUNT:,}, not {count!r}")
    finite(min_scale, "photo_crops: min_scale", 0, 1, low_open=True)
    h, w = _size(size)
    if count * h * w * 3 > MAX_BATCH_BYTES:
        raise MSPError(f"photo_crops: {count:,} crops of {h}x{w} need more than {MAX_BATCH_BYTES:,} bytes")
    files = list(photos or sample_photos())
    rng = np.random.default_rng(seed)
    sources = [open_image(f, "RGB") for f in files]      # checked and size-capped before decoding
    labels = np.arange(count, dtype=np.int64) % len(files)
    rng.shuffle(labels)
    images = np.empty((count, h, w, 3), np.uint8)
    for i, label in enumerate(labels):
        images[i] = _random_crop(sources[label], (w, h), rng, min_scale)
    return images, labels, [f.stem for f in files]


def _size(size) -> "tuple[int, int]":
    hw = (size, size) if isinstance(size, (int, np.integer)) and not isinstance(size, bool) else size
    if not (isinstance(hw, (tuple, list)) and len(hw) == 2
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 1 <= v <= MAX_SIDE
                    for v in hw)):
        raise MSPError(f"photo_crops: size must be an integer or (height, width) in 1..{MAX_SIDE}, "
                       f"not {size!r}")
    return int(hw[0]), int(hw[1])


def _random_crop(photo, size: "tuple[int, int]", rng: np.random.Generator, min_scale: float) -> np.ndarray:
    from PIL import Image
    pw, ph = photo.size
    side = rng.uniform(min_scale, 1.0) * min(pw, ph)
    cw = min(pw, side * rng.uniform(0.8, 1.25))            # mild aspect jitter
    ch = min(ph, side)
    left, top = rng.uniform(0, pw - cw), rng.uniform(0, ph - ch)
    crop = photo.resize(size, Image.BILINEAR, box=(left, top, left + cw, top + ch))
    out = np.asarray(crop)
    return out[:, ::-1] if rng.random() < 0.5 else out
