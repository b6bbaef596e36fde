"""Fixtures of the camera tests: the committed ResNet-20 bundle on the emulated PYNQ-Z2 overlay,
a short video and a folder of PNGs made from the sample photos, and scripted frame sources.

Only the camera is mocked (cv2.VideoCapture of an index, where a test needs one); files, OpenCV,
pynq and the runtime are real.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from .camera_helpers import VIDEO_FPS, VIDEO_SIZE, photo_frames

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "models" / "resnet20-msp8-exact.pynq-z2.mspb"


@pytest.fixture(scope="module")
def runtime():
    """The emulated PYNQ-Z2 runtime with the committed ResNet-20 bundle loaded."""
    from msp_pynq.runtime import Runtime
    rt = Runtime.open("pynq-z2", emulate=True, log=None)
    rt.load(BUNDLE)
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> "tuple[Path, list[np.ndarray]]":
    """``(path, frames written)``: an MPEG-4 video made with cv2.VideoWriter from the sample photos."""
    frames = photo_frames()
    path = tmp_path_factory.mktemp("video") / "photos.mp4"
    h, w = VIDEO_SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), VIDEO_FPS, (w, h))
    assert writer.isOpened(), "this OpenCV cannot write mp4v videos"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path, frames


@pytest.fixture
def png_folder(tmp_path) -> "tuple[Path, list[np.ndarray]]":
    """``(folder, images in name order)``: three PNGs (lossless, so read back exactly)."""
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (24 + 8 * i, 40, 3), dtype=np.uint8) for i in range(3)]
    for i, image in enumerate(images):
        assert cv2.imwrite(str(tmp_path / f"img{i}.png"), image)
    return tmp_path, images
