"""Fault injection: what the emulated board can be told to do wrong, for testing the runtime.

- DMA (:class:`DmaFaults`, one per channel): the next ``count`` transfers ``"hang"`` (never
  complete) or end with an error bit (``"internal"``, ``"slave"``, ``"decode"``: DMASR's
  DMAIntErr, DMASlvErr, DMADecErr).
- Engine (:class:`OutputFault`): one byte of the output packet of a later layer XORed with a
  mask: a bit flipped in the fabric, which the self-check must catch.
"""
from __future__ import annotations

from typing import Optional

from ..runtime.dma import SR_DEC_ERR, SR_INT_ERR, SR_SLV_ERR

DMA_ERROR_BITS = {"internal": SR_INT_ERR, "slave": SR_SLV_ERR, "decode": SR_DEC_ERR}
DMA_FAULTS = ("hang",) + tuple(DMA_ERROR_BITS)


def dma_fault_name(bit: int) -> str:
    """The fault name of a DMASR error bit."""
    return {v: k for k, v in DMA_ERROR_BITS.items()}[bit]


class DmaFaults:
    """The fault injected into one DMA channel's next transfers."""

    def __init__(self) -> None:
        self.fault: Optional[str] = None       # injected fault for the next transfers
        self.count = 0                         # how many more transfers get it (-1: all)

    def inject(self, fault: "str | None", count: int = 1) -> None:
        """Give the next ``count`` transfers ``fault`` (-1: every transfer; None clears)."""
        if fault is not None and fault not in DMA_FAULTS:
            raise ValueError(f"unknown DMA fault {fault!r}; expected one of {DMA_FAULTS}")
        self.fault, self.count = fault, (count if fault is not None else 0)

    def take(self) -> Optional[str]:
        """The fault of the transfer starting now, if any."""
        if self.fault is None or self.count == 0:
            return None
        fault = self.fault
        if self.count > 0:
            self.count -= 1
            if self.count == 0:
                self.fault = None
        return fault


class OutputFault:
    """Bits of one byte flipped in the output packet of the ``layer``-th layer from now on."""

    def __init__(self, layer: int = 0, byte: "int | None" = None, mask: int = 0x01) -> None:
        if layer < 0 or not 0 < mask < 256:
            raise ValueError(f"inject_output_fault: layer >= 0 and a mask in 1..255, got {layer}, {mask}")
        self.layer, self.byte, self.mask = layer, byte, mask

    def apply(self, out: bytes) -> "tuple[bytes, bool]":
        """``(packet, fired)``: the packet with the fault applied if this is its layer."""
        if self.layer > 0:
            self.layer -= 1
            return out, False
        data = bytearray(out)
        data[len(data) // 2 if self.byte is None else self.byte] ^= self.mask
        return bytes(data), True
