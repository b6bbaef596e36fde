"""Image files to uint8 NHWC arrays (Pillow): for calibration folders and `msp-pynq run`."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MSPError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def image_files(path: "str | Path") -> "list[Path]":
    """One image file, or the image files of a folder (sorted, recursive)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise MSPError(f"{p}: no such image file or folder")
    files = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise MSPError(f"{p}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return files


def load_images(path: "str | Path", size: "tuple[int, int]", channels: int = 3,
                limit: "int | None" = None) -> np.ndarray:
    """``uint8 [N, H, W, channels]``: each image converted (RGB or grayscale) and resized."""
    from PIL import Image
    if channels not in (1, 3):
        raise MSPError(f"images have 1 or 3 channels, not {channels}")
    files = image_files(path)[:limit]
    h, w = size
    out = np.empty((len(files), h, w, channels), np.uint8)
    for i, f in enumerate(files):
        try:
            with Image.open(f) as im:
                im = im.convert("L" if channels == 1 else "RGB")
                if im.size != (w, h):
                    im = im.resize((w, h), Image.BILINEAR)
                out[i] = np.asarray(im).reshape(h, w, channels)
        except OSError as exc:
            raise MSPError(f"{f}: cannot read image ({exc})") from None
    return out
