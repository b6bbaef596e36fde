"""Errors of the board runtime.

A failed layer (engine error, DMA error, timeout) raises a :class:`MspRuntimeError` whose
message names the layer and decodes the engine's STATUS and the DMA's DMASR; the runtime then
resets the DMA and the engine, so the next run starts clean. A bundle that does not fit the
loaded engine is refused with :class:`msp_pynq.bundle.container.BundleError` (bad input, like
every other bundle refusal).
"""
from __future__ import annotations


class MspRuntimeError(RuntimeError):
    """Base class of the board runtime's errors (hardware or overlay trouble, not bad input)."""


class IncompatibleEngine(MspRuntimeError):
    """The overlay's engine is not one this msp_pynq drives (ID, version or geometry)."""


class OverlayMismatch(MspRuntimeError):
    """The overlay's .hwh disagrees with ``overlays/<board>/manifest.json``."""


class BoardNotFound(MspRuntimeError):
    """``emulate=False`` was asked for, but there is no board (or no bitstream) here."""


class EngineError(MspRuntimeError):
    """The engine finished a layer with STATUS.ERROR set.

    Attributes: ``layer``, ``code`` (:class:`.registers.ErrorCode`), ``packet`` (index of the
    offending packet), ``info`` (ERROR_INFO), ``status`` (STATUS).
    """

    def __init__(self, message: str, layer: str = "", code: int = 0, packet: int = 0,
                 info: int = 0, status: int = 0) -> None:
        super().__init__(message)
        self.layer, self.code, self.packet, self.info, self.status = layer, code, packet, info, status


class EngineTimeout(MspRuntimeError, TimeoutError):
    """The engine reported neither DONE nor ERROR within the timeout."""


class DmaError(MspRuntimeError):
    """An AXI DMA channel halted with an error bit (DMAIntErr, DMASlvErr, DMADecErr)."""

    def __init__(self, message: str, channel: str = "", dmasr: int = 0) -> None:
        super().__init__(message)
        self.channel, self.dmasr = channel, dmasr


class DmaTimeout(MspRuntimeError, TimeoutError):
    """An AXI DMA channel did not become idle within the timeout."""


class RuntimeBusy(MspRuntimeError):
    """``load()``, ``unload()`` or ``close()`` while another thread runs images on the Runtime."""
