"""Frame sources: video files, folders of images, the pan, the camera (mocked: none here) and
open_source's dispatch and fallback."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from .camera_helpers import VIDEO_FPS, VIDEO_SIZE
from msp_pynq.camera import sources
from msp_pynq.camera.sources import (CameraSource, CameraUnavailable, ImageFolderSource, PanSource, SourceError,
                                     VideoFileSource, open_source, pan_frame)
from msp_pynq.errors import MSPError


def nearest(frame: np.ndarray, originals: "list[np.ndarray]") -> int:
    return int(np.argmin([np.abs(frame.astype(int) - o.astype(int)).mean() for o in originals]))


def test_video_file_frames_in_order(video):
    path, written = video
    with VideoFileSource(path) as src:
        frames = list(src)
        assert src.read() is None                      # stays ended
        assert src.fps == pytest.approx(VIDEO_FPS)
        assert not src.realtime and src.name == path.name
    assert len(frames) == len(written)
    assert all(f.shape == VIDEO_SIZE + (3,) and f.dtype == np.uint8 for f in frames)
    # MPEG-4 is lossy: each decoded frame must still be nearest to the frame written at its place.
    assert [nearest(f, written) for f in frames] == list(range(len(written)))


def test_video_file_loops(video):
    path, written = video
    with VideoFileSource(path, loop=True) as src:
        frames = [src.read() for _ in range(len(written) + 3)]
    assert [nearest(f, written) for f in frames[len(written):]] == [0, 1, 2]


def test_video_file_errors(tmp_path):
    with pytest.raises(SourceError, match="no such video file"):
        VideoFileSource(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 50)
    with pytest.raises(SourceError, match="junk.mp4"):
        with VideoFileSource(junk) as src:
            src.read()


def test_realtime_pacing_sleeps_one_period_per_frame(video, monkeypatch):
    """Pacing with a fake clock (no timing in the test): each frame is due 1/fps after the last."""
    clock = {"now": 100.0}
    sleeps = []

    class FakeTime:
        @staticmethod
        def perf_counter():
            return clock["now"]

        @staticmethod
        def sleep(seconds):
            sleeps.append(seconds)
            clock["now"] += seconds

    monkeypatch.setattr(sources, "time", FakeTime)
    with VideoFileSource(video[0], realtime=True) as src:
        for _ in range(4):
            assert src.read() is not None
            clock["now"] += 0.01                        # the consumer takes 10 ms per frame
    assert sleeps == pytest.approx([1 / VIDEO_FPS - 0.01] * 3)
    with VideoFileSource(video[0], realtime=False) as src:
        sleeps.clear()
        src.read(), src.read()
    assert sleeps == []


def test_folder_sequence_exact(png_folder):
    folder, images = png_folder
    with ImageFolderSource(folder) as src:
        frames = list(src)
    assert len(frames) == 3 and all((f == im).all() for f, im in zip(frames, images))


def test_folder_hold_and_loop(png_folder):
    folder, images = png_folder
    with ImageFolderSource(folder, fps=10, hold_s=0.2, loop=True) as src:   # 2 frames per image
        frames = [src.read() for _ in range(8)]
    expected = [0, 0, 1, 1, 2, 2, 0, 0]
    assert all((f == images[i]).all() for f, i in zip(frames, expected))


def test_folder_errors(tmp_path, png_folder):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="no images"):
        ImageFolderSource(empty)
    folder, _ = png_folder
    (folder / "img1.png").write_bytes(b"not a png")
    with ImageFolderSource(folder) as src:
        src.read()
        with pytest.raises(SourceError, match=r"img1.png: not an image in a format read here"):
            src.read()


def test_pan_frame_geometry():
    image = np.zeros((200, 200, 3), np.uint8)
    image[:, 100:] = (255, 0, 0)                      # right half blue (BGR)
    assert (pan_frame(image, 0.0, (200, 200), zoom=2.0) == image).all()     # t=0: the whole image
    end = pan_frame(image, 1.0, (50, 50), zoom=2.0)   # t=1: the right half, zoomed 2x
    assert (end == (255, 0, 0)).all()


def test_pan_source_moves_and_ends():
    with PanSource(frames=5, fps=10, seconds_per_photo=0.5) as src:
        frames = list(src)
    assert len(frames) == 5 and all(f.shape == (480, 640, 3) and f.dtype == np.uint8 for f in frames)
    diffs = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(frames, frames[1:])]
    assert all(d > 0 for d in diffs)                   # it moves
    assert "chelsea.jpg" in src.name


def test_pan_without_sample_photos_draws_a_scene(monkeypatch):
    def missing():
        raise MSPError("sample photos are missing")
    monkeypatch.setattr(sources, "sample_photos", missing)
    with PanSource(frames=2) as src:
        frames = list(src)
    assert "synthetic scene" in src.name and len(frames) == 2 and frames[0].std() > 10


class FakeCapture:
    """cv2.VideoCapture of a camera index: the one thing that cannot exist here."""

    frames: "list | None" = None      # None: the camera does not open

    def __init__(self, index):
        self.index, self.released = index, False

    def isOpened(self):
        return FakeCapture.frames is not None

    def set(self, prop, value):
        return True

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self):
        if FakeCapture.frames:
            return True, FakeCapture.frames.pop(0)
        return False, None

    def release(self):
        self.released = True


REAL_CAPTURE = cv2.VideoCapture


def fake_cameras(monkeypatch) -> None:
    """cv2.VideoCapture opens files for real and camera indices as FakeCapture."""
    monkeypatch.setattr(sources.cv2, "VideoCapture",
                        lambda what: REAL_CAPTURE(what) if isinstance(what, str) else FakeCapture(what))


def test_camera_missing_falls_back_with_one_line(monkeypatch, video):
    fake_cameras(monkeypatch)
    FakeCapture.frames = None
    with pytest.raises(CameraUnavailable, match="camera 0: no camera opened"):
        CameraSource(0)
    lines = []
    with open_source("0", log=lines.append, frames=3) as src:
        assert isinstance(src, PanSource) and len(list(src)) == 3
    assert len(lines) == 1 and lines[0].startswith("camera 0: no camera opened") and "pan over" in lines[0]
    lines.clear()
    with open_source(0, fallback=video[0], log=lines.append) as src:
        assert isinstance(src, VideoFileSource)
    assert lines == [f"camera 0: no camera opened (none attached, or in use); using {video[0].name} instead"]
    with pytest.raises(SourceError, match="fallback must not be a camera"):
        open_source(0, fallback="1", log=None)


def test_camera_frames_then_unplugged(monkeypatch):
    fake_cameras(monkeypatch)
    FakeCapture.frames = [np.full((48, 64, 3), i, np.uint8) for i in range(2)]
    with open_source(0, log=None) as src:
        assert isinstance(src, CameraSource) and src.realtime and src.fps == 30.0
        assert [int(src.read()[0, 0, 0]) for _ in range(2)] == [0, 1]
        with pytest.raises(SourceError, match="camera 0: stopped delivering frames after 2"):
            src.read()


def test_open_source_dispatch(video, png_folder, tmp_path):
    folder, _ = png_folder
    cases = {"pan": PanSource, str(video[0]): VideoFileSource, str(folder): ImageFolderSource,
             str(folder / "img0.png"): ImageFolderSource}
    for spec, kind in cases.items():
        with open_source(spec, log=None, frames=1) as src:
            assert isinstance(src, kind), spec
            assert not src.realtime
    with open_source(video[0], realtime=True, log=None) as src:
        assert src.realtime
    with pytest.raises(SourceError, match=r"nope\.mp4: no such file or folder \(a source is a camera index"):
        open_source(tmp_path / "nope.mp4")
