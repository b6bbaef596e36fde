"""pynq driver of the msp_engine IP (docs/registers.md): ``ol.msp_engine_0`` is a :class:`MspEngine`.

Binding is by VLNV (``bindto``): importing this module registers the driver with pynq. Every
wait polls a register with a deadline and raises an error that names the layer, decodes the
engine's STATUS / ERROR_INFO and the DMA's DMASR; nothing here spins without a timeout.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import pynq

from . import dma as dmaops
from ..engine.geometry import EngineGeometry
from .errors import DmaError, EngineError, EngineTimeout, IncompatibleEngine, MspRuntimeError
from ..engine.registers import (CTRL_SOFT_RESET, CTRL_START, ENGINE_ID, ENGINE_VLNV, ERROR_TEXT,
                        ST_BUSY, ST_DONE, ST_ERR_CODE_MASK, ST_ERR_CODE_SHIFT,
                        ST_ERR_PACKET_MASK, ST_ERR_PACKET_SHIFT, ST_ERROR, VERSION_MAJOR, Descriptor,
                        ErrorCode, Reg, describe_status)


@dataclass(frozen=True)
class EngineInfo:
    """What the engine's read-only registers report."""

    ident: int
    version: "tuple[int, int]"
    geometry: EngineGeometry
    fingerprint: int
    clock_khz: int

    @property
    def fingerprint_hex(self) -> str:
        """The FINGERPRINT register as 8 hex digits: the first 8 of ``engine_fingerprint``."""
        return f"{self.fingerprint:08x}"

    @property
    def clock_mhz(self) -> float:
        return self.clock_khz / 1000.0


@dataclass
class LayerRun:
    """One layer on the engine: its cycle count and the host's wall time per step."""

    cycles: int
    times: "dict[str, float]" = field(default_factory=dict)


