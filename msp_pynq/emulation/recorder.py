"""A record of every register write and every DMA transfer on the emulated device.

The record is the runtime's side of the hardware contract, in order: replaying its engine
register writes and its MM2S packets against the Verilog engine (cocotb) must give the same
S2MM packets. Reads are not recorded (how often a driver polls is not part of the contract).

Events are dicts:

- ``{"kind": "write", "ip": "msp_engine_0", "offset": 0x100, "value": 1}``
- ``{"kind": "dma", "channel": "mm2s" | "s2mm", "address": ..., "length": ..., "data": bytes,
  "error": None | "hang" | "internal" | "slave" | "decode"}``

:meth:`Recorder.dump` writes them as JSON lines (``data`` in hex); :meth:`Recorder.load` reads
them back with a size cap, refusing (:class:`msp_pynq.errors.MSPError`, naming the file, the line
and the field) anything that is not such an event.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from ..errors import MSPError
from ..fileio import atomic_output, read_bounded, show, strict_json

MAX_RECORD_BYTES = 256 << 20       # a ResNet-20 run records a few MB; a cap, not a limit in use
CHANNELS = ("mm2s", "s2mm")
ERRORS = (None, "hang", "internal", "slave", "decode")


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

    def writes(self, ip: "str | None" = None, since: int = 0) -> "list[tuple[str, int, int]]":
        """``(ip, offset, value)`` of the register writes since ``since``, optionally of one IP."""
        return [(e["ip"], e["offset"], e["value"]) for e in self.events[since:]
                if e["kind"] == "write" and (ip is None or e["ip"] == ip)]

    def dump(self, path: "str | Path", since: int = 0) -> int:
        """Write the events since ``since`` as JSON lines; returns how many."""
        events = self.events[since:]
        with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            for seq, e in enumerate(events):
                row = dict(e, seq=seq)
                if "data" in row:
                    row["data"] = row["data"].hex()
                fh.write(json.dumps(row) + "\n")
        return len(events)

    @staticmethod
    def load(path: "str | Path", max_bytes: int = MAX_RECORD_BYTES) -> "list[dict]":
        """Events written by :meth:`dump` (``data`` back to bytes); a file over ``max_bytes``,
        a line that is not JSON or an event with a missing or mistyped field is refused."""
        data = read_bounded(path, max_bytes, "recorder file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MSPError(f"{show(path)}: recorder file is not UTF-8 text (byte {exc.start})") from None
        return [_event(strict_json(line, f"{show(path)} line {n}"), f"{show(path)} line {n}")
                for n, line in enumerate(text.splitlines(), 1) if line.strip()]


_U32 = 1 << 32
_FIELDS = {"write": {"ip": str, "offset": int, "value": int},
           "dma": {"channel": str, "address": int, "length": int, "data": str}}


def _event(e, where: str) -> dict:
    """One dumped event, checked field by field (``data`` back to bytes)."""
    if not isinstance(e, dict):
        raise MSPError(f"{where}: expected an event object, found {type(e).__name__}")
    kind = e.get("kind")
    if kind not in _FIELDS:
        raise MSPError(f"{where}: field 'kind' is {show(repr(kind)[:60])}, expected 'write' or 'dma'")
    for key, typ in {**_FIELDS[kind], "seq": int}.items():
        if key not in e:
            raise MSPError(f"{where}: field {key!r} missing from a {kind!r} event")
        value = e[key]
        if not isinstance(value, typ) or isinstance(value, bool):
            raise MSPError(f"{where}: field {key!r} is {type(value).__name__} {show(repr(value)[:60])}, "
                           f"expected {typ.__name__}")
        if typ is int and not 0 <= value < (1 << 64 if key == "address" else _U32):
            raise MSPError(f"{where}: field {key!r} is {value}, out of range for a register or bus value")
    if kind == "dma":
        if e["channel"] not in CHANNELS:
            raise MSPError(f"{where}: field 'channel' is {show(repr(e['channel'])[:60])}, expected 'mm2s' or 's2mm'")
        if e.get("error") not in ERRORS:
            raise MSPError(f"{where}: field 'error' is {show(repr(e.get('error'))[:60])}, expected one of {ERRORS}")
        try:
            e["data"] = bytes.fromhex(e["data"])
        except ValueError:
            raise MSPError(f"{where}: field 'data' is not hex bytes") from None
    return e
