"""Figures the notebooks show: predictions on images, a bundle's row mix, a self-check.

Each function takes plain data and returns a matplotlib Figure (tests read the figure's
content; notebooks display it). Needs matplotlib.

>>> import numpy as np
>>> fig = show_predictions(np.zeros((2, 8, 8, 3), np.uint8), np.array([[0., 1.], [2., 0.]]), ["a", "b"])
>>> [ax.get_title() for ax in fig.axes]
['b 0.73', 'a 0.88']
"""
from __future__ import annotations

import numpy as np

from .numerics.bounds import ceil_div
from .numerics.softmax import softmax

SCHEME_COLOURS = {"sp2_4": "#2a9d8f", "fixed4": "#e9c46a", "fixed8": "#e76f51", "pow2_4": "#8ab17d"}


def show_predictions(images, logits: np.ndarray, classes: "list[str]", names: "list[str] | None" = None,
                     columns: int = 4, size: float = 2.6):
    """A grid of ``images`` (arrays HWC, any size) titled with the top class and its softmax score."""
    import matplotlib.pyplot as plt
    probs = softmax(np.asarray(logits, np.float64))
    n = len(probs)
    cols = min(columns, n)
    rows = ceil_div(n, cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.3), squeeze=False)
    for ax in axes.flat[n:]:
        ax.remove()
    for i, ax in enumerate(axes.flat[:n]):
        k = int(np.argmax(probs[i]))
        label = classes[k] if k < len(classes) else str(k)
        ax.imshow(np.asarray(images[i]).squeeze(), cmap="gray" if np.asarray(images[i]).shape[-1] == 1 else None)
        ax.set_title(f"{label} {probs[i, k]:.2f}", fontsize=11)
        if names:
            ax.set_xlabel(names[i], fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def row_mix(manifest: dict) -> "list[tuple[str, dict]]":
    """``[(layer name, {scheme: rows})]`` of a bundle manifest's weight layers, in order."""
    return [(layer["name"], dict(layer["rows_per_scheme"])) for layer in manifest["layers"]
            if layer.get("rows_per_scheme")]


def plot_row_mix(manifest: dict, title: str = "output rows per weight scheme"):
    """Horizontal stacked bars: each weight layer's rows, by scheme (SP2 in LUTs, fixed on DSPs)."""
    import matplotlib.pyplot as plt
    mix = row_mix(manifest)
    schemes = [s for s in SCHEME_COLOURS if any(rows.get(s) for _, rows in mix)]
    fig, ax = plt.subplots(figsize=(7, 0.22 * len(mix) + 1.2))
    left = np.zeros(len(mix))
    y = np.arange(len(mix))
    for scheme in schemes:
        counts = np.array([rows.get(scheme, 0) for _, rows in mix], float)
        ax.barh(y, counts, left=left, color=SCHEME_COLOURS[scheme], label=scheme)
        left += counts
    ax.set_yticks(y, [name for name, _ in mix], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("output rows")
    ax.set_title(title)
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_self_check(report):
    """Mismatched values per layer of a :class:`~msp_pynq.runtime.selfcheck.SelfCheckReport`
    (green: bit-exact; red: differs, the first such layer marked)."""
    import matplotlib.pyplot as plt
    layers = report.layers
    fig, ax = plt.subplots(figsize=(8, 2.8))
    if not layers:
        ax.text(0.5, 0.5, "no layer compared:\n" + (report.error or "")[:200], ha="center", va="center",
                wrap=True, fontsize=9)
        ax.set_axis_off()
        return fig
    share = np.array([c.mismatches / max(c.size, 1) for c in layers])
    colours = ["#2a9d8f" if c.ok else "#e63946" for c in layers]
    ax.bar(np.arange(len(layers)), np.maximum(share, 0), color=colours)
    ax.scatter(np.arange(len(layers)), np.zeros(len(layers)), color=colours, s=14, zorder=3)
    ax.set_xticks(np.arange(len(layers)), [c.name for c in layers], rotation=90, fontsize=6)
    ax.set_ylabel("share of values differing")
    ax.set_ylim(0, max(0.05, share.max() * 1.15))
    bad = report.first_bad
    verdict = "PASSED: every layer bit-exact" if report.ok else (
        f"FAILED: first differing layer {bad.name}" if bad else "FAILED: logits differ")
    ax.set_title(f"self-check on {report.board} ({report.mode}): {verdict}", fontsize=10)
    fig.tight_layout()
    return fig