class MspEngine(pynq.DefaultIP):
    """Driver of one msp_engine instance (register map: docs/registers.md)."""

    bindto = [ENGINE_VLNV]

    # ---- identity ---------------------------------------------------------------------
    def info(self) -> EngineInfo:
        """Read ID, VERSION, the geometry, FINGERPRINT and CLOCK_KHZ."""
        version = self.read(Reg.VERSION)
        return EngineInfo(ident=self.read(Reg.ID), version=(version >> 16, version & 0xFFFF),
                          geometry=EngineGeometry.from_registers(self.read),
                          fingerprint=self.read(Reg.FINGERPRINT), clock_khz=self.read(Reg.CLOCK_KHZ))

    def check_identity(self) -> EngineInfo:
        """:meth:`info`, raising :class:`IncompatibleEngine` unless ID and VERSION's major match."""
        info = self.info()
        if info.ident != ENGINE_ID:
            raise IncompatibleEngine(f"the IP at 0x{self.mmio.base_addr:08x} reports ID 0x{info.ident:08x}, "
                                     f"not msp_engine's 0x{ENGINE_ID:08x} ('MSPE'): wrong bitstream or "
                                     f"address map")
        if info.version[0] != VERSION_MAJOR:
            raise IncompatibleEngine(f"msp_engine version {info.version[0]}.{info.version[1]}; this "
                                     f"msp_pynq drives version {VERSION_MAJOR}.x")
        return info

    # ---- control ----------------------------------------------------------------------
    def program(self, desc: Descriptor) -> None:
        """Write every descriptor register, ascending addresses (docs/registers.md)."""
        for offset, value in desc.registers():
            self.write(offset, value)

    def start(self) -> None:
        self.write(Reg.CONTROL, CTRL_START)

    def status(self) -> int:
        return self.read(Reg.STATUS)

    def cycles(self) -> int:
        """CYCLES of the last layer (LO then HI; stable once the engine is no longer busy)."""
        lo = self.read(Reg.CYCLES_LO)
        return lo | self.read(Reg.CYCLES_HI) << 32

    def soft_reset(self, timeout_s: float = 1.0) -> None:
        """CONTROL.SOFT_RESET, then wait until STATUS shows neither BUSY, DONE nor ERROR."""
        dmaops.check_timeout(timeout_s)          # before the write: a bad value changes nothing
        self.write(Reg.CONTROL, CTRL_SOFT_RESET)
        ok, status = dmaops.poll(self.status, lambda s: not s & (ST_BUSY | ST_DONE | ST_ERROR), timeout_s)
        if not ok:
            raise EngineTimeout(f"msp_engine soft reset not complete after {timeout_s:g} s "
                                f"(STATUS=0x{status:08x}: {describe_status(status)})")

    def wait(self, layer: str, timeout_s: float, dma=None,
             packet_names: Sequence[str] = ()) -> int:
        """Poll STATUS until DONE (returns CYCLES) or ERROR (raises :class:`EngineError`).

        With ``dma``, each poll also reads the S2MM DMASR: an S2MM error (the engine's output
        cannot be written) raises :class:`DmaError` at once instead of an engine timeout, and
        messages include both channels' DMASR. Raises :class:`EngineTimeout` after ``timeout_s``.
        """
        s2mm_bad = dmaops.SR_INT_ERR | dmaops.SR_SLV_ERR | dmaops.SR_DEC_ERR | dmaops.SR_HALTED

        def read() -> "tuple[int, int]":
            return self.status(), (dma.read(dmaops.SR_OFFSET[dmaops.S2MM]) if dma is not None else 0)

        ok, (status, s2mm) = dmaops.poll(read, lambda v: bool(v[0] & (ST_DONE | ST_ERROR) or v[1] & s2mm_bad),
                                         timeout_s)
        if status & ST_ERROR:
            raise self._error(layer, status, dma, packet_names)
        if status & ST_DONE:
            return self.cycles()
        if ok:
            raise DmaError(f"layer {layer!r}: S2MM channel error while the engine ran (DMASR=0x{s2mm:08x}: "
                           f"{dmaops.describe_dmasr(s2mm)}); msp_engine STATUS=0x{status:08x}: "
                           f"{describe_status(status)}", channel=dmaops.S2MM, dmasr=s2mm)
        raise EngineTimeout(f"layer {layer!r}: msp_engine not done after {timeout_s:g} s "
                            f"(STATUS=0x{status:08x}: {describe_status(status)}){self._dma_text(dma)}")

    def _dma_text(self, dma) -> str:
        return f"; {dmaops.channel_status(dma)}" if dma is not None else ""

    def _error(self, layer: str, status: int, dma, packet_names: Sequence[str]) -> EngineError:
        code = (status >> ST_ERR_CODE_SHIFT) & ST_ERR_CODE_MASK
        packet = (status >> ST_ERR_PACKET_SHIFT) & ST_ERR_PACKET_MASK
        info = self.read(Reg.ERROR_INFO)
        pname = f"packet {packet}" + (f" ({packet_names[packet]})" if packet < len(packet_names) else "")
        try:
            name = ErrorCode(code).name
            text = ERROR_TEXT[ErrorCode(code)]
        except ValueError:
            name, text = f"code {code}", "unknown error code"
        if code == ErrorCode.BAD_DESCRIPTOR:
            try:
                detail = f"register {Reg(info).name} (0x{info:03X})"
            except ValueError:
                detail = f"register 0x{info:03X}"
        elif code == ErrorCode.UNSUPPORTED_OP:
            detail = f"OP = {info}"
        elif code == ErrorCode.BUFFER_OVERFLOW:
            detail = "needs " + self.info().geometry.describe_overflow(info)
        elif code == ErrorCode.STREAM_LENGTH:
            detail = f"{pname}: the descriptor expects {info} bytes"
        elif code == ErrorCode.BAD_DATA:
            unit = "row" if packet_names[packet:packet + 1] in (["params"], ["weights"]) else "element"
            detail = f"{pname}: first offending {unit} {info}"
        else:
            detail = f"ERROR_INFO=0x{info:08x}"
        return EngineError(f"layer {layer!r}: msp_engine error {name} ({text}): {detail} "
                           f"(STATUS=0x{status:08x}, ERROR_INFO=0x{info:08x}){self._dma_text(dma)}",
                           layer=layer, code=code, packet=packet, info=info, status=status)

    # ---- one layer --------------------------------------------------------------------
    def run_layer(self, dma, layer: str, desc: Descriptor, packets: Sequence, output,
                  timeout_s: float) -> LayerRun:
        """Run one layer: the per-layer sequence of docs/registers.md.

        ``packets``: the MM2S buffers in stream order (contiguous ``uint8`` PynqBuffer slices,
        8-byte aligned); ``output``: the S2MM buffer slice of exactly ``desc.output_nbytes``.
        Returns the CYCLES count and the host wall time of each step.
        """
        dmaops.check_timeout(timeout_s)          # before anything starts on the hardware
        names = [n for n, _ in desc.packet_sizes()]
        sizes = [n for _, n in desc.packet_sizes()]
        if [p.nbytes for p in packets] != sizes or output.nbytes != desc.output_nbytes:
            raise MspRuntimeError(f"layer {layer!r}: buffers of {[p.nbytes for p in packets]} -> "
                                  f"{output.nbytes} bytes, the descriptor needs {sizes} -> "
                                  f"{desc.output_nbytes}")
        times = {}
        t0 = time.perf_counter()
        self.program(desc)
        dma.recvchannel.transfer(output)
        self.start()
        t1 = time.perf_counter()
        times["program_s"] = t1 - t0
        for index, (name, buf) in enumerate(zip(names, packets)):
            t = time.perf_counter()
            dma.sendchannel.transfer(buf)
            dmaops.wait_channel(dma, dmaops.MM2S, timeout_s,
                                what=f"layer {layer!r}: MM2S packet {index} ({name}, {buf.nbytes} bytes)",
                                context=lambda: f"msp_engine STATUS: {describe_status(self.status())}")
            key = "weights_s" if name in ("params", "weights") else "input_s"
            times[key] = times.get(key, 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        cycles = self.wait(layer, timeout_s, dma, names)
        t2 = time.perf_counter()
        times["engine_wait_s"] = t2 - t
        received = dmaops.wait_channel(dma, dmaops.S2MM, timeout_s,
                                       what=f"layer {layer!r}: S2MM output ({output.nbytes} bytes)")
        if received != output.nbytes:
            raise MspRuntimeError(f"layer {layer!r}: S2MM received {received} bytes, the descriptor "
                                  f"gives {output.nbytes}")
        times["output_s"] = time.perf_counter() - t2
        return LayerRun(cycles=cycles, times=times)
