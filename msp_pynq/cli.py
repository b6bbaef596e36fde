"""The ``msp-pynq`` command line.

    msp-pynq info                 # versions and every board profile
    msp-pynq info --board zcu104  # one board
"""
from __future__ import annotations

import argparse
import sys

from . import __version__
from .boards.profiles import PROFILES, get_profile, mixed_speedup, row_split, sp2_row_share
from .errors import MSPError


def _info(args: argparse.Namespace) -> int:
    import numpy as np
    print(f"msp-pynq {__version__}, numpy {np.__version__}, Python {sys.version.split()[0]}")
    names = [args.board] if args.board else list(PROFILES)
    for name in names:
        p = get_profile(name)
        d = p.device
        split = row_split(64, p, args.share_8bit)
        status = "measured" if p.costs.measured else "placeholder costs (not yet measured in hardware)"
        print(f"\n{p.name}: {p.board}, {d.part} @ {p.clock_mhz:g} MHz")
        print(f"  device     {d.luts:,} LUT, {d.ffs:,} FF, {d.dsps:,} DSP, {d.bram36} BRAM36"
              + (f", {d.uram} URAM" if d.uram else ""))
        print(f"  engine     LUT core {p.lut_macs_per_cycle} SP2 MAC/cycle ({p.lut_rows} rows x "
              f"{p.vector_width}), DSP core {p.dsp_macs_per_cycle} fixed-4 MAC/cycle "
              f"({p.dsp_rows} rows x {p.vector_width}); {status}")
        print(f"  row mix    SP2 share {sp2_row_share(p, args.share_8bit):.3f} with "
              f"{args.share_8bit:.0%} 8-bit rows; a 64-row layer: {split.sp2} SP2, {split.fixed4} "
              f"fixed-4, {split.fixed8} fixed-8; modelled speedup over DSP-only "
              f"{mixed_speedup(p, args.share_8bit):.2f}x")
        print(f"  host       {p.cpu}, DDR about {p.ddr_gbytes_per_s:g} GB/s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="msp-pynq", description="MSP quantized CNNs on PYNQ boards")
    parser.add_argument("--version", action="version", version=f"msp-pynq {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="versions and board profiles")
    info.add_argument("--board", help="one board (default: all)")
    info.add_argument("--share-8bit", type=float, default=0.05, help="share of 8-bit rows (default 0.05)")
    info.set_defaults(func=_info)
    return parser


def main(argv: "list[str] | None" = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MSPError as exc:
        print(f"msp-pynq: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
