"""A camera frame to the model's input: BGR to RGB, centre crop to the input's aspect ratio,
area resampling (``cv2.INTER_AREA``, which averages the pixels each output pixel covers: no
aliasing when shrinking 640x480 to 32x32), uint8.

>>> import numpy as np
>>> frame = np.zeros((480, 640, 3), np.uint8); frame[..., 0] = 255      # pure blue in BGR
>>> x = preprocess(frame, (32, 32, 3))
>>> x.shape, x.dtype, x[0, 0].tolist()
((32, 32, 3), dtype('uint8'), [0, 0, 255])
"""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import MSPError
from ..fileio import show


class FrameError(MSPError):
    """A frame is not a BGR uint8 image ``[H, W, 3]``."""


def check_frame(frame: np.ndarray, where: str = "frame") -> np.ndarray:
    """``frame`` if it is a BGR uint8 ``[H, W, 3]`` array; a :class:`FrameError` naming what it is otherwise."""
    if not isinstance(frame, np.ndarray):
        raise FrameError(f"{where}: expected a BGR uint8 array [H, W, 3], got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8 or 0 in frame.shape:
        raise FrameError(f"{where}: expected a BGR uint8 array [H, W, 3], got {frame.dtype} "
                         f"{list(frame.shape)}")
    return frame


def centre_crop(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """The largest centred region of ``frame`` with the aspect ratio ``width / height`` (a view).

    >>> centre_crop(np.zeros((480, 640, 3), np.uint8), 32, 32).shape
    (480, 480, 3)
    """
    h, w = frame.shape[:2]
    if w * height > h * width:                   # frame wider than the target: trim the sides
        cw = max(1, round(h * width / height))
        x0 = (w - cw) // 2
        return frame[:, x0:x0 + cw]
    ch = max(1, round(w * height / width))
    y0 = (h - ch) // 2
    return frame[y0:y0 + ch]


def preprocess(frame: np.ndarray, input_shape: "tuple[int, int, int]" = (32, 32, 3)) -> np.ndarray:
    """The model input ``uint8 [H, W, C]`` (RGB for C=3, luma for C=1) of a BGR camera frame."""
    check_frame(frame)
    h, w, c = _input_shape(input_shape)
    crop = centre_crop(frame, h, w)
    small = crop if crop.shape[:2] == (h, w) else cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
    if c == 1:
        return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)[..., None]
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)


MAX_INPUT_SIDE = 4096


def _input_shape(input_shape) -> "tuple[int, int, int]":
    """``(H, W, C)`` as ints: H and W in 1..MAX_INPUT_SIDE, C 1 or 3; else a :class:`FrameError`."""
    try:
        h, w, c = input_shape
        ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (h, w, c))
    except (TypeError, ValueError):
        ok = False
    if not ok or not (1 <= h <= MAX_INPUT_SIDE and 1 <= w <= MAX_INPUT_SIDE):
        raise FrameError(f"model input {show(repr(input_shape)[:60])}: expected (height, width, "
                         f"channels) with height and width in 1..{MAX_INPUT_SIDE}")
    if c not in (1, 3):
        raise FrameError(f"model input {[int(h), int(w), int(c)]}: 1 or 3 channels expected, not {c}")
    return int(h), int(w), int(c)
