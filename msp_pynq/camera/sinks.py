"""Where annotated frames go: a video file, an OpenCV window, a Jupyter output that updates in
place, or a strip of a few frames kept for the end. Each sink has ``write(frame)`` and
``close()``; :func:`msp_pynq.camera.demo.run_demo` feeds them.

>>> import numpy as np
>>> strip = FrameStrip(count=2, every=3)
>>> for i in range(9):
...     strip.write(np.full((4, 4, 3), i, np.uint8))
>>> [int(f[0, 0, 0]) for f in strip.frames]
[0, 3]
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from ..errors import MSPError


class SinkError(MSPError):
    """A sink cannot be opened (no GUI, an unwritable video file)."""


class VideoFileSink:
    """Annotated frames into a video file (``.mp4``: MPEG-4 part 2; ``.avi``: MJPG) at ``fps``."""

    FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v"}

    def __init__(self, path: "str | Path", fps: float = 30.0) -> None:
        self.path, self.fps = Path(path), fps
        if self.path.suffix.lower() not in self.FOURCC:
            raise SinkError(f"{self.path}: write .mp4, .avi or .mkv")
        if not self.path.parent.is_dir():
            raise SinkError(f"{self.path}: folder {self.path.parent} does not exist")
        self._writer: "cv2.VideoWriter | None" = None
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:        # the frame size is known at the first frame only
            h, w = frame.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*self.FOURCC[self.path.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise SinkError(f"{self.path}: OpenCV cannot write this video (no FFmpeg encoder?)")
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


def gui_problem() -> "str | None":
    """Why ``cv2.imshow`` cannot work here (None: it can): OpenCV built without a GUI
    (opencv-python-headless), or no display to open a window on."""
    gui = [line for line in cv2.getBuildInformation().splitlines() if line.strip().startswith("GUI:")]
    if gui and gui[0].split(":", 1)[1].strip().upper() == "NONE":
        return ("this OpenCV has no GUI support (opencv-python-headless); install opencv-python for "
                "--show, or write the frames with --out annotated.mp4")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display ($DISPLAY is not set) to open a window on; use --out annotated.mp4"
    return None


class WindowSink:
    """Frames in an OpenCV window (``cv2.imshow``); :class:`SinkError` where there is no GUI.
    ``closed`` turns True when the user presses q or Esc."""

    def __init__(self, title: str = "msp-pynq camera") -> None:
        problem = gui_problem()
        if problem:
            raise SinkError(f"--show: {problem}")
        self.title, self.closed = title, False
        try:
            cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)
        except cv2.error as exc:
            raise SinkError(f"--show: OpenCV cannot open a window: {exc}") from None

    def write(self, frame: np.ndarray) -> None:
        cv2.imshow(self.title, frame)
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            self.closed = True

    def close(self) -> None:
        cv2.destroyWindow(self.title)


def jpeg(frame: np.ndarray, quality: int = 80) -> bytes:
    """A BGR frame as JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise SinkError(f"cannot encode a frame of shape {list(frame.shape)} as JPEG")
    return buf.tobytes()


class JupyterView:
    """Frames shown live in a Jupyter output: one image updated in place (an IPython display
    handle, no ipywidgets needed), at most ``max_fps`` updates a second (JPEG encoding costs
    the ARM time); the last frame is always shown at :meth:`close`."""

    def __init__(self, max_fps: float = 8.0, quality: int = 80) -> None:
        from IPython.display import Image, display
        self._image, self._display = Image, display
        self.period, self.quality = 1.0 / max_fps, quality
        self._handle = None
        self._last_t = -1e9
        self._pending: "np.ndarray | None" = None
        self.updates = 0

    def write(self, frame: np.ndarray) -> None:
        now = time.perf_counter()
        if now - self._last_t < self.period:
            self._pending = frame
            return
        self._show(frame)
        self._last_t, self._pending = now, None

    def _show(self, frame: np.ndarray) -> None:
        image = self._image(data=jpeg(frame, self.quality), format="jpeg")
        if self._handle is None:
            self._handle = self._display(image, display_id=True)
        else:
            self._handle.update(image)
        self.updates += 1

    def close(self) -> None:
        if self._pending is not None:
            self._show(self._pending)
            self._pending = None


class FrameStrip:
    """Keeps every ``every``-th frame, at most ``count`` of them (bounded memory on a board)."""

    def __init__(self, count: int = 4, every: int = 25) -> None:
        self.count, self.every = count, max(1, every)
        self.frames: "list[np.ndarray]" = []
        self._seen = 0

    def write(self, frame: np.ndarray) -> None:
        if self._seen % self.every == 0 and len(self.frames) < self.count:
            self.frames.append(frame)
        self._seen += 1

    def close(self) -> None:
        pass
