"""Layer replays: the runtime's recorded register writes and DMA transfers, cut into layers.

The RTL testbench (``msp_pynq/hw/testbench/tb_engine.py``) drives the Verilog engine with exactly what the
runtime did on the emulated device, layer by layer, and compares the output packets. A replay is
the recorder's JSON lines (:meth:`msp_pynq.emulation.recorder.Recorder.dump`).

>>> layers = record_bundle("models/resnet20-msp8-exact.pynq-z2.mspb", "pynq-z2")   # doctest: +SKIP
>>> layers[0].descriptor.op_name, len(layers[0].mm2s), len(layers[0].s2mm)       # doctest: +SKIP
('conv2d', 3, 16384)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..emulation.recorder import Recorder
from ..engine.registers import DESCRIPTOR_REGS, CTRL_SOFT_RESET, CTRL_START, Descriptor, Reg

ENGINE_IP = "msp_engine_0"


@dataclass
class LayerReplay:
    """One START: the descriptor registers written before it, its MM2S packets, its S2MM packet."""

    index: int
    registers: "dict[int, int]"
    mm2s: "list[bytes]" = field(default_factory=list)
    s2mm: bytes = b""

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor.from_registers(self.registers)

    def describe(self) -> str:
        d = self.descriptor
        shape = f"{d.batch}x{d.in_h}x{d.in_w}x{d.in_c}"
        rows = f" -> {d.out_c} rows ({d.rows_sp2} SP2, {d.rows_fixed4} fixed-4, {d.rows_fixed8} fixed-8)" \
            if d.out_c else ""
        return f"layer {self.index}: {d.op_name} {shape}{rows}"


def layers_from_events(events: "list[dict]") -> "list[LayerReplay]":
    """Cut recorded events into layers (soft resets between layers are not part of a layer)."""
    regs = {int(r): 0 for r in DESCRIPTOR_REGS}
    layers: "list[LayerReplay]" = []
    for e in events:
        if e["kind"] == "write" and e["ip"] == ENGINE_IP:
            if e["offset"] in regs:
                regs[e["offset"]] = e["value"]
            elif e["offset"] == Reg.CONTROL and e["value"] & CTRL_START and not e["value"] & CTRL_SOFT_RESET:
                layers.append(LayerReplay(len(layers), dict(regs)))
        elif e["kind"] == "dma" and layers and e["error"] is None:
            if e["channel"] == "mm2s":
                layers[-1].mm2s.append(e["data"])
            else:
                layers[-1].s2mm = e["data"]
    return layers


def record_bundle(bundle: "str | Path", board: str, images: "np.ndarray | None" = None,
                  seed: int = 0) -> "list[LayerReplay]":
    """Run ``bundle`` on the emulated ``board`` (one random image unless ``images``) and return its layers."""
    from ..runtime import Runtime
    rt = Runtime.open(board, emulate=True, record=True, log=None)
    try:
        rt.load(str(bundle))
        if images is None:
            shape = tuple(rt.bundle.input_shape)
            images = np.random.default_rng(seed).integers(0, 256, (1,) + shape, dtype=np.uint8)
        mark = rt.device.recorder.mark()
        rt.run(images)
        return layers_from_events(rt.device.recorder.events[mark:])
    finally:
        rt.close()


def save(layers: "list[LayerReplay]", path: "str | Path") -> None:
    """Write layers as recorder JSON lines (descriptor writes, START, packets)."""
    rec = Recorder(enabled=True)
    for layer in layers:
        for offset, value in sorted(layer.registers.items()):
            rec.write(ENGINE_IP, offset, value)
        rec.write(ENGINE_IP, int(Reg.CONTROL), CTRL_START)
        for packet in layer.mm2s:
            rec.transfer("mm2s", 0, len(packet), packet)
        rec.transfer("s2mm", 0, len(layer.s2mm), layer.s2mm)
    rec.dump(path)


def load(path: "str | Path") -> "list[LayerReplay]":
    return layers_from_events(Recorder.load(path))
