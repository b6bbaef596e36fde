"""Builders of the camera tests' inputs: photo frames for a test video and a scripted frame
source. Kept out of conftest.py so that the test modules can import them (relatively)."""
from __future__ import annotations

import threading

import cv2
import numpy as np

from msp_pynq.camera.sources import FrameSource, pan_frame
from msp_pynq.data.images import sample_photos

VIDEO_SIZE = (120, 160)          # (height, width): small, so the tests stay fast
VIDEO_FPS = 10.0
FRAMES_PER_PHOTO = 4


def photo_frames() -> "list[np.ndarray]":
    """FRAMES_PER_PHOTO pan frames of each sample photo, VIDEO_SIZE, BGR."""
    frames = []
    for path in sample_photos():
        image = cv2.imread(str(path))
        frames += [pan_frame(image, i / (FRAMES_PER_PHOTO - 1), VIDEO_SIZE) for i in range(FRAMES_PER_PHOTO)]
    return frames


class ScriptedSource(FrameSource):
    """``n`` frames filled with their own index (so a test's inference function knows which
    frame it got), counted under a Condition that tests wait on (always with a timeout).
    ``fail_at``: raise there; ``bad``: deliver float32 frames."""

    def __init__(self, n: int, realtime: bool = False, fail_at: "int | None" = None, bad: bool = False,
                 size: "tuple[int, int]" = (48, 64)) -> None:
        super().__init__(fps=None, realtime=realtime)
        self.n, self.fail_at, self.bad, self.size = n, fail_at, bad, size
        self.produced = 0
        self.cond = threading.Condition()
        self.name = "scripted source"

    def _read(self):
        if self.produced == self.fail_at:
            from msp_pynq.camera import SourceError
            raise SourceError(f"{self.name}: stopped delivering frames after {self.produced}")
        if self.produced >= self.n:
            return None
        frame = np.full(self.size + (3,), self.produced, np.float32 if self.bad else np.uint8)
        with self.cond:
            self.produced += 1
            self.cond.notify_all()
        return frame

    def wait_produced(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until ``count`` frames have been read (or the source is exhausted)."""
        with self.cond:
            return self.cond.wait_for(lambda: self.produced >= min(count, self.n), timeout)


def frame_index(x: np.ndarray) -> int:
    """The index a ScriptedSource frame carries, read back from the model input."""
    return int(x[0, 0, 0, 0])
