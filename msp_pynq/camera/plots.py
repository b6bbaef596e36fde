"""Matplotlib figures of a camera run: a strip of annotated frames and the time per stage.

>>> import numpy as np
>>> from msp_pynq.camera.stats import PipelineStats
>>> s = PipelineStats(); s.add("inference", 0.02); s.add("engine", 0.0017)
>>> fig = plot_stages(s); len(fig.axes[0].patches)                 # one bar per measured stage
2
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .stats import STAGES, PipelineStats


def plot_strip(frames: Sequence[np.ndarray], height: float = 2.4):
    """The BGR frames side by side in one figure."""
    import matplotlib.pyplot as plt
    if not frames:
        raise ValueError("no frames to show")
    aspect = frames[0].shape[1] / frames[0].shape[0]
    fig, axes = plt.subplots(1, len(frames), figsize=(height * aspect * len(frames), height), squeeze=False)
    for ax, frame in zip(axes[0], frames):
        ax.imshow(frame[..., ::-1])         # BGR -> RGB for matplotlib
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_stages(stats: PipelineStats):
    """A horizontal bar per measured stage: mean milliseconds per frame."""
    import matplotlib.pyplot as plt
    stages = [s for s in STAGES if stats.mean_ms(s) is not None]
    ms = [stats.mean_ms(s) for s in stages]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(stages) + 1.0))
    bars = ax.barh(stages, ms, color=["tab:orange" if s == "engine" else "tab:blue" for s in stages])
    ax.invert_yaxis()                         # pipeline order from the top
    ax.bar_label(bars, fmt="%.2f ms", padding=3)
    ax.set_xlabel("mean ms per frame")
    fps = f"{stats.fps:.1f} fps end to end" if stats.fps else ""
    board = f", modelled board engine {stats.board_fps:.0f} fps" if stats.board_fps else ""
    ax.set_title(fps + board)
    ax.margins(x=0.25)
    fig.tight_layout()
    return fig

