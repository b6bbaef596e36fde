"""Image files to uint8 NHWC arrays (Pillow): for calibration folders and `msp-pynq run`.

Every file is checked before it is decoded: it must be a regular file (a FIFO or device named
``x.png`` is refused, never opened for reading), in one of the formats below, and its decoded
size, read from its header, at most :data:`MAX_PIXELS` (20 megapixels: a 20 MP camera's photo).
Decoding takes at most about 10 bytes a pixel at its peak (Pillow's 4-byte pixels, the converted
copy, the array), so at most ~200 MB. A larger JPEG (a 48 MP phone photo) is reduced by 1/2,
1/4 or 1/8 while it is decoded (Pillow's ``draft``), to the least reduction that fits, or to the
model's input size when that is all it is needed for.
"""
from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

import numpy as np

from ..errors import MSPError
from ..fileio import check_regular_file, show
from ..numerics.bounds import ceil_div

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
PIL_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")     # the formats of IMAGE_SUFFIXES
MAX_PIXELS = 20_000_000          # decoded pixels of one image (after any JPEG reduction)
MAX_SIDE = 4096                  # the largest height or width an image is resized to
MAX_BATCH_BYTES = 1 << 30        # the largest array load_images returns


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
    """One image file, the image files of a folder (sorted, recursive, not following links to
    folders), or a list of files. A FIFO, device or socket, given or found, is refused."""
    if isinstance(path, (list, tuple)):
        return [f for item in path for f in image_files(item)]
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except OSError:
        raise MSPError(f"{show(p)}: no such image file or folder") from None
    if not stat.S_ISDIR(mode):
        return [check_regular_file(p, "image")]
    files = sorted(_walk_images(p))
    if not files:
        raise MSPError(f"{show(p)}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return files


def _walk_images(top: Path) -> "list[Path]":
    """Files with an image suffix under ``top`` (a stack, not recursion: any depth)."""
    found, folders = [], [top]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            raise MSPError(f"{show(folder)}: cannot list the folder ({exc.strerror or exc})") from None
        for entry in entries:
            path = folder / entry.name
            if entry.is_dir(follow_symlinks=False):
                folders.append(path)
            elif path.suffix.lower() in IMAGE_SUFFIXES:
                found.append(check_regular_file(path, "image"))
    return found


def _positive_int(value, name: str, high: int) -> int:
    if (type(value) is not int and not isinstance(value, np.integer)) or not 1 <= value <= high:
        raise MSPError(f"{name} must be an integer in 1..{high:,}, not {show(repr(value)[:60])}")
    return int(value)


def open_image(path: "str | Path", mode: str = "RGB", reduce_to: "tuple[int, int] | None" = None,
               exact_size: "tuple[int, int] | None" = None):
    """The image file ``path`` decoded and converted to ``mode`` (a loaded ``PIL.Image``), after
    the checks in this module's docstring. ``reduce_to`` (width, height): the size it will be
    resized to, so that a JPEG may be decoded reduced to no less than that; ``exact_size``
    (width, height): an image of another size is refused before it is decoded."""
    from PIL import Image
    p = check_regular_file(path, "image")
    try:
        # O_NONBLOCK: should the path become a FIFO after the check, the open does not block
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise MSPError(f"{show(p)}: cannot read image ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise MSPError(f"{show(p)}: image is not a regular file")
        if st.st_size == 0:
            raise MSPError(f"{show(p)}: image file is empty")
        try:
            with warnings.catch_warnings():
                # Pillow's own bomb warning (89 Mpx) is looser than MAX_PIXELS, checked below,
                # and would refuse a big JPEG that a reduced decode makes small.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(fh, formats=PIL_FORMATS) as im:
                    if exact_size is not None and im.size != tuple(exact_size):
                        raise MSPError(f"{show(p)}: image is {im.size[0]}x{im.size[1]}, expected "
                                       f"{exact_size[0]}x{exact_size[1]}")
                    _fit_before_decoding(im, p, mode, reduce_to)
                    im.load()
                    return im.convert(mode)
        except (MSPError, MemoryError):
            raise
        except Image.UnidentifiedImageError:
            raise MSPError(f"{show(p)}: not an image in a format read here "
                           f"({', '.join(PIL_FORMATS)})") from None
        except Image.DecompressionBombError as exc:
            raise MSPError(f"{show(p)}: image too large to decode ({exc})") from None
        except Exception as exc:   # a damaged file fails in Pillow's decoders in many ways
            raise MSPError(f"{show(p)}: cannot read image ({type(exc).__name__}: "
                           f"{show(str(exc)[:200])})") from None


def _fit_before_decoding(im, p: Path, mode: str, reduce_to: "tuple[int, int] | None") -> None:
    """Refuse ``im`` (opened, not decoded) if its decoded size exceeds MAX_PIXELS, after the
    JPEG reduction that fits (and, with ``reduce_to``, no smaller than that size)."""
    w, h = im.size
    if w < 1 or h < 1:
        raise MSPError(f"{show(p)}: image declares the size {w}x{h}")
    if im.format == "JPEG":
        scale = next((s for s in (1, 2, 4, 8) if ceil_div(w, s) * ceil_div(h, s) <= MAX_PIXELS), 8)
        want_w, want_h = max(1, w // scale), max(1, h // scale)
        if reduce_to is not None:
            want_w, want_h = min(want_w, reduce_to[0]), min(want_h, reduce_to[1])
        if (want_w, want_h) != (w, h):
            im.draft(mode, (want_w, want_h))
    dw, dh = im.size
    if dw * dh > MAX_PIXELS:
        raise MSPError(f"{show(p)}: image is {w}x{h} ({w * h:,} pixels), more than the "
                       f"{MAX_PIXELS:,} decoded here")


def read_image(path: "str | Path", mode: str = "RGB",
               exact_size: "tuple[int, int] | None" = None) -> np.ndarray:
    """``uint8 [H, W, C]`` of one image file (C: 3 for RGB, 1 for L), checked and decoded by
    :func:`open_image`."""
    arr = np.asarray(open_image(path, mode, exact_size=exact_size))
    return arr.reshape(arr.shape[0], arr.shape[1], -1)


def load_images(path: "str | Path | list", size: "tuple[int, int]", channels: int = 3,
                limit: "int | None" = None) -> np.ndarray:
    """``uint8 [N, H, W, channels]``: each image converted (RGB or grayscale), centre-cropped to
    the target's aspect ratio and resized. ``size`` is (height, width), each 1..MAX_SIDE;
    ``limit`` (None: all) keeps the first that many files."""
    from PIL import Image
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise MSPError(f"image size must be (height, width), not {show(repr(size)[:60])}")
    h = _positive_int(size[0], "image height", MAX_SIDE)
    w = _positive_int(size[1], "image width", MAX_SIDE)
    if channels not in (1, 3) or isinstance(channels, bool):
        raise MSPError(f"images have 1 or 3 channels, not {show(repr(channels)[:60])}")
    if limit is not None:
        limit = _positive_int(limit, "limit", 1 << 31)
    files = image_files(path)[:limit]
    if len(files) * h * w * channels > MAX_BATCH_BYTES:
        raise MSPError(f"{len(files):,} images of {h}x{w}x{channels} need more than "
                       f"{MAX_BATCH_BYTES:,} bytes; pass a smaller limit")
    out = np.empty((len(files), h, w, channels), np.uint8)
    for i, f in enumerate(files):
        im = open_image(f, "L" if channels == 1 else "RGB", reduce_to=(w, h))
        if im.size != (w, h):
            im = im.resize((w, h), Image.BILINEAR, box=_centre_box(im.size, (w, h)))
        out[i] = np.asarray(im).reshape(h, w, channels)
    return out


def _centre_box(have: "tuple[int, int]", want: "tuple[int, int]") -> "tuple[int, int, int, int]":
    """The largest centred box of ``have`` (width, height) with the aspect ratio of ``want``."""
    (hw, hh), (ww, wh) = have, want
    cw, ch = (hw, hw * wh / ww) if hw * wh <= hh * ww else (hh * ww / wh, hh)
    left, top = (hw - cw) / 2, (hh - ch) / 2
    return (round(left), round(top), round(left + cw), round(top + ch))
