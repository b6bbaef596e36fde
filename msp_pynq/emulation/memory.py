"""The emulated board's contiguous memory: what CMA / XRT give pynq on a board.

Buffers get physical addresses from a first-fit, 4 KiB-aligned allocator and are counted (the
leak counter ``live_buffers``). Each buffer has a host copy (what the PynqBuffer wraps: the CPU's
cached view) and, unless coherent, a separate "DDR" copy that the PL's bus masters read and
write, so that a missing flush or invalidate shows as stale data, as on a Zynq.
"""
from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Optional

import numpy as np
from pynq.buffer import PynqBuffer

from ..numerics.bounds import ceil_div

if TYPE_CHECKING:
    from .device import EmulatedDevice


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
            addr = max(addr, ceil_div(b.phys + max(b.nbytes, 1), self.align) * self.align)
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

    # ---- cache model (PynqBuffer.flush / invalidate) -----------------------------------------
    def live(self, bo: int) -> _Block:
        block = self.blocks.get(bo)
        if block is None:
            raise RuntimeError(f"cache operation on a freed buffer (bo={bo!r})")
        return block

    def flush(self, bo: int, offset: int, size: int) -> None:
        """CPU cache to DDR."""
        b = self.live(bo)
        b.ddr[offset:offset + size] = b.host[offset:offset + size]
        self.stats["flush"] += 1

    def invalidate(self, bo: int, offset: int, size: int) -> None:
        """DDR to the CPU's view."""
        b = self.live(bo)
        b.host[offset:offset + size] = b.ddr[offset:offset + size]
        self.stats["invalidate"] += 1

    # ---- the PL's bus masters ----------------------------------------------------------------
    def read_ddr(self, phys: int, nbytes: int) -> "bytes | None":
        """Bytes a PL bus master reads at ``phys``; None if no live buffer holds the range."""
        hit = self.lookup(phys, nbytes)
        if hit is None:
            return None
        b, off = hit
        return b.ddr[off:off + nbytes].tobytes()

    def write_ddr(self, phys: int, data: bytes) -> bool:
        """A PL bus master writes ``data`` at ``phys``; False if no live buffer holds the range."""
        hit = self.lookup(phys, len(data))
        if hit is None:
            return False
        b, off = hit
        b.ddr[off:off + len(data)] = np.frombuffer(data, np.uint8)
        return True
