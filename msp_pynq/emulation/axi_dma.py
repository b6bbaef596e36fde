"""Register-level model of the Xilinx AXI DMA v7.1 in simple (direct register) mode, PG021.

Used by :class:`.device.EmulatedDevice` under pynq's unchanged ``pynq.lib.dma.DMA``
driver. MM2S reads ``LENGTH`` bytes at ``MM2S_SA`` from the emulated memory and pushes them as
one packet (TLAST at the end) into ``self.mm2s``; S2MM pops one packet from ``self.s2mm`` and
writes it to ``S2MM_DA``. Modelled behaviour (what pynq and the runtime rely on):

- DMACR: RS (bit 0) starts a channel (DMASR.Halted clears) unless an error is latched;
  Reset (bit 2) resets the whole core (both channels, errors cleared, transfers dropped).
- DMASR: Halted (0), Idle (1), DMAIntErr (4), DMASlvErr (5), DMADecErr (6), IOC_Irq (12),
  Err_Irq (14); the IRQ bits are write-1-to-clear. An error halts the channel and is sticky.
- Writing LENGTH starts a transfer of a running channel (ignored while halted). Length 0 is a
  DMAIntErr; an address range not inside one live buffer is a DMADecErr; an S2MM packet longer
  than LENGTH is a DMAIntErr; a shorter one completes with LENGTH = bytes received.
- Back-pressure: MM2S completes only once its packet fits into ``self.mm2s`` (a stream FIFO
  with ``maxlen`` packets); S2MM waits for a packet.

Fault injection (:meth:`inject`, :mod:`.faults`): ``"hang"`` (the transfer never completes), ``"internal"``,
``"slave"``, ``"decode"`` (the transfer ends with that error bit), for the next ``count``
transfers of a channel.
"""
from __future__ import annotations

from typing import Callable, Optional

from ..runtime.dma import (CR_RESET, CR_RS, SR_DEC_ERR, SR_ERR_IRQ, SR_HALTED, SR_IDLE, SR_INT_ERR, SR_IOC_IRQ,
                           SR_SLV_ERR)
from .bus import AxisFifo, RegisterModel
from .faults import DMA_ERROR_BITS, DmaFaults, dma_fault_name

DLY_IRQ = 0x2000


class _Channel:
    def __init__(self, name: str, base: int) -> None:
        self.name, self.base = name, base      # base: 0x00 (MM2S) or 0x30 (S2MM)
        self.faults = DmaFaults()
        self.reset()

    def reset(self) -> None:
        self.cr = 0x00010002                   # DMACR reset value (IRQThreshold = 1)
        self.sr = SR_HALTED                    # DMASR reset value
        self.addr_lo = self.addr_hi = self.length = 0
        self.pending: "Optional[list]" = None  # [address, nbytes, fault] of the transfer in flight

    @property
    def address(self) -> int:
        return (self.addr_hi << 32) | self.addr_lo


class AxiDmaModel(RegisterModel):
    """The AXI DMA's registers and data movement; see the module docstring.

    ``device`` provides ``dma_read(address, nbytes) -> bytes | None`` and
    ``dma_write(address, data) -> bool`` (None/False: no live buffer there) and, optionally,
    ``record_transfer(channel, address, length, data, error)``.
    """

    def __init__(self, device, description: "dict | None" = None, size: int = 0x10000) -> None:
        super().__init__(size)
        self.device = device
        params = (description or {}).get("parameters", {})
        self.length_mask = (1 << int(params.get("c_sg_length_width", 26))) - 1
        self.mm2s = self.s2mm = AxisFifo()      # loopback until the device wires the streams
        self.ch = {"mm2s": _Channel("mm2s", 0x00), "s2mm": _Channel("s2mm", 0x30)}
        self.on_transfer: "Optional[Callable]" = getattr(device, "record_transfer", None)

    def inject(self, channel: str, fault: "str | None", count: int = 1) -> None:
        """Give the next ``count`` transfers of ``channel`` the ``fault`` (-1: every transfer)."""
        self.ch[channel].faults.inject(fault, count)

    def _chan(self, offset: int) -> "tuple[_Channel, int]":
        c = self.ch["s2mm"] if offset >= 0x30 else self.ch["mm2s"]
        return c, offset - c.base

    def read(self, offset: int) -> int:
        c, r = self._chan(offset)
        return {0x00: c.cr, 0x04: c.sr, 0x18: c.addr_lo, 0x1C: c.addr_hi,
                0x28: c.length}.get(r, self.regs[offset])

    def write(self, offset: int, value: int) -> None:
        c, r = self._chan(offset)
        if r == 0x00:                                   # DMACR
            if value & CR_RESET:                        # soft reset: the whole core
                for ch in self.ch.values():            # (packets already in a stream FIFO
                    ch.reset()                          # belong to its consumer)
                return
            c.cr = value & ~CR_RESET
            if value & CR_RS:
                if not c.sr & (SR_INT_ERR | SR_SLV_ERR | SR_DEC_ERR):   # errors are sticky
                    c.sr &= ~SR_HALTED
            else:
                c.sr |= SR_HALTED
                c.pending = None
        elif r == 0x04:                                 # DMASR: W1C interrupt bits
            c.sr &= ~(value & (SR_IOC_IRQ | DLY_IRQ | SR_ERR_IRQ))
        elif r == 0x18:
            c.addr_lo = value
        elif r == 0x1C:
            c.addr_hi = value
        elif r == 0x28:                                 # LENGTH: starts a transfer
            c.length = value & self.length_mask
            if c.sr & SR_HALTED:
                return
            c.sr &= ~SR_IDLE
            c.pending = [c.address, c.length, c.faults.take()]
        else:
            self.regs[offset] = value & 0xFFFFFFFF

    def _error(self, c: _Channel, bit: int, address: int, nbytes: int) -> None:
        c.sr = (c.sr | bit | SR_ERR_IRQ | SR_HALTED) & ~SR_IDLE
        c.cr &= ~CR_RS
        c.pending = None
        if self.on_transfer:
            self.on_transfer(c.name, address, nbytes, b"", dma_fault_name(bit))

    def _complete(self, c: _Channel, address: int, data: bytes) -> None:
        c.length = len(data)
        c.sr |= SR_IDLE | SR_IOC_IRQ
        c.pending = None
        if self.on_transfer:
            self.on_transfer(c.name, address, len(data), data, None)

    def tick(self, new_cycle: bool) -> bool:
        progress = False
        for c in self.ch.values():
            if c.pending is None:
                continue
            address, nbytes, fault = c.pending
            if fault == "hang":
                continue
            if fault in DMA_ERROR_BITS:
                self._error(c, DMA_ERROR_BITS[fault], address, nbytes)
            elif nbytes == 0:
                self._error(c, SR_INT_ERR, address, nbytes)
            elif c.name == "mm2s":
                if not self.mm2s.can_push():
                    continue                            # back-pressure: the stream is full
                data = self.device.dma_read(address, nbytes)
                if data is None:
                    self._error(c, SR_DEC_ERR, address, nbytes)
                else:
                    self.mm2s.push(data)
                    self._complete(c, address, data)
            else:
                if not len(self.s2mm):
                    continue                            # wait for a packet
                packet = self.s2mm.pop()
                if not self.device.dma_write(address, packet[:nbytes]):
                    self._error(c, SR_DEC_ERR, address, nbytes)
                elif len(packet) > nbytes:              # no TLAST within LENGTH
                    self._error(c, SR_INT_ERR, address, nbytes)
                else:
                    self._complete(c, address, packet)
            progress = True
        return progress
