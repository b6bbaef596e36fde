"""A ``pynq.Device`` with no hardware behind it, on which pynq's own stack runs unchanged.

The design is in ``docs/design/pynq-emulation.md``. Only the lowest level is replaced: ``pynq.allocate``,
``PynqBuffer``, ``pynq.MMIO``, ``pynq.lib.dma.DMA``, ``DefaultIP`` binding and ``pynq.Overlay``
are the real pynq package (4.0.0 and 3.0.1).

- **Memory**: contiguous buffers with physical addresses from a first-fit, 4 KiB-aligned
  allocator, a live-buffer counter (``memory.live_buffers``) and, unless ``coherent``, a cache
  model (flush: CPU to "DDR", invalidate: DDR to CPU) so that a missing flush shows as stale
  data, as on a Zynq.
- **MMIO**: with capability REGISTER_RW, pynq calls :meth:`EmulatedDevice.read_registers` /
  :meth:`EmulatedDevice.write_registers`; each 32-bit word goes to the register model mapped
  at its address (an unmapped address is a bus error), then every model advances one step.
- **Overlay**: :meth:`EmulatedDevice.write_overlay` writes a .hwh from the board's manifest;
  ``pynq.Overlay`` parses it with pynq's own parser and "downloads" it, which builds an
  :class:`~.axi_dma_model.AxiDmaModel` and an :class:`~.engine_model.EngineModel` at the
  manifest's addresses and wires the DMA's streams to the engine.
- **Recorder**: every register write and DMA transfer, in order (:mod:`.recorder`).
- **Faults**: :meth:`EmulatedDevice.inject_dma_fault` (hang, error bits).
"""
from __future__ import annotations

import collections
import contextlib
import copy
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pynq
from pynq.buffer import PynqBuffer

from ..boards.profiles import get_profile
from .axi_dma_model import AxiDmaModel, RegisterModel
from .engine_model import EngineModel
from .hwh import write_overlay_files
from .manifest import DMA_VLNV, OverlayManifest, load_manifest
from .recorder import Recorder
from .registers import ENGINE_VLNV

try:      # pynq 3.0.x ships its own copy of the runtime metadata parser
    from pynq.metadata.runtime_metadata_parser import RuntimeMetadataParser
except ImportError:      # pynq >= 3.1 takes it from pynqmetadata
    from pynqmetadata.views.runtime import RuntimeMetadataParser
from pynqmetadata.frontends import Metadata


class EmuBusError(RuntimeError):
    """An access to an address that no register model decodes, or an unaligned one."""


class _Block:
    __slots__ = ("handle", "phys", "nbytes", "host", "ddr")

    def __init__(self, handle: int, phys: int, nbytes: int, host: np.ndarray, ddr: np.ndarray) -> None:
        self.handle, self.phys, self.nbytes, self.host, self.ddr = handle, phys, nbytes, host, ddr


