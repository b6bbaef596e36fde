#!/usr/bin/env python3
"""Replay a bundle's every layer on the Verilog engine (cocotb + Verilator or Icarus) and report the cycles.

Records what the runtime sends for one image on the emulated board, replays every layer on the
RTL (the cocotb testbench msp_pynq/hw/testbench/tb_engine.py), checks each output packet bit for bit and writes a report of the
RTL's cycles per layer beside the runtime's cycle model (msp_pynq.engine.cycles).

    python scripts/hw_replay.py --report docs/benchmarks/engine_cycles.md     # minutes (Verilator)
    python scripts/hw_replay.py --sim icarus --layers 0,3                      # four-state, slow
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from msp_pynq.boards.profiles import get_profile
from msp_pynq.engine.cycles import modelled_cycles
from msp_pynq.hw import replay
from msp_pynq.hw.simulate import replay as simulate

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=str(ROOT / "models" / "resnet20-msp8-exact.{board}.mspb"))
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--layers", default="all", help='"all" or comma-separated layer indices')
    ap.add_argument("--build-dir", default=str(ROOT / "runs" / "hw_replay"))
    ap.add_argument("--report", help="write a Markdown report here (and its .json beside it)")
    ap.add_argument("--sim", default="verilator", choices=("verilator", "icarus"), help="simulator (default verilator)")
    args = ap.parse_args(argv)
    bundle = args.bundle.format(board=args.board)
    build = Path(args.build_dir)
    build.mkdir(parents=True, exist_ok=True)
    layers = replay.record_bundle(bundle, args.board)
    replay.save(layers, build / "replay.jsonl")
    print(f"{len(layers)} layers recorded from {bundle}; simulating {args.layers} (progress: {build}/sim.log)")
    t0 = time.time()
    results = simulate(args.board, build / "replay.jsonl", args.layers, build,
                       testcase="replayed_layers_match_the_runtime", sim=args.sim)
    wall = time.time() - t0
    profile = get_profile(args.board)
    rows = []
    for r in results:
        model = modelled_cycles(layers[r["layer"]].descriptor, profile)
        rows.append(dict(r, model=model, error=(model - r["cycles"]) / r["cycles"]))
    rtl, mod = sum(r["cycles"] for r in rows), sum(r["model"] for r in rows)
    worst = max(abs(r["error"]) for r in rows)
    summary = (f"{len(rows)} layers, all bit-exact: {all(r['bit_exact'] for r in rows)}; RTL {rtl:,} cycles per "
               f"image = {rtl / profile.clock_mhz / 1000:.3f} ms at {profile.clock_mhz:g} MHz "
               f"({profile.clock_mhz * 1e6 / rtl:,.0f} images/s of engine time); model {mod:,} "
               f"({(mod - rtl) / rtl:+.1%}); worst layer {worst:.1%}; simulated in {wall:.0f} s")
    print(summary)
    if args.report:
        lines = [f"# Engine cycles: RTL simulation vs the runtime's cycle model ({args.board})", "",
                 f"`python scripts/hw_replay.py --board {args.board} --report {args.report}` replayed every layer "
                 f"of `{Path(bundle).relative_to(ROOT)}` (one image, as the runtime sends it) on the Verilog "
                 f"engine under {'Verilator' if args.sim == 'verilator' else 'Icarus Verilog'} and compared each output packet with the runtime's.", "",
                 summary + ".", "",
                 "| layer | what | bit-exact | RTL cycles | model cycles | model error |",
                 "|---:|---|:-:|---:|---:|---:|"]
        for r in rows:
            what = r["what"].split(": ", 1)[1]
            lines.append(f"| {r['layer']} | {what} | {'yes' if r['bit_exact'] else '**no**'} | {r['cycles']:,} | "
                         f"{r['model']:,} | {r['error']:+.1%} |")
        lines.append(f"| | **total** | | **{rtl:,}** | **{mod:,}** | **{(mod - rtl) / rtl:+.1%}** |")
        Path(args.report).write_text("\n".join(lines) + "\n", encoding="utf-8")
        Path(args.report).with_suffix(".json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
        print(f"wrote {args.report}")
    return 0 if all(r["bit_exact"] for r in rows) and worst <= 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
