"""The Verilog engine (hw_src/rtl/msp_engine.v) under cocotb + Icarus Verilog: the committed
ResNet-20 bundle's layers, replayed from the runtime's recorded transfers, bit for bit."""
import json
import os
import shutil
from pathlib import Path

import pytest

from msp_pynq.boards.profiles import get_profile
from msp_pynq.bundle.model import engine_fingerprint

ROOT = Path(__file__).resolve().parents[2]
RTL = ROOT / "hw_src" / "rtl"
BUNDLE = ROOT / "models" / "resnet20-msp8-exact.{board}.mspb"

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None,
                                reason="Icarus Verilog not installed (make test installs it)")


def engine_generics(board: str) -> dict:
    """The msp_engine generics of a board: its profile (what overlays/<board>/manifest.json lists)."""
    p = get_profile(board)
    return {"VECTOR_WIDTH": p.vector_width, "LUT_ROWS": p.lut_rows, "DSP_ROWS": p.dsp_rows,
            "ACT_BUF_KIB": p.act_buffer_kib, "WGT_BUF_KIB": p.weight_buffer_kib,
            "FINGERPRINT": int(engine_fingerprint(p)[:8], 16), "CLOCK_KHZ": int(round(p.clock_mhz * 1000))}


def simulate(board: str, replay_file: Path, layers: str, build_dir: Path) -> list:
    """Run tb_engine on ``layers`` of ``replay_file``; returns its per-layer results."""
    from cocotb_tools.runner import get_results, get_runner
    runner = get_runner("icarus")
    runner.build(sources=sorted(RTL.glob("*.v")), hdl_toplevel="msp_engine", build_dir=build_dir,
                 timescale=("1ns", "1ps"), parameters=engine_generics(board))
    out = build_dir / "replay_results.json"
    results = runner.test(hdl_toplevel="msp_engine", test_module="tb_engine", build_dir=build_dir,
                          test_dir=Path(__file__).parent, results_xml=str(build_dir / "results.xml"),
                          extra_env={"PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).parent)]),
                                     "MSP_REPLAY": str(replay_file), "MSP_REPLAY_LAYERS": layers,
                                     "MSP_REPLAY_OUT": str(out)})
    total, failed = get_results(results)
    assert total >= 1 and failed == 0, f"tb_engine: {failed} of {total} cocotb tests failed"
    return json.loads(out.read_text())
