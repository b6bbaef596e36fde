"""RTL arithmetic units simulated with Icarus Verilog under cocotb, compared with the contract."""
import shutil
from pathlib import Path

import pytest

from msp_pynq.boards.profiles import get_profile
from msp_pynq.engine.geometry import engine_generics
from msp_pynq.hw.simulate import INCLUDES

ROOT = Path(__file__).resolve().parents[2]
RTL = ROOT / "hw_src" / "rtl"

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None,
                                reason="Icarus Verilog not installed (make test installs it)")


# Each unit's sources: the module and the modules it instantiates.
SOURCES = {
    "msp_requant": ["msp_requant"],
    "msp_sp2_mul": ["msp_sp2_mul"],
    "msp_lut_row": ["msp_lut_row", "msp_sp2_mul", "msp_adder_tree"],
    "msp_dsp_pair": ["msp_dsp_pair", "msp_adder_tree"],
    "msp_mac_array": ["msp_mac_array", "msp_lut_row", "msp_dsp_pair", "msp_sp2_mul", "msp_adder_tree"],
    "msp_regs": ["msp_regs"],
    "msp_stream_rx": ["msp_stream_rx"],
    "msp_stream_tx": ["msp_stream_tx"],
    "msp_window_gen": ["msp_window_gen"],
}
# Simulation sizes (synthesis uses the boards' geometry, tests/hdl/test_synth.py).
PARAMETERS = {"msp_lut_row": {"VW": 16}, "msp_dsp_pair": {"VW": 16},
              "msp_mac_array": {"VW": 4, "LUT_ROWS": 3, "DSP_ROWS": 4, "GROUP": 2},
              # variants "toplevel:name": the same module with other generics
              "msp_dsp_pair:piped": {"VW": 16, "PIPE": 1},
              "msp_lut_row:piped": {"VW": 16, "PIPE": 1},
              "msp_mac_array:dsp_only": {"VW": 4, "LUT_ROWS": 0, "DSP_ROWS": 4},
              "msp_mac_array:lut_only": {"VW": 4, "LUT_ROWS": 2, "DSP_ROWS": 0},
              "msp_regs": engine_generics(get_profile("pynq-z2"))}     # the register block reports the profile


@pytest.mark.parametrize("toplevel, testcase", [
    ("msp_regs", "tb_regs"),
    ("msp_stream_rx", "tb_stream"),
    ("msp_stream_tx", "tb_stream_tx"),
    ("msp_window_gen", "tb_window"),
    ("msp_requant", "requant_matches_contract"),
    ("msp_sp2_mul", "sp2_mul_matches_decode"),
    ("msp_lut_row", "lut_row_matches_numerics"),
    ("msp_lut_row:piped", "lut_row_pipelined_streams"),
    ("msp_dsp_pair", "dsp_pair_splits_two_rows"),
    ("msp_dsp_pair:piped", "dsp_pair_pipelined_streams"),
    ("msp_mac_array", "mac_array_accumulates_rows"),
    ("msp_mac_array:dsp_only", "mac_array_accumulates_rows"),
    ("msp_mac_array:lut_only", "mac_array_accumulates_rows"),
])
def test_rtl_unit(toplevel, testcase, tmp_path):
    from cocotb_tools.runner import get_results, get_runner

    runner = get_runner("icarus")
    variant, toplevel = toplevel, toplevel.split(":")[0]
    runner.build(sources=[RTL / f"{name}.v" for name in SOURCES[toplevel]], includes=list(INCLUDES),
                 hdl_toplevel=toplevel, build_dir=tmp_path, timescale=("1ns", "1ps"),
                 parameters=PARAMETERS.get(variant, {}))
    module, testcase = (testcase, None) if testcase.startswith("tb_") else ("tb_units", testcase)
    results = runner.test(hdl_toplevel=toplevel, test_module=module, testcase=testcase,
                          build_dir=tmp_path, test_dir=Path(__file__).parent, results_xml=str(tmp_path / "results.xml"))
    total, failed = get_results(results)
    assert total >= 1 and failed == 0, f"{module}: {failed} of {total} cocotb tests failed"
