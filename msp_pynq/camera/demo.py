"""The demo loop that ``msp-pynq camera`` and the live-camera notebook share: run a
:class:`~msp_pynq.camera.pipeline.Pipeline`, draw each result, hand the frame to the sinks,
report progress; then the summary.

>>> import numpy as np
>>> from msp_pynq.camera import PanSource, Pipeline, FrameStrip
>>> strip = FrameStrip(count=2, every=2)
>>> pipe = Pipeline(PanSource(), infer=lambda x: np.ones((1, 2)), input_shape=(32, 32, 3),
...                 classes=["a", "b"], max_frames=4)
>>> stats = run_demo(pipe, [strip])
>>> stats.delivered, len(strip.frames)
(4, 2)
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Sequence, TextIO

from .pipeline import Pipeline, Result
from .stats import PipelineStats


class ProgressLine:
    """One status line rewritten in place (``\\r``) at most every ``every_s`` seconds:
    frames shown, frame rate, drops, the current prediction."""

    def __init__(self, total: "int | None" = None, stream: TextIO = sys.stderr, every_s: float = 0.5) -> None:
        self.total, self.stream, self.every_s = total, stream, every_s
        self._last = -1e9
        self._width = 0

    def __call__(self, stats: PipelineStats, result: Result) -> None:
        now = time.perf_counter()
        if now - self._last < self.every_s and stats.delivered != self.total:
            return
        self._last = now
        count = f"{stats.delivered}/{self.total}" if self.total else f"{stats.delivered}"
        fps = f"{stats.live_fps:5.1f} fps" if stats.live_fps else "    - fps"
        line = f"{count} frames  {fps}  dropped {stats.dropped}  {result.label} {result.score:.2f}"
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)

    def close(self) -> None:
        if self._width:
            self.stream.write("\n")
            self.stream.flush()


def run_demo(pipeline: Pipeline, sinks: Sequence = (),
             progress: "Callable[[PipelineStats, Result], None] | None" = None) -> PipelineStats:
    """Run ``pipeline`` to its end, writing each annotated frame to every sink (timed as the
    "output" stage); the sinks are closed and the threads joined however it ends. Stops early
    when a sink is ``closed`` (a window's q key)."""
    try:
        with pipeline:
            for result, image in pipeline.annotated():
                if sinks:
                    with pipeline.stats.time("output"):
                        for sink in sinks:
                            sink.write(image)
                if progress:
                    progress(pipeline.stats, result)
                if any(getattr(sink, "closed", False) for sink in sinks):
                    break
    finally:
        for sink in sinks:
            sink.close()
        if hasattr(progress, "close"):
            progress.close()
    return pipeline.stats


def summary(pipeline: Pipeline) -> str:
    """What ran where, the counters and frame rates, and the time per stage."""
    s = pipeline.stats
    head = f"{pipeline.source.describe()} on {pipeline.mode or 'a custom model'}"
    return head + "\n" + s.summary()
