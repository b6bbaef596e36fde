"""A record of every register write and every DMA transfer on the emulated device.

The record is the runtime's side of the hardware contract, in order: replaying its engine
register writes and its MM2S packets against the Verilog engine (cocotb) must give the same
S2MM packets. Reads are not recorded (how often a driver polls is not part of the contract).

Events are dicts:

- ``{"kind": "write", "ip": "msp_engine_0", "offset": 0x100, "value": 1}``
- ``{"kind": "dma", "channel": "mm2s" | "s2mm", "address": ..., "length": ..., "data": bytes,
  "error": None | "hang" | "internal" | "slave" | "decode"}``

:meth:`Recorder.dump` writes them as JSON lines (``data`` in hex).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Optional


class Recorder:
    """Collects events while ``enabled``; ``mark()`` and ``since`` select one stretch of them."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self.events: "list[dict]" = []

    def write(self, ip: str, offset: int, value: int) -> None:
        if self.enabled:
            self.events.append({"kind": "write", "ip": ip, "offset": offset, "value": value})

    def transfer(self, channel: str, address: int, length: int, data: bytes,
                 error: Optional[str] = None) -> None:
        if self.enabled:
            self.events.append({"kind": "dma", "channel": channel, "address": address,
                                "length": length, "data": bytes(data), "error": error})

    def mark(self) -> int:
        """Position of the next event (pass it to the selectors as ``since``)."""
        return len(self.events)

    def clear(self) -> None:
        self.events.clear()

    def writes(self, ip: "str | None" = None, since: int = 0) -> "list[tuple[str, int, int]]":
        """``(ip, offset, value)`` of the register writes since ``since``, optionally of one IP."""
        return [(e["ip"], e["offset"], e["value"]) for e in self.events[since:]
                if e["kind"] == "write" and (ip is None or e["ip"] == ip)]

    def transfers(self, since: int = 0, channel: "str | None" = None) -> "list[dict]":
        """The DMA transfer events since ``since``, optionally of one channel."""
        return [e for e in self.events[since:]
                if e["kind"] == "dma" and (channel is None or e["channel"] == channel)]

    def dump(self, path: "str | Path", since: int = 0) -> int:
        """Write the events since ``since`` as JSON lines; returns how many."""
        events = self.events[since:]
        with open(path, "w", encoding="utf-8") as fh:
            for seq, e in enumerate(events):
                row = dict(e, seq=seq)
                if "data" in row:
                    row["data"] = row["data"].hex()
                fh.write(json.dumps(row) + "\n")
        return len(events)

    @staticmethod
    def load(path: "str | Path") -> "list[dict]":
        """Events written by :meth:`dump` (``data`` back to bytes)."""
        events = []
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            e = json.loads(line)
            if "data" in e:
                e["data"] = bytes.fromhex(e["data"])
            events.append(e)
        return events

    def __iter__(self) -> "Iterator[dict]":
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)
