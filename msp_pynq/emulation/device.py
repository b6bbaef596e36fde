"""A ``pynq.Device`` with no hardware behind it, on which pynq's own stack runs unchanged.

The design is in ``docs/design/pynq-emulation.md``. Only the lowest level is replaced: ``pynq.allocate``,
``PynqBuffer``, ``pynq.MMIO``, ``pynq.lib.dma.DMA``, ``DefaultIP`` binding and ``pynq.Overlay``
are the real pynq package (4.0.0 and 3.0.1).

The device puts together one part per capability:

- **Memory** (:mod:`.memory`): contiguous buffers with physical addresses, a live-buffer counter
  (``memory.live_buffers``) and, unless ``coherent``, a cache model.
- **MMIO** (:mod:`.bus`): with capability REGISTER_RW, pynq calls :meth:`EmulatedDevice.read_registers` /
  :meth:`EmulatedDevice.write_registers`; each 32-bit word goes to the register model mapped
  at its address (an unmapped address is a bus error), then every model advances one step.
- **Overlay** (:mod:`.hwh`): :meth:`EmulatedDevice.write_overlay` writes a .hwh from the board's
  overlay manifest; ``pynq.Overlay`` parses it with pynq's own parser and "downloads" it, which
  builds an :class:`~.axi_dma.AxiDmaModel` and an :class:`~.engine.EngineModel` at the
  manifest's addresses and wires the DMA's streams to the engine.
- **Recorder** (:mod:`.recorder`): every register write and DMA transfer, in order.
- **Faults** (:mod:`.faults`): :meth:`EmulatedDevice.inject_dma_fault` (hang, error bits),
  :meth:`EmulatedDevice.inject_output_fault` (a flipped output bit).
"""
from __future__ import annotations

import collections
import contextlib
import copy
import threading
import time
from pathlib import Path
from typing import Callable

import pynq
from pynq.buffer import PynqBuffer

from ..boards.profiles import get_profile
from ..engine.registers import ENGINE_VLNV
from ..runtime.overlays import DMA_VLNV, OverlayManifest, load_overlay_manifest
from .axi_dma import AxiDmaModel
from .bus import EmuBusError, RegisterBus, RegisterModel
from .engine import EngineModel
from .hwh import write_overlay_files
from .memory import EmulatedMemory
from .recorder import Recorder

try:      # pynq 3.0.x ships its own copy of the runtime metadata parser
    from pynq.metadata.runtime_metadata_parser import RuntimeMetadataParser
except ImportError:      # pynq >= 3.1 takes it from pynqmetadata
    from pynqmetadata.views.runtime import RuntimeMetadataParser
from pynqmetadata.frontends import Metadata


