"""Frame sources of the live demo, behind one interface: a camera, a video file, a folder of
images, or a slow pan over a photo. Every source yields BGR ``uint8 [H, W, 3]`` frames (what
OpenCV's camera gives) and ``None`` at its end.

>>> with open_source("pan", frames=2, log=None) as src:
...     [frame.shape for frame in src]
[(480, 640, 3), (480, 640, 3)]

``open_source("0")`` opens camera 0; when none opens (a PC, CI) it says so in one line and falls
back to another source (the pan unless ``fallback`` names one).
"""
from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from ..data.images import IMAGE_SUFFIXES, MAX_PIXELS, image_files, open_image, sample_photos
from ..errors import MSPError
from ..fileio import check_regular_file, show

DEFAULT_FPS = 30.0
FRAME_SIZE = (480, 640)          # (height, width) of the pan's frames: a USB webcam's default

SPEC_HELP = "a camera index such as 0, a video file, a folder of images, an image file or 'pan'"
MAX_CAMERA_INDEX = 99            # OpenCV's indices are small; a larger number is a mistake


class SourceError(MSPError):
    """A frame source cannot be opened, or stopped delivering frames."""


class CameraUnavailable(SourceError):
    """No camera opened at the index asked for."""


class FrameSource:
    """One stream of BGR uint8 frames; iterate it, or call :meth:`read` until it returns None.

    ``fps`` is the source's native frame rate (None: unknown); ``realtime`` says whether frames
    come at that rate (a camera, or a file paced like one) or as fast as they are read.
    ``last_read_s`` is the time the last :meth:`read` spent getting its frame, pacing excluded.
    """

    name = "source"

    def __init__(self, fps: "float | None" = None, realtime: bool = False) -> None:
        self.fps, self.realtime = fps, realtime
        self.frames_read = 0
        self.last_read_s = 0.0
        self._due: "float | None" = None

    def read(self) -> "np.ndarray | None":
        """The next frame, or None when the source has ended."""
        if self.realtime and self.fps and not self.paces_itself:
            self._pace()
        t0 = time.perf_counter()
        frame = self._read()
        self.last_read_s = time.perf_counter() - t0
        if frame is not None:
            self.frames_read += 1
        return frame

    # A camera delivers frames at its own rate; files and the pan are paced here when realtime.
    paces_itself = False

    def _pace(self) -> None:
        """Sleep until the next frame is due, like a camera that delivers ``fps`` frames a second."""
        now = time.perf_counter()
        period = 1.0 / self.fps
        if self._due is None or now - self._due > period:    # first frame, or fell behind: no burst
            self._due = now
        elif self._due > now:
            time.sleep(self._due - now)
        self._due += period

    def _read(self) -> "np.ndarray | None":
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file (idempotent)."""

    def describe(self) -> str:
        rate = f"{self.fps:g} fps" if self.fps else "unknown fps"
        pace = "real time" if self.realtime else "as fast as possible"
        return f"{self.name} ({rate}, {pace})"

    def __iter__(self) -> Iterator[np.ndarray]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


class CameraSource(FrameSource):
    """``cv2.VideoCapture(index)``: a USB webcam on the board. Raises :class:`CameraUnavailable`
    when none opens; a camera that stops delivering frames raises :class:`SourceError`."""

    paces_itself = True

    def __init__(self, index: int = 0) -> None:
        if type(index) is not int or not 0 <= index <= MAX_CAMERA_INDEX:
            raise SourceError(f"camera index must be an integer in 0..{MAX_CAMERA_INDEX}, "
                              f"not {show(repr(index)[:40])}")
        # OpenCV warns on stderr about a missing camera; we say it once, in our own words.
        set_level = getattr(cv2, "setLogLevel", None)        # absent from some older OpenCV builds
        previous = set_level(0) if set_level else None
        try:
            cap = cv2.VideoCapture(index)
            opened = cap.isOpened()
        finally:
            if set_level and previous is not None:
                set_level(previous)
        if not opened:
            cap.release()
            raise CameraUnavailable(f"camera {index}: no camera opened (none attached, or in use)")
        # Keep the driver's queue short, so that a frame read is a recent one.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        fps = cap.get(cv2.CAP_PROP_FPS)
        super().__init__(fps if fps and fps > 0 else None, realtime=True)
        self.index, self._cap = index, cap
        self.name = f"camera {index}"

    def _read(self) -> np.ndarray:
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise SourceError(f"camera {self.index}: stopped delivering frames after "
                              f"{self.frames_read} (unplugged?)")
        return frame

    def close(self) -> None:
        self._cap.release()


class VideoFileSource(FrameSource):
    """The frames of a video file (any format OpenCV's FFmpeg reads), optionally looped;
    ``realtime`` paces them at the file's frame rate."""

    def __init__(self, path: "str | Path", realtime: bool = False, loop: bool = False) -> None:
        path = Path(path)
        if not os.path.lexists(path):
            raise SourceError(f"{show(path)}: no such video file")
        try:
            check_regular_file(path, "video")         # a FIFO or device would be read forever
        except MSPError as exc:
            raise SourceError(str(exc)) from None
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise SourceError(f"{show(path)}: OpenCV cannot open this file as a video")
        width, height = cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
        if width * height > MAX_PIXELS:
            cap.release()
            raise SourceError(f"{show(path)}: video frames are {width:.0f}x{height:.0f}, more than "
                              f"the {MAX_PIXELS:,} pixels decoded here")
        fps = cap.get(cv2.CAP_PROP_FPS)
        fps = fps if 0 < fps <= 1000 else None       # NaN, 0 or absurd: the default
        super().__init__(fps or DEFAULT_FPS, realtime)
        self.path, self.loop, self._cap = path, loop, cap
        self.name = path.name

    def _read(self) -> "np.ndarray | None":
        ok, frame = self._cap.read()
        if not ok and self.loop and self.frames_read:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        if not ok:
            if not self.frames_read:
                raise SourceError(f"{show(self.path)}: no frame could be decoded")
            return None
        return frame

    def close(self) -> None:
        self._cap.release()


class ImageFolderSource(FrameSource):
    """Image files as a sequence, each held for ``hold_s`` seconds of frames at ``fps``
    (one frame each when ``hold_s`` is None), optionally looped."""

    def __init__(self, path: "str | Path | Sequence", fps: float = DEFAULT_FPS, hold_s: "float | None" = None,
                 realtime: bool = False, loop: bool = False) -> None:
        super().__init__(fps, realtime)
        try:
            self.files = image_files(path)
        except MSPError as exc:
            raise SourceError(str(exc)) from None
        self.hold = max(1, round(hold_s * fps)) if hold_s else 1
        self.loop = loop
        self._frame: "np.ndarray | None" = None
        self._step = 0
        where = f" in {Path(path).name}" if isinstance(path, (str, Path)) else ""
        self.name = self.files[0].name if len(self.files) == 1 else f"{len(self.files)} images{where}"

    def _read(self) -> "np.ndarray | None":
        image, held = divmod(self._step, self.hold)
        if image >= len(self.files):
            if not self.loop:
                return None
            self._step, image, held = 0, 0, 0
        if held == 0:
            self._frame = _read_image(self.files[image])
        self._step += 1
        return self._frame.copy()          # consumers may draw on it


def _read_image(path: Path) -> np.ndarray:
    """A BGR frame of an image file, checked and size-capped before decoding
    (:func:`msp_pynq.data.images.open_image`)."""
    try:
        im = open_image(path, "RGB")
    except MSPError as exc:
        raise SourceError(str(exc)) from None
    # Pillow writes the BGR bytes itself: one copy, not an RGB array and then a BGR one
    return np.frombuffer(im.tobytes("raw", "BGR"), np.uint8).reshape(im.size[1], im.size[0], 3)


class PanSource(FrameSource):
    """A slow pan with a slight zoom over each photo in turn, like a camera moved over a scene.

    ``images``: BGR arrays; default: msp_pynq's sample photos, or a scene drawn with OpenCV when
    they are not installed. ``seconds_per_photo`` at ``fps`` sets the pan's length per photo;
    ``frames`` ends the source after that many frames (None: endless).
    """

    def __init__(self, images: "Sequence[np.ndarray] | None" = None, size: "tuple[int, int]" = FRAME_SIZE,
                 fps: float = DEFAULT_FPS, seconds_per_photo: float = 4.0, frames: "int | None" = None,
                 realtime: bool = False, zoom: float = 1.25) -> None:
        super().__init__(fps, realtime)
        if images is None:
            images, self.name = default_scenes()
        else:
            self.name = f"pan over {len(images)} image(s)"
        self.images = [np.asarray(im) for im in images]
        if not self.images:
            raise SourceError("pan: no images to pan over")
        self.size, self.zoom, self.limit = tuple(size), zoom, frames
        self.steps = max(2, round(seconds_per_photo * fps))

    def _read(self) -> "np.ndarray | None":
        if self.limit is not None and self.frames_read >= self.limit:
            return None
        photo, step = divmod(self.frames_read, self.steps)
        return pan_frame(self.images[photo % len(self.images)], step / (self.steps - 1), self.size, self.zoom)


def pan_frame(image: np.ndarray, t: float, size: "tuple[int, int]", zoom: float = 1.25) -> np.ndarray:
    """The pan's view of ``image`` at ``t`` in [0, 1]: a crop of the output's aspect ratio that
    zooms in from the largest one (t=0) to 1/``zoom`` of it (t=1) while moving from the
    image's left (top) to its right (bottom); resampled to ``size`` (height, width)."""
    h, w = image.shape[:2]
    out_h, out_w = size
    base_w = min(w, h * out_w / out_h)           # the largest crop with the output's aspect
    crop_w = base_w / (1.0 + (zoom - 1.0) * t)
    crop_h = crop_w * out_h / out_w
    x0, y0 = (w - crop_w) * t, (h - crop_h) * (0.5 + 0.5 * (t - 0.5))
    s = out_w / crop_w
    # One affine warp (scale + shift) moves smoothly by fractions of a pixel, unlike a crop.
    m = np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]])
    return cv2.warpAffine(image, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def default_scenes() -> "tuple[list[np.ndarray], str]":
    """The sample photos (BGR), or one synthetic scene when they are missing: ``(images, name)``."""
    try:
        files = sample_photos()
        return [_read_image(f) for f in files], "pan over " + ", ".join(f.name for f in files)
    except MSPError:
        return [synthetic_scene()], "pan over a synthetic scene (sample photos not installed)"


def synthetic_scene(size: "tuple[int, int]" = (600, 900)) -> np.ndarray:
    """A scene drawn with OpenCV (sky, sun, hills, a house, a car) for boards without the photos.

    >>> synthetic_scene().shape
    (600, 900, 3)
    """
    h, w = size
    sky = np.linspace((235, 190, 120), (250, 230, 200), h * 6 // 10).astype(np.uint8)   # BGR
    img = np.empty((h, w, 3), np.uint8)
    img[:len(sky)] = sky[:, None, :]
    img[len(sky):] = (60, 150, 70)
    cv2.circle(img, (w * 4 // 5, h // 6), h // 12, (80, 220, 255), -1, cv2.LINE_AA)
    cv2.ellipse(img, (w // 4, h * 6 // 10), (w // 3, h // 5), 0, 180, 360, (70, 130, 60), -1, cv2.LINE_AA)
    x, y = w // 8, h // 2                                                                  # house
    cv2.rectangle(img, (x, y), (x + w // 6, y + h // 5), (170, 200, 230), -1)
    roof = np.array([(x - 15, y), (x + w // 12, y - h // 8), (x + w // 6 + 15, y)], np.int32)
    cv2.fillPoly(img, [roof], (50, 50, 160), cv2.LINE_AA)
    cv2.rectangle(img, (x + w // 16, y + h // 12), (x + w // 10, y + h // 5), (40, 70, 110), -1)
    cx, cy = w // 2, h * 3 // 4                                                           # car
    cv2.rectangle(img, (cx, cy - h // 14), (cx + w // 4, cy), (40, 40, 200), -1)
    cv2.rectangle(img, (cx + w // 20, cy - h // 8), (cx + w // 6, cy - h // 14), (40, 40, 200), -1)
    for wx in (cx + w // 20, cx + w // 5):
        cv2.circle(img, (wx, cy), h // 28, (30, 30, 30), -1, cv2.LINE_AA)
    return img


def open_source(spec: "int | str | Path", *, realtime: "bool | None" = None, loop: bool = False,
                fallback: "int | str | Path | None" = None, hold_s: "float | None" = None, frames: "int | None" = None,
                log: "Callable[[str], None] | None" = print) -> FrameSource:
    """The source named by ``spec``: a camera index (``0`` or ``"0"``), a video file, a folder
    of images or an image file (each held ``hold_s`` seconds, default 1), or ``"pan"`` (``hold_s``
    seconds per photo, default 4; ``frames`` long, or endless). Files and the pan are read as fast
    as possible unless ``realtime``; ``loop`` restarts a file or folder at its end.

    When a camera is asked for and none opens, ``log`` gets one line saying so and ``fallback``
    (default: the pan) is opened instead.

    >>> src = open_source(99, log=print)                 # doctest: +ELLIPSIS
    camera 99: no camera opened (none attached, or in use); using pan over ... instead
    >>> src.close()
    """
    log = log or (lambda line: None)
    text = str(spec).strip()
    if _is_camera(spec, text):
        if len(text) > 6:                        # int() of thousands of digits is refused anyway
            raise SourceError(f"camera index must be an integer in 0..{MAX_CAMERA_INDEX}, not {text[:12]}...")
        try:
            return CameraSource(int(text))
        except CameraUnavailable as exc:
            if fallback is not None and _is_camera(fallback, str(fallback).strip()):
                raise SourceError(f"{exc}; the fallback must not be a camera too") from None
            source = open_source("pan" if fallback is None else fallback, realtime=realtime, loop=loop,
                                 hold_s=hold_s, frames=frames, log=log)
            log(f"{exc}; using {source.name} instead")
            return source
    if text.lower() == "pan":
        return PanSource(frames=frames, realtime=bool(realtime), seconds_per_photo=hold_s or 4.0)
    path = Path(text).expanduser()
    _check_special(path, text)
    if path.is_dir():
        return ImageFolderSource(path, hold_s=hold_s or 1.0, realtime=bool(realtime), loop=loop)
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFolderSource([path], hold_s=hold_s or 1.0, realtime=bool(realtime), loop=loop)
    if path.is_file():
        return VideoFileSource(path, realtime=bool(realtime), loop=loop)
    raise SourceError(f"{text}: no such file or folder (a source is {SPEC_HELP})")


def _is_camera(spec, text: str) -> bool:
    """Whether ``spec`` names a camera: an int, or ASCII digits ("0"); out-of-range indices are
    refused by :class:`CameraSource`."""
    if isinstance(spec, bool):
        return False
    return isinstance(spec, int) or re.fullmatch(r"[0-9]+", text) is not None


def _check_special(path: Path, text: str) -> None:
    """Refuse a FIFO, device or socket as a source before anything opens it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return                                   # missing: open_source says so
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        hint = " (for a camera give its index: 0 for /dev/video0)" if stat.S_ISCHR(mode) else ""
        try:
            check_regular_file(path, "source")
        except MSPError as exc:
            raise SourceError(f"{exc}{hint}; a source is {SPEC_HELP}") from None
