"""Throughput and latency of a loaded :class:`~msp_pynq.runtime.Runtime` over batch sizes.

Each batch size runs for a few seconds (at least ``min_runs`` runs, after one warm-up) through
:func:`msp_pynq.perf.runtime_bench.time_runs`, and every run's ``report()["last_run"]`` is averaged:

- the engine time: CYCLES summed over layers / the engine's clock. The emulated engine's CYCLES
  come from the Verilog engine's cycle model (*modelled*); a board's engine counts its own cycles
  (*measured*);
- the host wall time of ``Runtime.run`` and its stages (preprocess, weights, dma, engine_wait,
  postprocess); in emulated mode ``wall_s - device_model_s`` is the runtime's own host time
  (the device models, which a board does not run on its CPU, taken out).

>>> from msp_pynq.jupyter import find_file
>>> from msp_pynq.runtime import Runtime
>>> with Runtime.open("pynq-z2", emulate=True, log=None) as rt:
...     _ = rt.load(find_file("models/resnet20-msp8-exact.pynq-z2.mspb"))
...     t = measure(rt, batches=(1, 2), seconds=0, min_runs=1)
>>> [p.batch for p in t.points], t.engine_kind
([1, 2], 'modelled')
>>> round(t.points[0].engine_fps)
563

Needs numpy and pynq only (board side).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..runtime.report import RUN_STAGES
from .runtime_bench import time_runs

DEFAULT_BATCHES = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class EnginePoint:
    """The engine's time for ``batch`` images: ``engine_cycles`` at ``clock_mhz``."""

    batch: int
    engine_cycles: float
    clock_mhz: float

    @property
    def engine_s(self) -> float:
        return self.engine_cycles / (self.clock_mhz * 1e6)

    @property
    def engine_ms_per_image(self) -> float:
        return 1e3 * self.engine_s / self.batch

    @property
    def engine_fps(self) -> float:
        return self.batch / self.engine_s

    def macs_per_cycle(self, macs_per_image: int) -> float:
        """MACs per engine cycle achieved (``macs_per_image`` from :func:`.model.bundle_macs`),
        to set beside the engine's peak (``docs/resources.json``: ``macs_per_cycle``)."""
        return macs_per_image * self.batch / self.engine_cycles


@dataclass(frozen=True)
class BatchTiming(EnginePoint):
    """One batch size on a runtime, averaged over ``runs`` runs (times in seconds per run).

    ``stages_s``: the report's five stages, ``emulator_s`` and ``device_model_s`` (both 0 on a board).
    """

    runs: int = 0
    wall_s: float = 0.0
    stages_s: "dict[str, float]" = field(default_factory=dict)

    @property
    def wall_ms_per_image(self) -> float:
        return 1e3 * self.wall_s / self.batch

    @property
    def host_fps(self) -> float:
        """End-to-end images per second of ``Runtime.run`` on this host."""
        return self.batch / self.wall_s

    @property
    def host_overhead_s(self) -> float:
        """The runtime's own host time per run: wall time minus the emulated device's models."""
        return self.wall_s - self.stages_s["device_model_s"]


@dataclass(frozen=True)
class Throughput:
    """:func:`measure`'s result: ``points`` in the order of the batches asked for.

    ``engine_kind`` is "measured" on a board (its engine counts cycles) and "modelled" emulated.
    """

    board: str
    mode: str
    bundle: str
    points: "list[BatchTiming]"

    @property
    def engine_kind(self) -> str:
        return "measured" if self.mode == "board" else "modelled"

    def point(self, batch: int) -> BatchTiming:
        for p in self.points:
            if p.batch == batch:
                return p
        raise KeyError(f"batch {batch} was not measured; measured: {[p.batch for p in self.points]}")


def check_batches(batches: Sequence[int]) -> "list[int]":
    """``batches`` as a list of positive ints; ValueError naming the bad one."""
    out = []
    for b in batches:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1:
            raise ValueError(f"batch sizes must be positive integers, got {b!r} in {list(batches)}")
        out.append(int(b))
    if not out:
        raise ValueError("no batch sizes given")
    return out


