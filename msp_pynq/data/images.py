"""Image files to uint8 NHWC arrays (Pillow): for calibration folders and `msp-pynq run`."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MSPError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


SAMPLE_PHOTOS = ("chelsea.jpg", "rocket.jpg", "coffee.jpg", "astronaut.jpg")
PHOTOS_DIR = Path(__file__).resolve().parent / "photos"


def sample_photos() -> "list[Path]":
    """Four sample photos shipped with msp_pynq (a cat, a rocket launch, a coffee cup, an
    astronaut; scikit-image's, reduced: ``photos/CREDITS.md``): the demo's default input.

    >>> [p.name for p in sample_photos()]
    ['chelsea.jpg', 'rocket.jpg', 'coffee.jpg', 'astronaut.jpg']
    """
    files = [PHOTOS_DIR / name for name in SAMPLE_PHOTOS]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise MSPError(f"{PHOTOS_DIR}: sample photos {', '.join(missing)} are missing from this "
                       f"installation of msp_pynq; pass --images")
    return files


def image_files(path: "str | Path | list") -> "list[Path]":
    """One image file, the image files of a folder (sorted, recursive), or a list of files."""
    if isinstance(path, (list, tuple)):
        return [f for item in path for f in image_files(item)]
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise MSPError(f"{p}: no such image file or folder")
    files = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise MSPError(f"{p}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return files


def load_images(path: "str | Path | list", size: "tuple[int, int]", channels: int = 3,
                limit: "int | None" = None) -> np.ndarray:
    """``uint8 [N, H, W, channels]``: each image converted (RGB or grayscale), centre-cropped to
    the target's aspect ratio and resized."""
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
                    im = im.resize((w, h), Image.BILINEAR, box=_centre_box(im.size, (w, h)))
                out[i] = np.asarray(im).reshape(h, w, channels)
        except OSError as exc:
            raise MSPError(f"{f}: cannot read image ({exc})") from None
    return out


def _centre_box(have: "tuple[int, int]", want: "tuple[int, int]") -> "tuple[int, int, int, int]":
    """The largest centred box of ``have`` (width, height) with the aspect ratio of ``want``."""
    (hw, hh), (ww, wh) = have, want
    cw, ch = (hw, hw * wh / ww) if hw * wh <= hh * ww else (hh * ww / wh, hh)
    left, top = (hw - cw) / 2, (hh - ch) / 2
    return (round(left), round(top), round(left + cw), round(top + ch))
