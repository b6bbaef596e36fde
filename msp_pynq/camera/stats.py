"""What the camera pipeline counts and times: frames captured / inferred / dropped, the end to
end frame rate, the mean time per stage and the modelled board frame rate.

>>> s = PipelineStats()
>>> s.add("inference", 0.020); s.add("inference", 0.030)
>>> round(s.mean_ms("inference"), 1), s.mean_ms("draw")
(25.0, None)

Each counter has one writer thread (capture: captured, dropped, capture, preprocess;
inference: inferred, inference, engine; the caller: delivered, draw, output), so plain ints
suffice under the GIL; readers in other threads see a recent value.
"""
from __future__ import annotations

import time
from collections import deque
from contextlib import contextmanager
from typing import Iterator

STAGES = ("capture", "preprocess", "inference", "engine", "draw", "output", "latency")
STAGE_HELP = {
    "capture": "reading a frame (a camera's includes waiting for it; a paced file's pacing excluded)",
    "preprocess": "BGR to RGB, centre crop, INTER_AREA resize to the model input",
    "inference": "Runtime.run on one frame, host wall time (emulated: the CPU engine included)",
    "engine": "modelled board engine time (the engine's cycle count / its clock)",
    "draw": "the prediction and the frame rate drawn on the frame",
    "output": "writing or displaying the annotated frame",
    "latency": "capture to delivery of a frame's result (queues included)",
}


class PipelineStats:
    """Counters and per-stage times of one pipeline run (see :data:`STAGES`)."""

    def __init__(self) -> None:
        self.captured = self.inferred = self.dropped = self.delivered = self.unprocessed = 0
        self.sums = dict.fromkeys(STAGES, 0.0)
        self.counts = dict.fromkeys(STAGES, 0)
        self.started = self.stopped = None
        self.first_delivery = self.last_delivery = None
        self._recent: "deque[float]" = deque(maxlen=16)

    def add(self, stage: str, seconds: float) -> None:
        """One more measurement of ``stage`` (seconds)."""
        self.sums[stage] += seconds
        self.counts[stage] += 1

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        """Time the ``with`` body as one measurement of ``stage`` (e.g. "output")."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - t0)

    def delivered_now(self) -> None:
        """A result reached the caller (the end-to-end frame rate counts these)."""
        now = time.perf_counter()
        self.delivered += 1
        self.first_delivery = self.first_delivery or now
        self.last_delivery = now
        self._recent.append(now)

    def mean_ms(self, stage: str) -> "float | None":
        """Mean milliseconds per measurement of ``stage`` (None: never measured)."""
        n = self.counts[stage]
        return 1e3 * self.sums[stage] / n if n else None

    @property
    def fps(self) -> "float | None":
        """End-to-end frames per second: results delivered from the first to the last one
        (start-up excluded); None before two results."""
        if self.delivered < 2 or self.last_delivery <= self.first_delivery:
            return None
        return (self.delivered - 1) / (self.last_delivery - self.first_delivery)

    @property
    def live_fps(self) -> "float | None":
        """The rate of the last 16 deliveries: what the frame overlay shows."""
        r = self._recent
        return (len(r) - 1) / (r[-1] - r[0]) if len(r) >= 2 and r[-1] > r[0] else None

    @property
    def board_fps(self) -> "float | None":
        """Frames per second of the modelled board engine alone (1 / mean engine time)."""
        ms = self.mean_ms("engine")
        return 1e3 / ms if ms else None

    @property
    def elapsed_s(self) -> float:
        if self.started is None:
            return 0.0
        return (self.stopped or time.perf_counter()) - self.started

    def as_dict(self) -> dict:
        """Counters, rates and ``mean_ms`` per stage, JSON-ready."""
        return {"captured": self.captured, "inferred": self.inferred, "dropped": self.dropped,
                "delivered": self.delivered, "unprocessed": self.unprocessed,
                "elapsed_s": self.elapsed_s, "fps": self.fps, "board_fps": self.board_fps,
                "mean_ms": {s: self.mean_ms(s) for s in STAGES}}

    def table(self) -> str:
        """Mean time per stage, one line each."""
        lines = [f"{'stage':<11} {'ms/frame':>9}  what"]
        for stage in STAGES:
            ms = self.mean_ms(stage)
            if ms is not None:
                lines.append(f"{stage:<11} {ms:9.2f}  {STAGE_HELP[stage]}")
        return "\n".join(lines)

    def summary(self) -> str:
        """Counters and frame rates in one line, then :meth:`table`."""
        fps = f"{self.fps:.1f} fps end to end" if self.fps else "too few frames for a frame rate"
        board = f"; modelled board engine {self.board_fps:.0f} fps" if self.board_fps else ""
        return (f"captured {self.captured}, inferred {self.inferred}, dropped {self.dropped}, "
                f"shown {self.delivered} in {self.elapsed_s:.1f} s: {fps}{board}\n" + self.table())
