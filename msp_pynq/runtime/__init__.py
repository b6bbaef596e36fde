"""The board runtime: msp_engine overlays through pynq, on a PYNQ board or on the emulated one.

Needs numpy and pynq (never torch or onnx). The emulated board (:mod:`msp_pynq.emulation`) is
imported only once emulation is chosen (``Runtime.open(emulate=True)``, or no board here), so a
board never loads it. Modules, one job each:

- :mod:`.runtime`   :class:`Runtime`: open, load, run, classify, report
- :mod:`.driver`    :class:`MspEngine`, the pynq driver bound to the engine's VLNV
- :mod:`.dma`       waits with timeouts and recovery for pynq's AXI DMA driver
- :mod:`.overlays`  ``overlays/<board>/manifest.json``: where overlays are, and their check against a .hwh
- :mod:`.errors`    what the runtime raises
- :mod:`.selfcheck` the hardware self-check: every layer against the emulator, bit for bit
"""
from __future__ import annotations

from .driver import EngineInfo, MspEngine
from .errors import (BoardNotFound, DmaError, DmaTimeout, EngineError, EngineTimeout, IncompatibleEngine,
                     MspRuntimeError, OverlayMismatch, RuntimeBusy)
from .runtime import Runtime

__all__ = ["Runtime", "MspEngine", "EngineInfo", "MspRuntimeError", "EngineError",
           "EngineTimeout", "DmaError", "DmaTimeout", "IncompatibleEngine", "OverlayMismatch",
           "BoardNotFound", "RuntimeBusy"]
