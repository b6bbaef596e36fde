"""Hardware self-check: known inputs through the engine, compared bit for bit with the emulator.

For triage when a board's results look wrong. The runtime runs a set of known images and keeps
every layer's output (:meth:`Runtime.trace`); the bundle's emulator network runs the same images
on the CPU; each layer is compared exactly, in network order, so the first layer that differs is
where to look (every later layer inherits its error).

>>> from msp_pynq.runtime import Runtime
>>> with Runtime.open("pynq-z2", emulate=True, log=None) as rt:          # doctest: +SKIP
...     rt.load("models/resnet20-msp8-exact.pynq-z2.mspb")
...     report = self_check(rt)
>>> print(report.summary())                                             # doctest: +SKIP
self-check PASSED on pynq-z2 (emulated): 8 known images, 32 layers and the logits bit-exact ...

Needs numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import MspRuntimeError

KNOWN_INPUTS = ("black", "white", "horizontal ramp", "vertical ramp", "checkerboard", "colour bars",
                "noise (seed 0)", "noise (seed 1)")


def known_inputs(shape: "tuple[int, int, int]") -> "tuple[np.ndarray, list[str]]":
    """Deterministic uint8 NHWC images of ``shape`` (H, W, C), one per :data:`KNOWN_INPUTS`:
    the extremes (all 0, all 255), ramps, a checkerboard, colour bars and seeded noise.

    >>> images, names = known_inputs((32, 32, 3))
    >>> images.shape, images.dtype, names[0], int(images[1].min())
    ((8, 32, 32, 3), dtype('uint8'), 'black', 255)
    """
    h, w, c = shape
    y, x = np.mgrid[0:h, 0:w]
    ramp_x = np.round(255 * x / max(w - 1, 1)).astype(np.uint8)
    ramp_y = np.round(255 * y / max(h - 1, 1)).astype(np.uint8)
    checker = np.where((y // 4 + x // 4) % 2 == 0, 255, 0).astype(np.uint8)
    bar_colours = np.array([[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0],
                            [255, 0, 255], [255, 0, 0], [0, 0, 255], [0, 0, 0]], np.uint8)
    bars = bar_colours[(x * len(bar_colours)) // w][..., :c]
    if c > 3:
        bars = np.repeat(bars[..., :1], c, axis=-1)

    def planes(plane: np.ndarray) -> np.ndarray:
        return np.repeat(plane[..., None], c, axis=-1)

    images = [np.zeros((h, w, c), np.uint8), np.full((h, w, c), 255, np.uint8), planes(ramp_x),
              planes(ramp_y), planes(checker), bars,
              np.random.default_rng(0).integers(0, 256, (h, w, c), dtype=np.uint8),
              np.random.default_rng(1).integers(0, 256, (h, w, c), dtype=np.uint8)]
    return np.stack(images), list(KNOWN_INPUTS)


@dataclass(frozen=True)
class LayerCheck:
    """One layer's comparison: ``mismatches`` of ``size`` values differ, by at most ``max_diff``;
    ``first`` is the index ``(image, ...)`` of the first differing value (None when equal)."""

    name: str
    op: str
    shape: tuple
    size: int
    mismatches: int
    max_diff: int
    first: "tuple | None"

    @property
    def ok(self) -> bool:
        return self.mismatches == 0


@dataclass
class SelfCheckReport:
    """The result of :func:`self_check`: per-layer checks in network order, and the logits."""

    board: str
    mode: str
    fingerprint: str
    bundle: str
    images: "list[str]"
    layers: "list[LayerCheck]" = field(default_factory=list)
    logits_equal: bool = False
    predictions: "list[str]" = field(default_factory=list)
    error: "str | None" = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.logits_equal and all(layer.ok for layer in self.layers)

    @property
    def first_bad(self) -> "LayerCheck | None":
        """The first layer in network order whose output differs (where to start looking)."""
        return next((layer for layer in self.layers if not layer.ok), None)

    def summary(self) -> str:
        """A few lines: PASSED/FAILED, and for a failure the first differing layer."""
        head = (f"{len(self.images)} known images, {len(self.layers)} layers and the logits")
        if self.ok:
            return (f"self-check PASSED on {self.board} ({self.mode}, engine {self.fingerprint}): {head} "
                    f"bit-exact against the emulator")
        if self.error is not None:
            return (f"self-check FAILED on {self.board} ({self.mode}, engine {self.fingerprint}): the run "
                    f"stopped with an error, so no layer was compared:\n{self.error}")
        bad = self.first_bad
        lines = [f"self-check FAILED on {self.board} ({self.mode}, engine {self.fingerprint}): "
                 f"{sum(not layer.ok for layer in self.layers)} of {len(self.layers)} layers differ"]
        if bad is not None:
            lines.append(f"first differing layer: {bad.name} ({bad.op}): {bad.mismatches} of {bad.size} values "
                         f"differ, by at most {bad.max_diff}, first at index {bad.first} (image, row, col, "
                         f"channel); differences in later layers may follow from it, so start there")
        elif not self.logits_equal:
            lines.append("every layer matches but the logits differ: check the logit scaling on the host")
        return "\n".join(lines)

    def rows(self) -> "list[dict]":
        """One dict per layer, for a table (pandas-free)."""
        return [{"layer": c.name, "op": c.op, "shape": "x".join(map(str, c.shape)), "values": c.size,
                 "mismatches": c.mismatches, "max |diff|": c.max_diff, "ok": c.ok} for c in self.layers]


def compare_tensor(name: str, op: str, engine: np.ndarray, emulator: np.ndarray) -> LayerCheck:
    """Exact comparison of one layer's output; a shape difference raises, naming the layer.

    >>> a = np.zeros((1, 2, 2, 3), np.uint8); b = a.copy(); b[0, 1, 0, 2] = 5
    >>> c = compare_tensor("conv1", "conv2d", a, b)
    >>> c.mismatches, c.max_diff, c.first
    (1, 5, (0, 1, 0, 2))
    """
    if engine.shape != emulator.shape:
        raise MspRuntimeError(f"self-check: layer {name!r}: the engine returned shape {engine.shape}, "
                              f"the emulator {emulator.shape}")
    diff = np.abs(engine.astype(np.int64) - emulator.astype(np.int64))
    bad = np.flatnonzero(diff)
    first = tuple(int(i) for i in np.unravel_index(bad[0], diff.shape)) if bad.size else None
    return LayerCheck(name, op, tuple(engine.shape[1:]), int(diff.size), int(bad.size),
                      int(diff.max()) if diff.size else 0, first)


def self_check(rt, images: "np.ndarray | None" = None, names: "list[str] | None" = None) -> SelfCheckReport:
    """Run ``images`` (default: :func:`known_inputs`) on ``rt``'s engine and on its bundle's
    emulator, and compare every layer's output and the logits bit for bit.

    An engine or DMA error during the run (the runtime has already reset both) is kept in the
    report's ``error`` rather than raised: it is a finding of the check too.
    """
    if rt.bundle is None:
        raise MspRuntimeError("self-check: no bundle loaded: call rt.load(bundle) first")
    if images is None:
        images, names = known_inputs(rt.bundle.input_shape)
    names = names or [f"image {i}" for i in range(len(images))]
    network = rt.bundle.network
    report = SelfCheckReport(rt.board, rt.mode, rt.info.fingerprint_hex, str(rt.bundle.path), list(names))
    try:
        engine = rt.trace(images)
    except MspRuntimeError as exc:
        report.error = str(exc)
        return report
    emulated = network.run(rt.bundle.check_images(images), keep=[layer.output for layer in network.layers])
    ops = {entry["output"]: entry["op"] for entry in rt.bundle.manifest["layers"]}
    for layer in network.layers:
        report.layers.append(compare_tensor(layer.name, ops.get(layer.output, type(layer).__name__),
                                            engine[layer.output], emulated[layer.output]))
    reference = emulated[network.output].astype(np.float64) * rt.bundle.logit_scale
    report.logits_equal = bool(np.array_equal(engine["logits"], reference))
    classes = rt.bundle.classes
    report.predictions = [classes[i] if i < len(classes) else str(i) for i in engine["logits"].argmax(axis=1)]
    return report