class EmulatedMemory:
    """Contiguous-memory allocator standing in for CMA/XRT (``device.default_memory``).

    Each buffer has a host copy (what the PynqBuffer wraps: the CPU's cached view) and, unless
    coherent, a separate "DDR" copy that the PL models read and write.
    """

    def __init__(self, device: "EmulatedDevice", base: int = 0x1000_0000, size: int = 0x1000_0000,
                 align: int = 4096) -> None:
        self.device, self.base, self.size, self.align = device, base, size, align
        self.blocks: "dict[int, _Block]" = {}
        self._next_handle = 1
        self.stats: "collections.Counter[str]" = collections.Counter()

    def allocate(self, shape, dtype, cacheable: bool = True, **kwargs) -> PynqBuffer:
        """What ``pynq.allocate(shape, dtype, target=device)`` calls."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        with self.device._lock:
            phys = self._find_gap(max(nbytes, 1))
            host = np.zeros(max(nbytes, 1), np.uint8)
            coherent = not cacheable or self.device.coherent
            ddr = host if coherent else np.zeros_like(host)
            handle = self._next_handle
            self._next_handle += 1
            self.blocks[handle] = _Block(handle, phys, nbytes, host, ddr)
            self.stats["allocated"] += 1
        buf = PynqBuffer(shape, dtype, buffer=host, device=self.device, device_address=phys,
                         bo=handle, coherent=coherent)
        # freebuffer()/__exit__/__del__ call return_to.return_pointer(pointer); pynq's other
        # free branch munmaps once pointer is 0 (a second free): mark that as done already.
        buf.memory, buf.pointer, buf.return_to = self, handle, self
        buf.freed = True
        return buf

    def return_pointer(self, handle: int) -> None:
        with self.device._lock:
            if self.blocks.pop(handle, None) is not None:
                self.stats["freed"] += 1

    def _find_gap(self, nbytes: int) -> int:
        addr = self.base
        for b in sorted(self.blocks.values(), key=lambda b: b.phys):
            if b.phys - addr >= nbytes:
                break
            addr = max(addr, -(-(b.phys + max(b.nbytes, 1)) // self.align) * self.align)
        if addr + nbytes > self.base + self.size:
            raise MemoryError(f"emulated contiguous memory exhausted ({nbytes} bytes requested, "
                              f"{self.live_bytes} live)")
        return addr

    def lookup(self, phys: int, nbytes: int) -> "Optional[tuple[_Block, int]]":
        """``(block, offset)`` of the live buffer holding ``[phys, phys + nbytes)``, or None."""
        for b in self.blocks.values():
            if b.phys <= phys and phys + nbytes <= b.phys + b.nbytes:
                return b, phys - b.phys
        return None

    @property
    def live_buffers(self) -> int:
        """Buffers allocated and not yet freed (the leak counter)."""
        return len(self.blocks)

    @property
    def live_bytes(self) -> int:
        return sum(b.nbytes for b in self.blocks.values())


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
        self.manifest = manifest or load_manifest(self.profile.name)
        self.memory = EmulatedMemory(self)
        self.recorder = Recorder(enabled=record)
        self.regions: "list[tuple[int, int, RegisterModel, str]]" = []
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
            self.regions = [r for r in self.regions if not getattr(r[2], "_from_hwh", False)]
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
        for b, s, _, n in self.regions:
            if base < b + s and b < base + size:
                raise ValueError(f"region 0x{base:x} overlaps 0x{b:x} ({n})")
        self.regions.append((base, size, model, name or f"0x{base:x}"))
        return model

    def _decode(self, address: int) -> "tuple[RegisterModel, int, str]":
        for base, size, model, name in self.regions:
            if base <= address < base + size:
                return model, address - base, name
        raise EmuBusError(f"no register model at 0x{address:08x}")

    def read_registers(self, address: int, length: int) -> bytes:
        t0 = time.perf_counter()
        with self._lock:
            out = bytearray()
            for a in range(address & ~3, address + length, 4):
                model, offset, _ = self._decode(a)
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
                model, offset, name = self._decode(address + i)
                value = int.from_bytes(data[i:i + 4], "little")
                self.recorder.write(name, offset, value)
                model.write(offset, value)
                self.stats["writes"] += 1
                self.tick()
            self.model_s += time.perf_counter() - t0

    def tick(self) -> None:
        """One step for every model, then let data flow until nothing moves."""
        progress = any([m.tick(True) for _, _, m, _ in self.regions])
        for _ in range(1000):
            if not progress:
                return
            progress = any([m.tick(False) for _, _, m, _ in self.regions])

    # ---- memory -----------------------------------------------------------------------
    @property
    def default_memory(self) -> EmulatedMemory:
        return self.memory

    def get_memory(self, description) -> EmulatedMemory:
        return self.memory

    def allocate(self, shape, dtype, **kwargs) -> PynqBuffer:
        return self.memory.allocate(shape, dtype, **kwargs)

    def _live(self, bo: int) -> _Block:
        block = self.memory.blocks.get(bo)
        if block is None:
            raise RuntimeError(f"cache operation on a freed buffer (bo={bo!r})")
        return block

    def flush(self, bo: int, offset: int, ptr: int, size: int) -> None:
        """PynqBuffer.flush(): CPU cache to DDR."""
        b = self._live(bo)
        b.ddr[offset:offset + size] = b.host[offset:offset + size]
        self.memory.stats["flush"] += 1

    def invalidate(self, bo: int, offset: int, ptr: int, size: int) -> None:
        """PynqBuffer.invalidate(): DDR to the CPU's view."""
        b = self._live(bo)
        b.host[offset:offset + size] = b.ddr[offset:offset + size]
        self.memory.stats["invalidate"] += 1

    def dma_read(self, phys: int, nbytes: int) -> "bytes | None":
        """Bytes a PL bus master reads at ``phys``; None if no live buffer holds the range."""
        hit = self.memory.lookup(phys, nbytes)
        if hit is None:
            return None
        b, off = hit
        return b.ddr[off:off + nbytes].tobytes()

    def dma_write(self, phys: int, data: bytes) -> bool:
        """A PL bus master writes ``data`` at ``phys``; False if no live buffer holds the range."""
        hit = self.memory.lookup(phys, len(data))
        if hit is None:
            return False
        b, off = hit
        b.ddr[off:off + len(data)] = np.frombuffer(data, np.uint8)
        return True

    def record_transfer(self, channel: str, address: int, length: int, data: bytes,
                        error: "str | None") -> None:
        """Called by the DMA model at the end of every transfer."""
        self.recorder.transfer(channel, address, length, data, error)
