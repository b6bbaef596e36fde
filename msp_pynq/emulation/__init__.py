"""The emulated board: a ``pynq.Device`` on which pynq's own stack and the runtime run unchanged.

Loaded only when emulation is chosen (the board runtime never imports it at module level).
Split by capability, the way PYNQ splits its device backends:

- :mod:`.device`   :class:`EmulatedDevice`, the ``pynq.Device`` that puts the parts together
- :mod:`.memory`   contiguous buffers, physical addresses and the cache model
- :mod:`.bus`      register models, AXI4-Stream links and address decode
- :mod:`.axi_dma`  the Xilinx AXI DMA (PG021) at register level
- :mod:`.engine`   the msp_engine at register level, computing with the bit-exact emulator
- :mod:`.hwh`      a .hwh written from an overlay manifest, for pynq's own parser
- :mod:`.recorder` every register write and DMA transfer, in order
- :mod:`.faults`   DMA faults and flipped output bits, for testing the runtime

>>> dev = EmulatedDevice("pynq-z2")                                  # doctest: +SKIP
>>> rt = Runtime.open("pynq-z2", device=dev)                         # doctest: +SKIP
"""
from __future__ import annotations

from .bus import EmuBusError
from .device import EmulatedDevice
from .memory import EmulatedMemory
from .recorder import Recorder

__all__ = ["EmulatedDevice", "EmulatedMemory", "EmuBusError", "Recorder"]