class EmulatedDevice(pynq.Device):
    """The emulated board for one board profile; see the module docstring.

    Args:
        board: board profile name (``"pynq-z2"``, ``"zcu104"``).
        manifest: the overlay manifest (default: ``overlays/<board>/manifest.json``).
        coherent: model cache-coherent buffers (no flush/invalidate needed).
        record: start with the recorder on.
        model_factories: extra or replacement register models, VLNV -> ``factory(device, ip_description)``.
        tag: pynq device tag.
    """

    def __init__(self, board: str = "pynq-z2", manifest: "OverlayManifest | None" = None, *,
                 coherent: bool = False, record: bool = False,
                 model_factories: "dict[str, Callable] | None" = None, tag: "str | None" = None) -> None:
        self.profile = get_profile(board)
        tag = tag or f"emulated-{self.profile.name}"
        super().__init__(tag)
        self.name = tag
        self.capabilities = {"REGISTER_RW": True, "MEMORY_MAPPED": False, "CALLABLE": False}
        self.arch = "emulated"                # pynq 4's Clocks reads it
        self.bitfile_name = None
        self.timestamp = ""
        self.coherent = coherent
        self.manifest = manifest or load_overlay_manifest(self.profile.name)
        self.memory = EmulatedMemory(self)
        self.recorder = Recorder(enabled=record)
        self.bus = RegisterBus()
        self.model_factories: "dict[str, Callable]" = {DMA_VLNV: AxiDmaModel, ENGINE_VLNV: EngineModel}
        self.model_factories.update(model_factories or {})
        self.models: "dict[str, RegisterModel]" = {}
        self.pl_clocks: dict = {}
        self.stats: "collections.Counter[str]" = collections.Counter()
        # host seconds inside the register, DMA and engine models (register reads and writes are
        # the only way in): what a board's MMIO would not cost; benchmarks take it out
        self.model_s = 0.0
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"EmulatedDevice({self.profile.name!r})"

    # ---- activation -------------------------------------------------------------------
    @contextlib.contextmanager
    def activate(self):
        """Make this pynq's active device for the block (pynq 3.0.1 drivers look it up)."""
        had = "_active_device" in pynq.Device.__dict__
        old = pynq.Device.__dict__.get("_active_device")
        pynq.Device.active_device = self
        try:
            yield self
        finally:
            if had:
                pynq.Device.active_device = old
            else:
                del pynq.Device._active_device

    # ---- overlay ----------------------------------------------------------------------
    def write_overlay(self, directory: "str | Path") -> Path:
        """Write the manifest's .hwh and an empty .bit into ``directory``; returns the .bit path."""
        return write_overlay_files(self.manifest, directory)

    def get_bitfile_metadata(self, bitfile_name: str, partial: bool = False):
        hwh = Path(bitfile_name).with_suffix(".hwh")
        if partial or not hwh.exists():
            raise RuntimeError(f"EmulatedDevice needs a full-design {hwh}")
        parser = RuntimeMetadataParser(Metadata(input=hwh))
        # Programming PS clocks (SLCR / CRL_APB registers) needs the board: keep the request.
        self.pl_clocks = copy.deepcopy(parser.clock_dict)
        parser.clock_dict = {}
        return parser

    def download(self, bitstream, parser=None) -> None:
        """'Program' the PL: build the register models of the .hwh's IP and wire the streams."""
        with self._lock:
            self.bus.unmap_if(lambda model: getattr(model, "_from_hwh", False))
            self.models = {}
            for name, desc in (parser.ip_dict if parser else {}).items():
                factory = self.model_factories.get(desc.get("type"))
                if factory is None or "phys_addr" not in desc:
                    continue
                model = factory(self, desc)
                model._from_hwh = True
                self.map(desc["phys_addr"], desc["addr_range"], model, name)
                self.models[name] = model
            self._wire_streams()
            self.stats["downloads"] += 1
        self.post_download(bitstream, parser, self.name)

    def _wire_streams(self) -> None:
        """Connect the AXI4-Stream links the manifest lists (DMA MM2S -> engine -> DMA S2MM)."""
        for link in self.manifest.raw.get("streams", []):
            src_ip, src_port = link["from"].split("/")
            dst_ip, dst_port = link["to"].split("/")
            src, dst = self.models.get(src_ip), self.models.get(dst_ip)
            if src is None or dst is None:
                continue
            if isinstance(src, AxiDmaModel):          # DMA MM2S -> engine input
                src.mm2s = dst.inp
            elif isinstance(dst, AxiDmaModel):        # engine output -> DMA S2MM
                dst.s2mm = src.out

    @property
    def dma_model(self) -> AxiDmaModel:
        return self.models[self.manifest.dma.name]

    @property
    def engine_model(self) -> EngineModel:
        return self.models[self.manifest.engine.name]

    def inject_dma_fault(self, channel: str, fault: "str | None", count: int = 1) -> None:
        """Give the next ``count`` transfers of ``channel`` ('mm2s'/'s2mm') a fault:
        ``'hang'``, ``'internal'``, ``'slave'``, ``'decode'`` (None clears)."""
        self.dma_model.inject(channel, fault, count)

    def inject_output_fault(self, layer: int = 0, byte: "int | None" = None, mask: int = 0x01) -> None:
        """Flip bits (``mask``) of one byte of the engine's output for the ``layer``-th layer
        computed from now on (:meth:`EngineModel.inject_output_fault`)."""
        self.engine_model.inject_output_fault(layer, byte, mask)

    # ---- MMIO -------------------------------------------------------------------------
    def map(self, base: int, size: int, model: RegisterModel, name: str = "") -> RegisterModel:
        """Decode ``[base, base + size)`` to ``model``."""
        return self.bus.map(base, size, model, name)

    def read_registers(self, address: int, length: int) -> bytes:
        t0 = time.perf_counter()
        with self._lock:
            out = bytearray()
            for a in range(address & ~3, address + length, 4):
                model, offset, _ = self.bus.decode(a)
                out += int(model.read(offset) & 0xFFFFFFFF).to_bytes(4, "little")
                self.stats["reads"] += 1
                self.tick()
            skip = address & 3
            self.model_s += time.perf_counter() - t0
            return bytes(out[skip:skip + length])

    def write_registers(self, address: int, data: bytes) -> None:
        t0 = time.perf_counter()
        with self._lock:
            data = bytes(data)
            if address & 3 or len(data) % 4:
                raise EmuBusError(f"unaligned write at 0x{address:08x} ({len(data)} bytes)")
            for i in range(0, len(data), 4):
                model, offset, name = self.bus.decode(address + i)
                value = int.from_bytes(data[i:i + 4], "little")
                self.recorder.write(name, offset, value)
                model.write(offset, value)
                self.stats["writes"] += 1
                self.tick()
            self.model_s += time.perf_counter() - t0

    def tick(self) -> None:
        """One step for every model, then let data flow until nothing moves."""
        self.bus.tick()

    # ---- memory -----------------------------------------------------------------------
    @property
    def default_memory(self) -> EmulatedMemory:
        return self.memory

    def get_memory(self, description) -> EmulatedMemory:
        return self.memory

    def allocate(self, shape, dtype, **kwargs) -> PynqBuffer:
        return self.memory.allocate(shape, dtype, **kwargs)

    def flush(self, bo: int, offset: int, ptr: int, size: int) -> None:
        """PynqBuffer.flush(): CPU cache to DDR."""
        self.memory.flush(bo, offset, size)

    def invalidate(self, bo: int, offset: int, ptr: int, size: int) -> None:
        """PynqBuffer.invalidate(): DDR to the CPU's view."""
        self.memory.invalidate(bo, offset, size)

    def dma_read(self, phys: int, nbytes: int) -> "bytes | None":
        """Bytes a PL bus master reads at ``phys``; None if no live buffer holds the range."""
        return self.memory.read_ddr(phys, nbytes)

    def dma_write(self, phys: int, data: bytes) -> bool:
        """A PL bus master writes ``data`` at ``phys``; False if no live buffer holds the range."""
        return self.memory.write_ddr(phys, data)

    def record_transfer(self, channel: str, address: int, length: int, data: bytes,
                        error: "str | None") -> None:
        """Called by the DMA model at the end of every transfer."""
        self.recorder.transfer(channel, address, length, data, error)
