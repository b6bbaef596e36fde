"""The engine's contract: what the Verilog engine, the emulated device, the board driver and the
compiler all honour. Numpy only (no file formats, no torch, no pynq).

- :mod:`.registers` the AXI4-Lite register map, the descriptor and the stream packets (docs/registers.md)
- :mod:`.geometry`  :class:`EngineGeometry`, the five numbers of an engine, its buffers and fingerprint
- :mod:`.limits`    the largest layer the descriptor fields hold
- :mod:`.checks`    the START checks (the twin of ``hw_src/rtl/msp_layer_check.v``)
- :mod:`.rows`      the engine's row order (SP2, fixed-4, fixed-8)
- :mod:`.cycles`    the cycle model of the RTL's schedule
- :mod:`.planning`  a bundle's layers as engine jobs, tiled to fit the buffers
"""
from __future__ import annotations

from .geometry import EngineGeometry, engine_fingerprint
from .registers import Descriptor, ErrorCode, Op, Reg

__all__ = ["EngineGeometry", "engine_fingerprint", "Descriptor", "ErrorCode", "Op", "Reg"]
