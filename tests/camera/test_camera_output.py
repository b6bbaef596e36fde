"""What the demo shows and writes: the labels drawn on frames, the video file sink, the window
sink's refusal without a GUI, the progress line and the statistics."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest

from msp_pynq.camera import ProgressLine, SinkError, VideoFileSink, WindowSink, annotate, gui_problem
from msp_pynq.camera.draw import LABEL_BOX
from msp_pynq.camera.stats import PipelineStats


def test_annotate_draws_label_box_and_status_line():
    frame = np.zeros((480, 640, 3), np.uint8)
    out = annotate(frame, "cat", 0.93, fps=24.5, mode="pynq-z2 emulated")
    assert not frame.any()                                          # the input is left alone
    top, bottom = out[:80, :320], out[400:, :]
    assert (top == LABEL_BOX).all(axis=2).sum() > 1000              # the label's box, top left
    assert (top == 255).all(axis=2).any()                           # white text on it
    assert bottom.any() and not out[120:360].any()                  # the status line, bottom; nothing between
    plain = annotate(frame, "cat", 0.93)                            # no fps, no mode: no status line
    assert not plain[400:].any()


def test_video_file_sink_round_trip(tmp_path):
    path = tmp_path / "annotated.avi"
    sink = VideoFileSink(path, fps=12)
    for i in range(5):
        sink.write(np.full((96, 128, 3), 40 * i, np.uint8))
    sink.close()
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert len(frames) == 5 and frames[0].shape == (96, 128, 3)
    assert [int(round(f.mean() / 40)) for f in frames] == [0, 1, 2, 3, 4]


def test_video_file_sink_errors(tmp_path):
    with pytest.raises(SinkError, match=r"out\.gif: write \.mp4, \.avi or \.mkv"):
        VideoFileSink(tmp_path / "out.gif")
    with pytest.raises(SinkError, match="does not exist"):
        VideoFileSink(tmp_path / "missing" / "out.mp4")


@pytest.mark.skipif(gui_problem() is None, reason="this OpenCV has a GUI and a display")
def test_window_sink_refused_without_gui():
    with pytest.raises(SinkError, match="--show: "):
        WindowSink()


def test_progress_line_and_stats_summary():
    stats = PipelineStats()
    stats.started = 0.0
    stats.captured = stats.inferred = 3
    for _ in range(3):
        stats.delivered_now()
        stats.add("inference", 0.010)
        stats.add("engine", 0.002)
    stats.stopped = stats.started + 1.0

    class R:
        label, score = "cat", 0.5

    out = io.StringIO()
    line = ProgressLine(total=3, stream=out, every_s=0.0)
    line(stats, R())
    line.close()
    assert out.getvalue().startswith("\r3/3 frames") and "dropped 0  cat 0.50" in out.getvalue()
    text = stats.summary()
    assert text.startswith("captured 3, inferred 3, dropped 0, shown 3 in 1.0 s")
    assert "modelled board engine 500 fps" in text
    assert "inference       10.00" in text and "engine           2.00" in text
    assert "draw" not in text                                        # never measured: not listed
