#!/usr/bin/env python3
"""Write ``hw_src/vivado/boards/<board>.tcl`` from ``overlays/<board>/manifest.json``.

The manifest is the one source of the overlay's board-specific values (part, PS ports, fabric
clock, IP names, base addresses and ranges, AXI DMA parameters, engine generics); the Vivado
build (``build_overlay.tcl``) reads them from the file this script writes. Standard library
only, so it runs on a Vivado machine without the project's environment.

    python3 hw_src/vivado/board_tcl.py             # rewrite every board's file
    python3 hw_src/vivado/board_tcl.py --check     # exit 1 if a file differs (make overlay runs it)
    python3 hw_src/vivado/board_tcl.py zcu104      # one board

``tests/hdl/test_vivado_scripts.py`` checks the written values against the manifest, the board
profile and the register map, and the build script's use of them.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ROOT / "overlays"
BOARDS_DIR = Path(__file__).resolve().parent / "boards"
DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
ENGINE_VLNV = "msp-pynq:rtl:msp_engine:1.0"
#: Manifest parameters of the engine that are fixed in the RTL, not generics of msp_engine.
ENGINE_FIXED = ("VERSION", "STREAM_WIDTH")

_PLAIN = re.compile(r"^[A-Za-z0-9_.:/+-]+$")


def _word(value) -> str:
    """A Tcl word for ``value``: bare where that is safe, else braced."""
    text = str(value)
    if _PLAIN.match(text):
        return text
    if any(c in text for c in "{}\\\n"):
        raise ValueError(f"value {text!r} cannot be written as a Tcl word here")
    return "{" + text + "}"


def _hex(value: str) -> str:
    return f"0x{int(value, 16):08X}"


def _one_ip(manifest: dict, vlnv: str, path: Path) -> "tuple[str, dict]":
    found = [(name, ip) for name, ip in manifest["ip"].items() if ip["vlnv"] == vlnv]
    if len(found) != 1:
        raise SystemExit(f"{path}: expected one {vlnv} IP, found {len(found)}")
    return found[0]


def render(board: str, overlays: Path = OVERLAYS) -> str:
    """The text of ``boards/<board>.tcl`` for ``overlays/<board>/manifest.json``."""
    path = overlays / board / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    if m["board"] != board:
        raise SystemExit(f"{path}: manifest of board {m['board']!r}, not {board!r}")
    dma_name, dma = _one_ip(m, DMA_VLNV, path)
    engine_name, engine = _one_ip(m, ENGINE_VLNV, path)
    if len(m["ip"]) != 2:
        raise SystemExit(f"{path}: build_overlay.tcl builds an AXI DMA and the engine, "
                         f"the manifest lists {sorted(m['ip'])}")
    if m["interrupts"]:
        raise SystemExit(f"{path}: build_overlay.tcl wires no interrupt, the manifest lists "
                         f"{m['interrupts']}")
    ps, clk = m["processing_system"], m["fabric_clock"]
    generics = {k: v for k, v in engine["parameters"].items() if k not in ENGINE_FIXED}
    streams = [(s["from"], s["to"]) for s in m["streams"]]

    def ip_values(role: str, name: str, ip: dict) -> list:
        return [(f"{role}_instance", name), (f"{role}_vlnv", ip["vlnv"]),
                (f"{role}_interface", ip["interface"]), (f"{role}_base", _hex(ip["base_address"])),
                (f"{role}_range", _hex(ip["range"]))]

    # (comment, [(variable, value)], dict variable or None, its items)
    sections = [
        (None, [("board", m["board"]), ("part", m["part"]), ("board_part", m["board_part"]),
                ("arch", m["systeminfo"]["arch"]), ("bitstream_file", m["files"]["bitstream"]),
                ("hwh_file", m["files"]["hwh"])], None, None),
        ("Processing system and fabric clock",
         [("ps_instance", ps["instance"]), ("ps_vlnv", ps["vlnv"]),
          ("ps_control_master", ps["control_master"]), ("ps_data_slave", ps["data_slave"]),
          ("ps_data_width", ps["data_width"]), ("control_low", _hex(ps["control_window"][0])),
          ("control_high", _hex(ps["control_window"][1])), ("fclk_name", clk["name"]),
          ("fclk_mhz", clk["mhz"]), ("fclk_source", clk["source"]),
          ("fclk_divisor0", clk["divisor0"]), ("fclk_divisor1", clk["divisor1"])], None, None),
        ("AXI DMA (simple mode): its AXI4-Lite window on the control master",
         ip_values("dma", dma_name, dma), "dma_params", list(dma["parameters"].items())),
        ("The engine: its register window and generics (VERSION, STREAM_WIDTH are fixed in the RTL)",
         ip_values("engine", engine_name, engine), "engine_generics", list(generics.items())),
    ]
    lines = [
        f"# Board values of the {board} overlay for build_overlay.tcl.",
        f"# GENERATED from overlays/{board}/manifest.json by hw_src/vivado/board_tcl.py: do not edit;",
        "# change the manifest and run `python3 hw_src/vivado/board_tcl.py`.",
        "# tests/hdl/test_vivado_scripts.py checks every value against the manifest and the board profile.",
    ]
    for comment, values, dict_name, items in sections:
        lines += [""] + ([f"# {comment}"] if comment else [])
        lines += [f"set {name:<17} {_word(value)}" for name, value in values]
        if dict_name:
            width = max(len(k) for k, _ in items)
            lines += [f"set {dict_name} {{"] + [f"    {k:<{width}} {_word(v)}" for k, v in items] + ["}"]
    lines += ["", "# AXI4-Stream connections, from -> to", "set streams {"]
    lines += [f"    {{{_word(a)} {_word(b)}}}" for a, b in streams] + ["}"]
    return "\n".join(lines) + "\n"


def boards(overlays: Path = OVERLAYS) -> "list[str]":
    return sorted(p.parent.name for p in overlays.glob("*/manifest.json"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("boards", nargs="*", help="boards to write (default: every overlays/<board>/)")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if a file differs")
    args = parser.parse_args(argv)
    stale = []
    for board in args.boards or boards():
        text, target = render(board), BOARDS_DIR / f"{board}.tcl"
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
    for target in stale:
        print(f"{target.relative_to(ROOT)} differs from overlays/{target.stem}/manifest.json: "
              "run `python3 hw_src/vivado/board_tcl.py`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
