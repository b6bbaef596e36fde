"""The live camera demo: frames from a USB webcam (or a video file, a folder of images, a slow
pan over a photo) classified by the engine, with capture, preprocessing and inference
overlapped in threads; ``msp-pynq camera`` and ``notebooks/03_live_camera.ipynb`` use it.

>>> from msp_pynq.camera import open_source, Pipeline, run_demo, VideoFileSink   # doctest: +SKIP
>>> from msp_pynq.runtime import Runtime                                          # doctest: +SKIP
>>> with Runtime.open("pynq-z2") as rt, open_source(0) as source:                 # doctest: +SKIP
...     rt.load("models/resnet20-msp8-exact.pynq-z2.mspb")   # camera 0, or the pan when there is none
...     stats = run_demo(Pipeline(source, rt, max_frames=100), [VideoFileSink("annotated.mp4")])
...     print(stats.summary())            # frames, fps, ms per stage, modelled board fps

Modules: :mod:`.sources` (frame sources), :mod:`.preprocess` (frame to model input),
:mod:`.draw` (labels on frames), :mod:`.pipeline` (the threads), :mod:`.stats` (counters and
times), :mod:`.sinks` (video file, window, Jupyter view, frame strip), :mod:`.demo` (the loop the
CLI and the notebook share), :mod:`.plots` (matplotlib figures). Needs numpy, OpenCV and pynq
(matplotlib and IPython for the notebook parts).
"""
from __future__ import annotations

from .demo import ProgressLine, run_demo, summary
from .draw import annotate
from .pipeline import Frame, Pipeline, PipelineError, Result
from .preprocess import FrameError, centre_crop, check_frame, preprocess
from .sinks import FrameStrip, JupyterView, SinkError, VideoFileSink, WindowSink, gui_problem
from .sources import (CameraSource, CameraUnavailable, FrameSource, ImageFolderSource, PanSource, SourceError,
                      VideoFileSource, open_source, synthetic_scene)
from .stats import PipelineStats

__all__ = ["CameraSource", "CameraUnavailable", "Frame", "FrameError", "FrameSource", "FrameStrip",
           "ImageFolderSource", "JupyterView", "PanSource", "Pipeline", "PipelineError", "PipelineStats",
           "ProgressLine", "Result", "SinkError", "SourceError", "VideoFileSink", "VideoFileSource",
           "WindowSink", "annotate", "centre_crop", "check_frame", "gui_problem", "open_source",
           "preprocess", "run_demo", "summary", "synthetic_scene"]
