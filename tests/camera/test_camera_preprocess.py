"""Preprocessing against an independent computation (numpy block means), the crop geometry,
and the errors on frames that are not BGR uint8 [H, W, 3]."""
from __future__ import annotations

import numpy as np
import pytest

from msp_pynq.camera.preprocess import FrameError, centre_crop, preprocess


def block_mean_rgb(frame: np.ndarray, x0: int, size: int, out: int) -> np.ndarray:
    """Crop columns x0..x0+size, reverse the channels, average size/out blocks, round half up:
    what area resampling by an integer factor is, written with numpy alone."""
    f = size // out
    crop = frame[:, x0:x0 + size, ::-1].astype(np.int64)
    sums = crop.reshape(out, f, out, f, 3).sum(axis=(1, 3))
    return ((sums + f * f // 2) // (f * f)).astype(np.uint8)


def test_webcam_frame_exact():
    frame = np.random.default_rng(7).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    x = preprocess(frame, (32, 32, 3))
    assert x.dtype == np.uint8 and x.shape == (32, 32, 3)
    assert (x == block_mean_rgb(frame, 80, 480, 32)).all()          # 640x480 -> 480x480 -> 15x15 blocks


@pytest.mark.parametrize("shape,inside", [((300, 500, 3), (slice(None), slice(100, 400))),
                                          ((500, 300, 3), (slice(100, 400), slice(None))),
                                          ((90, 160, 3), (slice(None), slice(35, 125)))])
def test_only_the_centre_square_is_used(shape, inside):
    """Pixels outside the centred crop never reach the output, at any (non-integer) scale."""
    frame = np.full(shape, 255, np.uint8)
    frame[inside] = (10, 20, 30)                                    # BGR
    x = preprocess(frame, (32, 32, 3))
    assert (x == (30, 20, 10)).all()                                 # RGB, exactly


def test_non_square_model_input_and_identity():
    assert centre_crop(np.zeros((480, 640, 3), np.uint8), 32, 64).shape == (320, 640, 3)
    assert centre_crop(np.zeros((480, 640, 3), np.uint8), 64, 16).shape == (480, 120, 3)
    frame = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert (preprocess(frame, (32, 32, 3)) == frame[..., ::-1]).all()   # no resampling at the input size


def test_grayscale_model_input():
    frame = np.zeros((64, 64, 3), np.uint8)
    frame[...] = (0, 0, 200)                                          # red in BGR
    x = preprocess(frame, (16, 16, 1))
    assert x.shape == (16, 16, 1) and (x == round(0.299 * 200)).all()


@pytest.mark.parametrize("bad,found", [(np.zeros((480, 640, 3), np.float32), "float32 [480, 640, 3]"),
                                       (np.zeros((480, 640), np.uint8), "uint8 [480, 640]"),
                                       (np.zeros((480, 640, 4), np.uint8), "uint8 [480, 640, 4]"),
                                       (np.zeros((0, 640, 3), np.uint8), "uint8 [0, 640, 3]"),
                                       ([[1, 2, 3]], "list")])
def test_bad_frames_are_named(bad, found):
    expected = r"frame: expected a BGR uint8 array \[H, W, 3\], got " + found.replace("[", r"\[")
    with pytest.raises(FrameError, match=expected):
        preprocess(bad, (32, 32, 3))


def test_bad_model_input():
    with pytest.raises(FrameError, match=r"model input \[32, 32, 2\]: 1 or 3 channels"):
        preprocess(np.zeros((8, 8, 3), np.uint8), (32, 32, 2))
