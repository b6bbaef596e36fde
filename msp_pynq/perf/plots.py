"""Matplotlib figures of the performance data; each takes the data and returns the Figure.

The figures are plain :class:`matplotlib.figure.Figure` objects (no pyplot state): a notebook
shows the one a cell returns, a script calls ``fig.savefig(...)``.

>>> from .files import load_resources
>>> from .compare import resource_use
>>> fig = plot_resources(resource_use(load_resources()))
>>> [ax.get_title().split(":")[0] for ax in fig.axes]
['pynq-z2 (XC7Z020-1CLG400C)', 'zcu104 (XCZU7EV-2FFVC1156)']
"""
from __future__ import annotations

from typing import Sequence

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .compare import Bar, ResourceUse
from .measure import LayerTime, Throughput

KIND_COLOURS = {"modelled": "tab:blue", "measured": "tab:green", "quoted": "tab:gray"}
STAGE_ORDER = ("preprocess", "weights", "dma", "emulator", "engine_wait", "postprocess", "other")
STAGE_LABELS = {"preprocess": "preprocess (image checks)", "weights": "weights (MM2S)",
                "dma": "dma (program, copies, streams)", "emulator": "engine emulator (this PC, not on a board)",
                "engine_wait": "engine wait (polling)", "postprocess": "postprocess (logits)",
                "other": "other (tensor moves)"}


def plot_throughput(t: Throughput) -> Figure:
    """Images per second and milliseconds per image against batch size: the engine's
    (modelled or measured) and the host's end-to-end wall time."""
    fig = Figure(figsize=(11, 4), layout="constrained")
    ax_fps, ax_ms = fig.subplots(1, 2)
    batches = [p.batch for p in t.points]
    host = "board" if t.mode == "board" else "emulated on this PC"
    ax_fps.plot(batches, [p.engine_fps for p in t.points], "o-", label=f"engine ({t.engine_kind})")
    ax_fps.plot(batches, [p.host_fps for p in t.points], "s-", label=f"end-to-end wall time ({host})")
    ax_fps.set(ylabel="images / s", title=f"Throughput, {t.board} ({t.mode})", yscale="log")
    ax_ms.plot(batches, [p.engine_ms_per_image for p in t.points], "o-", label=f"engine ({t.engine_kind})")
    ax_ms.plot(batches, [p.wall_ms_per_image for p in t.points], "s-", label=f"wall time ({host})")
    ax_ms.plot(batches, [1e3 * p.host_overhead_s / p.batch for p in t.points], "^--",
               label="runtime's own host time")
    ax_ms.set(ylabel="ms / image", title="Latency per image", yscale="log")
    for ax in (ax_fps, ax_ms):
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.set_xlabel("batch size")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def plot_stages(table: "dict[str, list[float]]", title: str = "Host time per image by stage") -> Figure:
    """Stacked host milliseconds per image by stage (:func:`.stage_table`), one bar per batch
    size; the dashed marks are the runtime's own host time (the device models taken out)."""
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    ax = fig.subplots()
    x = [str(b) for b in table["batch"]]
    bottom = [0.0] * len(x)
    for stage in STAGE_ORDER:
        values = table.get(stage)
        if values is None or not any(values):        # no emulator on a board
            continue
        ax.bar(x, values, bottom=bottom, label=STAGE_LABELS[stage])
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.plot(x, table["runtime_own"], "k_", markersize=30, markeredgewidth=2, linestyle="none",
            label="runtime's own host time")
    ax.set(xlabel="batch size", ylabel="ms / image", title=title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), markerscale=0.4)
    return fig


def plot_layers(layers: "Sequence[LayerTime]", title: str = "Engine time per layer (last run)") -> Figure:
    """Horizontal bars of each engine job's time in microseconds, first layer at the top,
    coloured by operation."""
    fig = Figure(figsize=(8, 0.22 * len(layers) + 1.2), layout="constrained")
    ax = fig.subplots()
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    colours: "dict[str, str]" = {}
    for i, layer in enumerate(layers):
        first = layer.op not in colours                 # one legend entry per operation
        colour = colours.setdefault(layer.op, palette[len(colours) % len(palette)])
        ax.barh(i, 1e6 * layer.engine_s, color=colour, label=layer.op if first else None)
    ax.set_yticks(range(len(layers)), [layer.name for layer in layers], fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="engine time (µs, all images of the run)", title=title)
    ax.legend(fontsize=8)
    return fig


def plot_resources(rows: "Sequence[ResourceUse]") -> Figure:
    """Per board, the mixed and the DSP-only engine's LUT/FF/DSP/BRAM use in % of the device
    (Yosys estimates), with their 4-bit MACs per cycle in the title."""
    boards = list(dict.fromkeys(r.board for r in rows))
    fig = Figure(figsize=(6 * len(boards), 4.5), layout="constrained")
    axes = fig.subplots(1, len(boards), squeeze=False)[0]
    for ax, board in zip(axes, boards):
        configs = [r for r in rows if r.board == board]
        width = 0.8 / len(configs)
        names = list(configs[0].percent)
        for j, r in enumerate(configs):
            xs = [i + (j - (len(configs) - 1) / 2) * width for i in range(len(names))]
            bars = ax.bar(xs, [r.percent[n] for n in names], width,
                          label=f"{r.config}: {r.macs_per_cycle:,} MACs/cycle" + ("" if r.fits else " (does not fit)"))
            ax.bar_label(bars, fmt="%.0f%%", fontsize=7)
        ax.axhline(100, color="red", linestyle="--", linewidth=1)
        ax.set_xticks(range(len(names)), names)
        mixed = next((r for r in configs if r.config == "mixed"), None)
        dsp = next((r for r in configs if r.config == "dsp-only"), None)
        ratio = f"{mixed.macs_per_cycle / dsp.macs_per_cycle:.2f}x" if mixed and dsp else ""
        ax.set(ylabel="% of the device", title=f"{board} ({configs[0].part}): mixed / DSP-only {ratio}")
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)
    fig.suptitle("Engine resources: Yosys synth_xilinx estimates (before placement; docs/resources.md)")
    return fig


def plot_comparison(bars: "Sequence[Bar]", title: str = "Images per second (log scale)") -> Figure:
    """Horizontal bars on a log scale, coloured by kind (modelled / measured / quoted), each
    annotated with its figure, accuracy where known, and kind; ours are listed first, in bold."""
    fig = Figure(figsize=(12, 0.42 * len(bars) + 1.5), layout="constrained")
    ax = fig.subplots()
    ys = range(len(bars))
    ax.barh(ys, [b.fps for b in bars], color=[KIND_COLOURS[b.kind] for b in bars])
    for y, b in zip(ys, bars):
        ax.text(b.fps * 1.08, y, b.text, va="center", fontsize=8)
    ax.set_yticks(list(ys), [b.label for b in bars], fontsize=8)
    for tick, b in zip(ax.get_yticklabels(), bars):
        tick.set_fontweight("bold" if b.ours else "normal")
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(right=max(b.fps for b in bars) * 30)     # room for the annotations
    handles = [Patch(color=c, label=k) for k, c in KIND_COLOURS.items() if any(b.kind == k for b in bars)]
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    ax.set(xlabel="images / s", title=title)
    return fig
