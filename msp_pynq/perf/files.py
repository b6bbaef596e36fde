"""The committed figures the performance notebook shows: peers, resources, accuracy.

Each loader takes a path, or finds the repository file with :func:`msp_pynq.jupyter.find_file`,
and checks the fields it needs: a missing or malformed file is an error that names it.

>>> peers = load_peers()
>>> [p.fps for p in peers if p.system == "finn-examples CNV-W1A1"]
[3020.0]
>>> sorted(load_resources())
['pynq-z2', 'zcu104']
>>> load_accuracy("resnet20-msp8-exact.pynq-z2.mspb")
87.86

Numpy-free and matplotlib-free (board side).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

PEERS_FILE = "docs/peers.json"
RESOURCES_FILE = "docs/resources.json"
ACCURACY_FILE = "docs/results/cifar10_agreement.json"

# Units a peer's figure may have, and how each becomes images per second.
_TO_FPS = {"img/s": lambda v: v, "fps": lambda v: v, "ms/image": lambda v: 1e3 / v}


class FigureFileError(ValueError):
    """A figures file that exists but does not hold what its loader needs."""


def read_json(path: "str | Path | None", default: str) -> "tuple[Path, object]":
    """``(path, parsed JSON)`` of ``path``, or of the repository file ``default`` when None."""
    from ..datafiles import find_file
    where = Path(path) if path is not None else find_file(default)
    if not where.is_file():
        raise FileNotFoundError(f"{where}: no such file")
    try:
        return where, json.loads(where.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FigureFileError(f"{where}: not valid JSON ({exc})") from None


def percent_text(value: float) -> str:
    """``89.0%``, ``70.47%``: at least one decimal, as the figures are published."""
    return f"{value:.1f}%" if round(value, 1) == value else f"{value:g}%"


@dataclass(frozen=True)
class Peer:
    """One published figure of a project users compare msp-pynq with (``docs/peers.json``)."""

    system: str
    board: str
    model: "str | None"
    dataset: "str | None"
    figure: "float | None"          # the published number, in ``unit`` (None: accuracy only)
    unit: "str | None"              # "img/s", "fps" or "ms/image"
    accuracy_pct: "float | None"    # top-1, percent
    clock_mhz: "float | None"
    approximate: bool               # the brief says "about"
    source: str
    note: str

    @property
    def fps(self) -> "float | None":
        """The figure as images per second (a latency is inverted), None without a figure."""
        return None if self.figure is None else float(_TO_FPS[self.unit](self.figure))

    @property
    def figure_text(self) -> str:
        """The figure as published, e.g. ``about 632 img/s`` (empty without a figure)."""
        if self.figure is None:
            return ""
        return ("about " if self.approximate else "") + f"{self.figure:,g} {self.unit}"


def load_peers(path: "str | Path | None" = None) -> "list[Peer]":
    """The peers' published figures, in file order (default ``docs/peers.json``)."""
    where, data = read_json(path, PEERS_FILE)
    entries = data.get("peers") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise FigureFileError(f"{where}: expected an object with a non-empty list 'peers'")
    fields = list(Peer.__dataclass_fields__)
    peers = []
    for i, entry in enumerate(entries):
        missing = [f for f in fields if not isinstance(entry, dict) or f not in entry]
        if missing:
            raise FigureFileError(f"{where}: peers[{i}] lacks {', '.join(missing)}")
        peer = Peer(**{f: entry[f] for f in fields})
        if peer.figure is not None and (peer.unit not in _TO_FPS or not peer.figure > 0):
            raise FigureFileError(f"{where}: peers[{i}] ({peer.system}): figure {peer.figure!r} {peer.unit!r}; "
                                  f"expected a positive number in one of {', '.join(_TO_FPS)}")
        peers.append(peer)
    return peers


def load_resources(path: "str | Path | None" = None) -> dict:
    """``docs/resources.json`` (written by ``scripts/hw_resources.py``): per board, the device's
    capacity, the synthesis runs (``runs["mixed"]``, ``runs["dsp-only"]``) and MACs per cycle."""
    where, data = read_json(path, RESOURCES_FILE)
    if not isinstance(data, dict) or not data:
        raise FigureFileError(f"{where}: expected an object with one entry per board")
    for board, entry in data.items():
        for keys in (("device", "luts"), ("device", "dsps"), ("device", "bram36"), ("device", "ffs"),
                     ("runs", "mixed", "summary"), ("runs", "dsp-only", "summary"),
                     ("macs_per_cycle", "mixed", "total4"), ("macs_per_cycle", "dsp-only", "total4")):
            node = entry
            for key in keys:
                if not isinstance(node, dict) or key not in node:
                    raise FigureFileError(f"{where}: board {board!r} lacks {'.'.join(keys)}")
                node = node[key]
    return data


def load_accuracy(bundle: str, path: "str | Path | None" = None) -> "float | None":
    """Top-1 accuracy in percent of a committed bundle (by file name) on the CIFAR-10 validation
    split, as the emulator measured it (``docs/results/cifar10_agreement.json``); None when the
    file lists no such bundle."""
    where, data = read_json(path, ACCURACY_FILE)
    if not isinstance(data, list):
        raise FigureFileError(f"{where}: expected a list of runs")
    name = Path(bundle).name
    for run in data:
        for board in (run.get("boards") or {}).values() if isinstance(run, dict) else ():
            if board.get("bundle") == name and "emulator_acc" in board:
                return round(100.0 * board["emulator_acc"], 2)
    return None
