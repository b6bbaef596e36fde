"""The threaded pipeline: exact predictions through the real runtime, drop accounting with a
real-time source, capture overlapping inference (proved by waiting, not by timing), and clean
stops with clear errors."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from .camera_helpers import ScriptedSource, frame_index
from msp_pynq.camera import PanSource, Pipeline, PipelineError, preprocess, run_demo
from msp_pynq.camera.sinks import FrameStrip
from msp_pynq.runtime.errors import MspRuntimeError

CLASSES = [f"c{i}" for i in range(10)]


def one_hot(k: int) -> np.ndarray:
    return np.eye(len(CLASSES))[[k % len(CLASSES)]] * 5.0


def scripted_pipeline(source, infer, **kw) -> Pipeline:
    kw.setdefault("timeout_s", 10.0)
    return Pipeline(source, infer=infer, input_shape=(32, 32, 3), classes=CLASSES, **kw)


def test_predictions_equal_runtime_run(runtime):
    with Pipeline(PanSource(frames=6, seconds_per_photo=0.1), runtime) as pipe:
        results = list(pipe)
    with PanSource(frames=6, seconds_per_photo=0.1) as src:        # the same frames, read again
        inputs = np.stack([preprocess(frame, (32, 32, 3)) for frame in src])
    expected = runtime.run(inputs)                                   # same runtime, after the threads
    assert [r.frame.index for r in results] == list(range(6))
    assert (np.stack([r.frame.input for r in results]) == inputs).all()
    assert (np.stack([r.logits for r in results]) == expected).all()  # exact, not approximately
    assert [r.label for r in results] == [runtime.bundle.classes[i] for i in expected.argmax(axis=1)]
    s = pipe.stats
    assert (s.captured, s.inferred, s.dropped, s.delivered, s.unprocessed) == (6, 6, 0, 6, 0)
    runtime.run(inputs[:1])
    engine_s = runtime.report()["last_run"]["engine_s"]
    assert all(r.engine_s == engine_s for r in results)              # one image per run: same cycles
    assert s.board_fps == pytest.approx(1.0 / engine_s)
    assert pipe.mode == "pynq-z2 emulated" and not pipe.running


def test_realtime_source_drops_older_frames():
    """Inference on frame k returns only once the source has read frame k+3, so frames k+1 and
    k+2 were both queued while it worked: k+1 must have been dropped for k+2."""
    n = 40
    src = ScriptedSource(n, realtime=True)
    seen = []

    def slow_infer(x):
        k = frame_index(x)
        seen.append(k)
        assert src.wait_produced(k + 4), "the capture thread did not go on while inference worked"
        return one_hot(k)

    with scripted_pipeline(src, slow_infer) as pipe:
        delivered = [r.frame.index for r in pipe]
    s = pipe.stats
    assert delivered == seen and s.dropped >= 1
    assert s.captured == n and s.captured == s.inferred + s.dropped + s.unprocessed
    assert s.unprocessed == 0 and s.delivered == s.inferred == len(seen)
    assert all(b >= a + 2 for a, b in zip(seen, seen[1:]) if a + 4 <= n)
    assert seen[-1] == n - 1                    # the end of the stream is never dropped


def test_capture_runs_while_inference_works():
    """Each inference waits (with a timeout) for the capture thread to read the next frame: a
    pipeline that captured and inferred in turn would never get past frame 0."""
    n = 8
    src = ScriptedSource(n)

    def infer(x):
        k = frame_index(x)
        if not src.wait_produced(k + 2, timeout=10.0):
            raise AssertionError(f"frame {k + 1} was not captured while frame {k} was inferred")
        return one_hot(k)

    with scripted_pipeline(src, infer) as pipe:
        results = list(pipe)
    assert [r.frame.index for r in results] == list(range(n))       # not real time: nothing dropped
    assert [r.label for r in results] == [CLASSES[k] for k in range(n)]
    assert pipe.stats.dropped == 0 and not pipe.running


def test_max_frames_stops_an_endless_source():
    with scripted_pipeline(PanSource(), lambda x: one_hot(0), max_frames=5) as pipe:
        results = list(pipe)
    assert len(results) == 5 and pipe.stats.captured == 5 and not pipe.running


def test_threads_end_with_the_loop_even_without_with():
    pipe = scripted_pipeline(ScriptedSource(3), lambda x: one_hot(0))
    assert len(list(pipe)) == 3 and not pipe.running
    with pytest.raises(PipelineError, match="has stopped; make a new one"):
        list(pipe)


def test_failing_runtime_stops_with_its_error():
    def infer(x):
        if frame_index(x) == 2:
            raise MspRuntimeError("layer 'conv1': timed out after 2 s waiting for the engine")
        return one_hot(0)

    pipe = scripted_pipeline(ScriptedSource(10), infer)
    got = []
    with pytest.raises(PipelineError, match=r"inference on frame 2 failed .*MspRuntimeError: layer 'conv1': timed out"):
        with pipe:
            for r in pipe:
                got.append(r.frame.index)
    assert got == [0, 1] and not pipe.running


def test_dead_source_stops_with_its_error():
    pipe = scripted_pipeline(ScriptedSource(10, fail_at=3), lambda x: one_hot(0))
    with pytest.raises(PipelineError, match="capture from scripted source failed .*stopped delivering frames after 3"):
        with pipe:
            list(pipe)
    assert pipe.stats.delivered == 3 and not pipe.running


def test_bad_frame_is_named():
    pipe = scripted_pipeline(ScriptedSource(3, bad=True), lambda x: one_hot(0))
    with pytest.raises(PipelineError, match=r"capture .* expected a BGR uint8 array \[H, W, 3\], got float32"):
        with pipe:
            list(pipe)
    assert not pipe.running


def test_wrong_logits_shape_is_an_error():
    pipe = scripted_pipeline(ScriptedSource(3), lambda x: np.zeros(10))
    with pytest.raises(PipelineError, match=r"logits of shape \[10\], expected \[1, classes\]"):
        with pipe:
            list(pipe)


def test_stalled_runtime_is_an_error_not_a_hang():
    release = threading.Event()

    def stuck(x):
        release.wait(30.0)
        return one_hot(0)

    pipe = scripted_pipeline(ScriptedSource(5), stuck, timeout_s=0.2)
    with pytest.raises(PipelineError, match=r"no result in 0.2 s: .*inference thread running"):
        with pipe:
            list(pipe)
    release.set()
    pipe.timeout_s = 10.0
    pipe.stop()                                 # now it joins
    assert not pipe.running


def test_runtime_without_bundle_is_refused(runtime):
    from msp_pynq.runtime import Runtime
    with Runtime.open("pynq-z2", emulate=True, log=None) as bare:
        with pytest.raises(PipelineError, match="no bundle loaded"):
            Pipeline(PanSource(), bare)
    with pytest.raises(ValueError, match="needs a runtime"):
        Pipeline(PanSource())


def test_run_demo_draws_and_feeds_sinks(runtime):
    strip = FrameStrip(count=3, every=2)
    pipe = Pipeline(PanSource(size=(120, 160)), runtime, max_frames=6)
    stats = run_demo(pipe, [strip])
    assert stats.delivered == 6 and len(strip.frames) == 3
    assert stats.counts["draw"] == stats.counts["output"] == 6
    first = strip.frames[0]
    assert first.shape == (120, 160, 3) and not pipe.running
    assert (first != PanSource(size=(120, 160)).read()).any()          # something was drawn
    assert stats.summary().startswith("captured 6, inferred 6, dropped 0, shown 6 in ")
