"""Simulate the Verilog engine (hw_src/rtl) under cocotb with Icarus Verilog.

:func:`replay` runs the testbench ``tests/hdl/tb_engine.py`` on recorded layers
(:mod:`msp_pynq.hw.replay`) and returns each layer's result: bit-exactness and the RTL's
cycle count. Needs the ``hdl`` extra (cocotb, cocotbext-axi) and ``iverilog`` on PATH.

>>> results = replay("pynq-z2", "r20.jsonl", layers="0,3", build_dir="build/sim")   # doctest: +SKIP
>>> [(r["op"], r["bit_exact"], r["cycles"]) for r in results]                       # doctest: +SKIP
[('conv2d', True, 20345), ('add', True, 4106)]
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..boards.profiles import get_profile
from ..engine.geometry import engine_generics

ROOT = Path(__file__).resolve().parents[2]
RTL = ROOT / "hw_src" / "rtl"
TESTBENCH_DIR = ROOT / "tests" / "hdl"


def replay(board: str, replay_file: "str | Path", layers: str = "all", build_dir: "str | Path" = "build/sim",
           testcase: "str | None" = None) -> "list[dict]":
    """Run tb_engine on ``layers`` ("all" or "0,3,...") of ``replay_file``; returns its per-layer results.

    ``testcase`` picks one cocotb test of tb_engine (default: all of them). Raises AssertionError
    when a cocotb test fails (an output that differs, an error status, a timeout).
    """
    from cocotb_tools.runner import get_results, get_runner
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    runner = get_runner("icarus")
    runner.build(sources=sorted(RTL.glob("*.v")), hdl_toplevel="msp_engine", build_dir=build_dir,
                 timescale=("1ns", "1ps"), parameters=engine_generics(get_profile(board)))
    out = build_dir / "replay_results.json"
    out.unlink(missing_ok=True)
    results = runner.test(hdl_toplevel="msp_engine", test_module="tb_engine", testcase=testcase,
                          build_dir=build_dir, test_dir=TESTBENCH_DIR, results_xml=str(build_dir / "results.xml"),
                          extra_env={"PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTBENCH_DIR)]),
                                     "MSP_REPLAY": str(Path(replay_file).resolve()), "MSP_REPLAY_LAYERS": layers,
                                     "MSP_REPLAY_OUT": str(out), "MSP_BOARD": board})
    total, failed = get_results(results)
    found = json.loads(out.read_text()) if out.exists() else []
    if total < 1 or failed:
        raise AssertionError(f"tb_engine: {failed} of {total} cocotb tests failed; layer results: "
                             + "; ".join(f"{r['what']}: {r['status']}, bit-exact {r['bit_exact']}" for r in found))
    return found
