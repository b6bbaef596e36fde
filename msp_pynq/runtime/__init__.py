"""The board runtime: msp_engine overlays through pynq, on a PYNQ board or emulated on a PC.

Needs numpy and pynq (never torch or onnx). Modules, one job each:

- :mod:`.registers`       the register map and stream protocol (docs/registers.md) as code
- :mod:`.manifest`        ``overlays/<board>/manifest.json`` and its check against a .hwh
- :mod:`.hwh`             a .hwh written from a manifest (for the emulated overlay)
- :mod:`.dma`             waits with timeouts and recovery for pynq's AXI DMA driver
- :mod:`.driver`          :class:`MspEngine`, the pynq driver bound to the engine's VLNV
- :mod:`.program`         a bundle's layers as engine jobs (descriptors, packets)
- :mod:`.runtime`         :class:`Runtime`: open, load, run, classify, report
- :mod:`.emulated_device` :class:`EmulatedDevice`, a pynq.Device with register models
- :mod:`.axi_dma_model`, :mod:`.engine_model`, :mod:`.recorder`: its parts
"""
from __future__ import annotations

from .driver import EngineInfo, MspEngine
from .emulated_device import EmulatedDevice
from .errors import (BoardNotFound, DmaError, DmaTimeout, EngineError, EngineTimeout, IncompatibleEngine,
                     MspRuntimeError, OverlayMismatch, RuntimeBusy)
from .runtime import Runtime

__all__ = ["Runtime", "MspEngine", "EngineInfo", "EmulatedDevice", "MspRuntimeError", "EngineError",
           "EngineTimeout", "DmaError", "DmaTimeout", "IncompatibleEngine", "OverlayMismatch",
           "BoardNotFound", "RuntimeBusy"]
