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
from .images import sample_photos


def photo_crops(count: int, size: "tuple[int, int] | int" = 32, seed: int = 0,
                photos: "list[Path] | None" = None, min_scale: float = 0.3) -> "tuple[np.ndarray, np.ndarray, list[str]]":
    """``(uint8 [count, H, W, 3] images, int64 labels, class names)``: ``count`` random crops,
    labels cycling over ``photos`` (default: :func:`sample_photos`), class names their stems."""
    from PIL import Image
    if count < 1 or not 0 < min_scale <= 1:
        raise MSPError(f"photo_crops: need count >= 1 and 0 < min_scale <= 1, got {count}, {min_scale}")
    h, w = (size, size) if isinstance(size, int) else size
    files = list(photos or sample_photos())
    rng = np.random.default_rng(seed)
    sources = []
    for f in files:
        with Image.open(f) as im:
            sources.append(im.convert("RGB"))
    labels = np.arange(count, dtype=np.int64) % len(files)
    rng.shuffle(labels)
    images = np.empty((count, h, w, 3), np.uint8)
    for i, label in enumerate(labels):
        images[i] = _random_crop(sources[label], (w, h), rng, min_scale)
    return images, labels, [f.stem for f in files]


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
