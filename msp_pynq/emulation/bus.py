"""The emulated board's bus: 32-bit register models, AXI4-Stream links and address decode.

One bus access is the emulation's unit of time: after each, :meth:`RegisterBus.tick` steps every
model once and then lets data flow between them until nothing moves.
"""
from __future__ import annotations

import collections


class EmuBusError(RuntimeError):
    """An access to an address that no register model decodes, or an unaligned one."""


class RegisterModel:
    """A 32-bit register file; subclasses override :meth:`read`, :meth:`write`, :meth:`tick`.

    The device calls ``tick(True)`` on every model after each bus access (one access is the
    emulation's unit of time), then ``tick(False)`` until no model reports progress, so data
    can flow between models within one access.
    """

    def __init__(self, size: int = 0x10000) -> None:
        self.size = size
        self.regs: "dict[int, int]" = collections.defaultdict(int)

    def read(self, offset: int) -> int:
        return self.regs[offset]

    def write(self, offset: int, value: int) -> None:
        self.regs[offset] = value & 0xFFFFFFFF

    def tick(self, new_cycle: bool) -> bool:
        return False


class AxisFifo:
    """An AXI4-Stream link as a queue of packets (``bytes``, each ending in TLAST)."""

    def __init__(self, maxlen: "int | None" = None) -> None:
        self.packets: "collections.deque[bytes]" = collections.deque()
        self.maxlen = maxlen

    def can_push(self) -> bool:
        return self.maxlen is None or len(self.packets) < self.maxlen

    def push(self, data: bytes) -> None:
        self.packets.append(bytes(data))

    def pop(self) -> "bytes | None":
        return self.packets.popleft() if self.packets else None

    def clear(self) -> None:
        self.packets.clear()

    def __len__(self) -> int:
        return len(self.packets)


class RegisterBus:
    """Address decode: which register model answers at each address of the PL's window."""

    def __init__(self) -> None:
        self.regions: "list[tuple[int, int, RegisterModel, str]]" = []

    def map(self, base: int, size: int, model: RegisterModel, name: str = "") -> RegisterModel:
        """Decode ``[base, base + size)`` to ``model``."""
        for b, s, _, n in self.regions:
            if base < b + s and b < base + size:
                raise ValueError(f"region 0x{base:x} overlaps 0x{b:x} ({n})")
        self.regions.append((base, size, model, name or f"0x{base:x}"))
        return model

    def unmap_if(self, predicate) -> None:
        """Drop the regions whose model satisfies ``predicate``."""
        self.regions = [r for r in self.regions if not predicate(r[2])]

    def decode(self, address: int) -> "tuple[RegisterModel, int, str]":
        """``(model, offset, region name)`` of ``address``; :class:`EmuBusError` where none decodes."""
        for base, size, model, name in self.regions:
            if base <= address < base + size:
                return model, address - base, name
        raise EmuBusError(f"no register model at 0x{address:08x}")

    def tick(self) -> None:
        """One step for every model, then let data flow until nothing moves."""
        progress = any([m.tick(True) for _, _, m, _ in self.regions])
        for _ in range(1000):
            if not progress:
                return
            progress = any([m.tick(False) for _, _, m, _ in self.regions])
