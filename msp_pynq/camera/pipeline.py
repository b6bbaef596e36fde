"""Capture, preprocessing and inference overlapped, so that the ARM reads and prepares the next
frame while the engine works on this one.

    capture thread:    source.read -> preprocess -> [frames queue]
    inference thread:  [frames queue] -> Runtime.run -> [results queue]
    caller's thread:   [results queue] -> draw -> display / write

>>> from msp_pynq.camera import PanSource, Pipeline
>>> import numpy as np
>>> fake = lambda x: np.eye(3)[[int(x.mean()) % 3]]          # stands in for Runtime.run here
>>> with Pipeline(PanSource(frames=4), infer=fake, input_shape=(32, 32, 3), classes="abc") as pipe:
...     labels = [r.label for r in pipe]
>>> len(labels), pipe.stats.captured, pipe.stats.inferred
(4, 4, 4)

The runtime is used from the inference thread only (it is not thread-safe). A real-time source
(a camera) never waits for inference: when inference is slower, only the newest frame is kept
and the older one is counted as dropped. Other sources wait instead (every frame inferred).
Every queue wait has a timeout: a dead source or a failing runtime ends the loop with a
:class:`PipelineError` naming the stage; no result within ``timeout_s`` is an error too; the
threads are always stopped and joined when the ``with`` block ends.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

from ..errors import MSPError
from ..fileio import finite
from ..numerics.softmax import softmax
from .draw import annotate
from .preprocess import preprocess
from .sources import FrameSource
from .stats import PipelineStats

POLL_S = 0.1          # how often a blocked thread looks at the stop flag
MAX_TIMEOUT_S = 3600.0   # as the runtime's: every wait keeps a deadline one can live with


def _seconds(value: float, name: str, high: float) -> float:
    """``value`` if it is a number (not a string, not a bool) in (0, high]; else MSPError."""
    if isinstance(value, (str, bytes)):          # float() would take "10"
        raise MSPError(f"{name} must be a finite number in (0, {high:g}], not {value!r}")
    return finite(value, name, 0.0, high, low_open=True)


class PipelineError(MSPError):
    """The pipeline stopped: a stage failed or nothing came through in time."""


@dataclass
class Frame:
    """A captured frame: ``index`` in the source, the BGR ``image``, the model ``input``."""

    index: int
    image: np.ndarray
    input: np.ndarray
    captured_at: float


@dataclass
class Result:
    """A frame's prediction: the ``logits`` row, the top class ``index``, ``label`` and its
    softmax ``score``, the host ``infer_s`` and the modelled ``engine_s`` (None without a runtime)."""

    frame: Frame
    logits: np.ndarray
    index: int
    label: str
    score: float
    infer_s: float
    engine_s: "float | None"


@dataclass
class _End:
    """The source ended (``error`` None) or a stage failed."""

    stage: str = ""
    error: "BaseException | None" = None


class Pipeline:
    """Frames of ``source`` through ``runtime`` (a loaded :class:`msp_pynq.runtime.Runtime`).

    ``infer`` replaces ``runtime.run`` (uint8 ``[1, H, W, C]`` -> logits ``[1, classes]``), e.g.
    to wrap it; ``input_shape`` and ``classes`` default to the runtime's bundle. ``max_frames``
    and ``max_seconds`` end the run; ``timeout_s`` bounds every wait for a result and for the
    threads to stop. ``drop`` (default: ``source.realtime``) keeps only the newest frame when
    inference falls behind. Iterate it (or :meth:`annotated`) inside ``with``.

    Refused (:class:`MSPError`): a ``timeout_s`` that is not a number of seconds in (0, 3600]
    (NaN or inf would make a wait without end), a ``max_seconds`` that is not a finite
    positive number, a ``max_frames`` that is not a whole number >= 1.
    """

    def __init__(self, source: FrameSource, runtime=None, *, infer: "Callable | None" = None,
                 input_shape: "Sequence[int] | None" = None, classes: "Sequence[str] | None" = None,
                 max_frames: "int | None" = None, max_seconds: "float | None" = None,
                 timeout_s: float = 10.0, drop: "bool | None" = None, mode: "str | None" = None) -> None:
        if runtime is None and infer is None:
            raise MSPError("Pipeline needs a runtime (with a bundle loaded) or an infer function")
        timeout_s = _seconds(timeout_s, "timeout_s", MAX_TIMEOUT_S)
        if max_seconds is not None:
            max_seconds = _seconds(max_seconds, "max_seconds", 1e9)
        if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer))
                                       or max_frames < 1):
            raise MSPError(f"max_frames must be a whole number >= 1 (or None), not {max_frames!r}")
        bundle = getattr(runtime, "bundle", None)
        if runtime is not None and bundle is None and (input_shape is None or classes is None):
            raise PipelineError("the runtime has no bundle loaded: call runtime.load(...) first")
        self.source, self.runtime = source, runtime
        self.infer = infer or runtime.run
        self.input_shape = tuple(input_shape or bundle.input_shape)
        self.classes = list(classes if classes is not None else bundle.classes)
        self.max_frames, self.max_seconds, self.timeout_s = max_frames, max_seconds, timeout_s
        self.drop = source.realtime if drop is None else drop
        self.mode = mode or (f"{runtime.board} {runtime.mode}" if runtime is not None else "")
        self.stats = PipelineStats()
        self._frames: queue.Queue = queue.Queue(maxsize=1)
        self._results: queue.Queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._threads: "list[threading.Thread]" = []

    # ---- the caller's side --------------------------------------------------------------
    def start(self) -> "Pipeline":
        """Start the capture and inference threads (once: a Pipeline runs one time)."""
        if self._stop.is_set():
            raise PipelineError("this pipeline has stopped; make a new one to run again")
        if self._threads:
            return self
        self.stats.started = time.perf_counter()
        self._threads = [threading.Thread(target=self._capture, name="msp-camera-capture", daemon=True),
                         threading.Thread(target=self._inference, name="msp-camera-inference", daemon=True)]
        for t in self._threads:
            t.start()
        return self

    def results(self) -> Iterator[Result]:
        """Each frame's :class:`Result`, in order, until the source ends or a limit is reached."""
        self.start()
        try:
            while not self._done():
                try:
                    item = self._results.get(timeout=self.timeout_s)
                except queue.Empty:
                    raise PipelineError(f"no result in {self.timeout_s:g} s: " + self._who_is_stuck()) from None
                if isinstance(item, _End):
                    if item.error is not None:
                        raise PipelineError(f"{item.stage} failed ({self.stats.captured} frame(s) captured): "
                                            f"{type(item.error).__name__}: {item.error}") from item.error
                    break                  # the source ended
                self.stats.delivered_now()
                self.stats.add("latency", time.perf_counter() - item.frame.captured_at)
                yield item
        except BaseException:
            try:
                self.stop()
            except PipelineError:          # never hide the error that ended the loop
                pass
            raise
        self.stop()

    __iter__ = results

    def annotated(self) -> Iterator["tuple[Result, np.ndarray]"]:
        """``(result, annotated frame)`` pairs: the prediction and frame rate drawn in the
        caller's thread (timed as the "draw" stage)."""
        for result in self.results():
            t0 = time.perf_counter()
            image = annotate(result.frame.image, result.label, result.score, self.stats.live_fps, self.mode)
            self.stats.add("draw", time.perf_counter() - t0)
            yield result, image

    def stop(self) -> None:
        """Stop and join both threads; frames still queued count as ``unprocessed``."""
        self._stop.set()
        deadline = time.perf_counter() + self.timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.perf_counter()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if self.stats.stopped is None:
            self.stats.stopped = time.perf_counter()
        for q in (self._frames, self._results):
            while True:
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, Frame):
                    self.stats.unprocessed += 1
        if stuck:
            raise PipelineError(f"{', '.join(stuck)} did not stop within {self.timeout_s:g} s "
                                f"(blocked in {self.source.name} or in the runtime)")

    @property
    def running(self) -> bool:
        """Whether a capture or inference thread is still alive."""
        return any(t.is_alive() for t in self._threads)

    def __enter__(self) -> "Pipeline":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.stop()
        except PipelineError:
            if exc_type is None:          # never hide the error that ended the with block
                raise

    def _done(self) -> bool:
        s = self.stats
        return ((self.max_frames is not None and s.delivered >= self.max_frames)
                or (self.max_seconds is not None and s.elapsed_s >= self.max_seconds))

    def _who_is_stuck(self) -> str:
        alive = {t.name: t.is_alive() for t in self._threads}
        return (f"{self.stats.captured} frame(s) captured, {self.stats.inferred} inferred; capture thread "
                f"{'running' if alive.get('msp-camera-capture') else 'ended'}, inference thread "
                f"{'running' if alive.get('msp-camera-inference') else 'ended'} "
                f"(is {self.source.name} delivering, is the runtime answering?)")

    # ---- the threads --------------------------------------------------------------------
    def _put(self, q: queue.Queue, item) -> bool:
        """Put, waiting for room in steps of POLL_S; False when the pipeline is stopping."""
        while not self._stop.is_set():
            try:
                q.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _put_newest(self, frame: Frame) -> None:
        """Replace a frame inference has not taken yet (counted as dropped) by this newer one."""
        try:
            self._frames.put_nowait(frame)
        except queue.Full:
            try:
                self._frames.get_nowait()
                self.stats.dropped += 1
            except queue.Empty:            # inference took it meanwhile
                pass
            self._frames.put_nowait(frame)  # this thread is the only producer: there is room now

    def _capture(self) -> None:
        stats, end = self.stats, _End()
        try:
            while not self._stop.is_set():
                if not self.drop and self.max_frames is not None and stats.captured >= self.max_frames:
                    break                  # every captured frame gets inferred: no need for more
                image = self.source.read()
                t0 = time.perf_counter()
                if image is None:
                    break
                stats.add("capture", self.source.last_read_s)
                x = preprocess(image, self.input_shape)
                stats.add("preprocess", time.perf_counter() - t0)
                frame = Frame(stats.captured, image, x, t0)
                stats.captured += 1
                if self.drop:
                    self._put_newest(frame)
                elif not self._put(self._frames, frame):
                    stats.unprocessed += 1
                    return
        except BaseException as exc:       # reported by the caller's thread, never lost
            end = _End(f"capture from {self.source.name}", exc)
        self._put(self._frames, end)

    def _inference(self) -> None:
        stats = self.stats
        while not self._stop.is_set():
            try:
                frame = self._frames.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if isinstance(frame, _End):
                self._put(self._results, frame)
                return
            try:
                result = self._infer(frame)
            except BaseException as exc:
                self._put(self._results, _End(f"inference on frame {frame.index}", exc))
                return
            stats.inferred += 1
            if not self._put(self._results, result):
                return

    def _infer(self, frame: Frame) -> Result:
        t0 = time.perf_counter()
        logits = np.asarray(self.infer(frame.input[None]))
        infer_s = time.perf_counter() - t0
        if logits.ndim != 2 or len(logits) != 1:
            raise PipelineError(f"inference returned logits of shape {list(logits.shape)}, expected [1, classes]")
        engine_s = None
        if self.runtime is not None:
            engine_s = self.runtime.report()["last_run"].get("engine_s")
            if engine_s is not None:
                self.stats.add("engine", engine_s)
        self.stats.add("inference", infer_s)
        row = logits[0]
        index = int(np.argmax(row))
        score = float(softmax(row)[index])                          # softmax at the top class
        label = self.classes[index] if index < len(self.classes) else str(index)
        return Result(frame, row, index, label, score, infer_s, engine_s)