def batch_images(rt, batch: int, images: "np.ndarray | None" = None, seed: int = 0) -> np.ndarray:
    """``batch`` uint8 images for ``rt``'s bundle: ``images`` repeated to fill the batch, or
    random pixels (the engine's cycles do not depend on the pixel values)."""
    shape = tuple(rt.bundle.input_shape)
    if images is None:
        return np.random.default_rng(seed).integers(0, 256, (batch,) + shape, dtype=np.uint8)
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != shape or images.dtype != np.uint8 or not len(images):
        raise ValueError(f"images: expected uint8 [N, {', '.join(map(str, shape))}] with N >= 1, "
                         f"got {images.dtype} {list(images.shape)}")
    return np.resize(images, (batch,) + shape)


def measure(rt, batches: Sequence[int] = DEFAULT_BATCHES, seconds: float = 2.0, min_runs: int = 3,
            images: "np.ndarray | None" = None) -> Throughput:
    """Time ``rt`` (a Runtime with a bundle loaded) at each batch size, ``seconds`` each.

    ``images`` (uint8 NHWC) are repeated to fill each batch; random pixels without them.
    """
    if rt.bundle is None:
        raise ValueError("measure: the runtime has no bundle loaded; call rt.load(bundle) first")
    clock_mhz = rt.report()["engine"]["clock_mhz"]
    points = []
    for batch in check_batches(batches):
        runs = time_runs(rt, batch_images(rt, batch, images), seconds, min_runs)
        mean = {k: sum(r[k] for r in runs) / len(runs)
                for k in (*RUN_STAGES, "emulator_s", "device_model_s", "wall_s", "engine_cycles")}
        points.append(BatchTiming(batch=batch, engine_cycles=mean.pop("engine_cycles"), clock_mhz=clock_mhz,
                                  runs=len(runs), wall_s=mean.pop("wall_s"), stages_s=mean))
    return Throughput(board=rt.board, mode=rt.mode, bundle=str(rt.bundle.path), points=points)


def stage_table(t: Throughput) -> "dict[str, list[float]]":
    """Host milliseconds per image by stage, one value per batch size (``"batch"``: the sizes).

    In emulated mode ``dma`` includes the engine emulator's compute, so it is split out as
    ``emulator`` (the board's engine does it instead); ``other`` is the rest of the wall time
    (tensor moves between layers). ``runtime_own`` (not a stage) is wall minus the device models.
    """
    table: "dict[str, list[float]]" = {"batch": [p.batch for p in t.points]}
    for p in t.points:
        s = {k: 1e3 * v / p.batch for k, v in p.stages_s.items()}
        row = {"preprocess": s["preprocess_s"], "weights": s["weights_s"], "dma": s["dma_s"] - s["emulator_s"],
               "emulator": s["emulator_s"], "engine_wait": s["engine_wait_s"],
               "postprocess": s["postprocess_s"]}
        row["other"] = max(0.0, p.wall_ms_per_image - sum(row.values()))
        row["runtime_own"] = 1e3 * p.host_overhead_s / p.batch
        for key, value in row.items():
            table.setdefault(key, []).append(value)
    return table


@dataclass(frozen=True)
class LayerTime:
    """One engine job of the last run: its cycles and engine seconds (all its images)."""

    name: str
    op: str
    cycles: int
    engine_s: float
    share: float            # of the run's engine time


def layer_times(report: dict) -> "list[LayerTime]":
    """Per-layer engine time of the last run, from ``rt.report()`` (in the bundle's layer order)."""
    last = report.get("last_run") or {}
    if not last.get("layers"):
        raise ValueError("layer_times: the report has no last run; call rt.run(images) first")
    total = last["engine_s"] or 1.0
    return [LayerTime(v["name"], v["op"], int(v["cycles"]), float(v["engine_s"]), v["engine_s"] / total)
            for v in last["layers"]]
