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
    "msp_requant_pipe": ["msp_requant"],
    "msp_output_stage": ["msp_output_stage", "msp_requant"],
    "msp_sp2_mul": ["msp_sp2_mul"],
    "msp_lut_row": ["msp_lut_row", "msp_sp2_mul", "msp_adder_tree"],
    "msp_dsp_pair": ["msp_dsp_pair", "msp_adder_tree"],
    "msp_mac_array": ["msp_mac_array", "msp_lut_row", "msp_dsp_pair", "msp_sp2_mul", "msp_adder_tree"],
    "msp_regs": ["msp_regs"],
    "msp_stream_rx": ["msp_stream_rx", "msp_axis_slice"],
    "msp_stream_tx": ["msp_stream_tx", "msp_axis_slice"],
    "msp_window_gen": ["msp_window_gen"],
    "msp_add_unit": ["msp_add_unit"],
    "msp_act_writer": ["msp_act_writer", "msp_range_check"],
}
# Simulation sizes (synthesis uses the boards' geometry, tests/hdl/test_synth.py).
PARAMETERS = {"msp_lut_row": {"VW": 16}, "msp_dsp_pair": {"VW": 16},
              "msp_mac_array": {"VW": 4, "LUT_ROWS": 3, "DSP_ROWS": 4, "GROUP": 2},
              # variants "toplevel:name": the same module with other generics
              "msp_dsp_pair:piped": {"VW": 16, "PIPE": 1},
              "msp_lut_row:piped": {"VW": 16, "PIPE": 1},
              "msp_lut_row:vw32": {"VW": 32, "PIPE": 1},      # four correction terms
              "msp_dsp_pair:vw32": {"VW": 32, "PIPE": 1},     # the trees' padding register
              "msp_mac_array:dsp_only": {"VW": 4, "LUT_ROWS": 0, "DSP_ROWS": 4},
              "msp_mac_array:lut_only": {"VW": 4, "LUT_ROWS": 2, "DSP_ROWS": 0},
              "msp_output_stage": {"VW": 4, "LUT_ROWS": 3, "DSP_ROWS": 4, "MAX_ROWS": 64},
              "msp_add_unit": {"VW": 16}, "msp_add_unit:vw32": {"VW": 32, "AW": 12},
              "msp_act_writer": {"VW": 16}, "msp_act_writer:vw32": {"VW": 32, "AW": 12},
              "msp_regs": engine_generics(get_profile("pynq-z2"))}     # the register block reports the profile


@pytest.mark.parametrize("toplevel, testcase", [
    ("msp_regs", "tb_regs"),
    ("msp_stream_rx", "tb_stream"),
    ("msp_stream_tx", "tb_stream_tx"),
    ("msp_window_gen", "tb_window"),
    ("msp_output_stage", "tb_output_stage"),
    ("msp_requant", "requant_matches_contract"),
    ("msp_requant_pipe", "requant_pipe_matches_contract"),
    ("msp_sp2_mul", "sp2_mul_matches_decode"),
    ("msp_lut_row", "lut_row_matches_numerics"),
    ("msp_lut_row:piped", "lut_row_pipelined_streams"),
    ("msp_dsp_pair", "dsp_pair_splits_two_rows"),
    ("msp_dsp_pair:piped", "dsp_pair_pipelined_streams"),
    ("msp_lut_row:vw32", "lut_row_pipelined_streams"),
    ("msp_dsp_pair:vw32", "dsp_pair_pipelined_streams"),
    ("msp_mac_array", "mac_array_accumulates_rows"),
    ("msp_mac_array:dsp_only", "mac_array_accumulates_rows"),
    ("msp_mac_array:lut_only", "mac_array_accumulates_rows"),
    ("msp_add_unit", "tb_add_unit"),
    ("msp_add_unit:vw32", "tb_add_unit"),
    ("msp_act_writer", "tb_act_writer"),
    ("msp_act_writer:vw32", "tb_act_writer"),
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
                          build_dir=tmp_path, test_dir=Path(__file__).parent, results_xml=str(tmp_path / "results.xml"),
                          extra_env={"MSP_TB_VW": str(PARAMETERS.get(variant, {}).get("VW", 16))})
    total, failed = get_results(results)
    assert total >= 1 and failed == 0, f"{module}: {failed} of {total} cocotb tests failed"


def _requant_pipe_steps(acc: int, m: int, s: int, signed: bool, bits: int) -> int:
    """msp_requant_pipe's integer steps (hw_src/rtl/msp_requant.v), in Python."""
    a_lo, a_hi = acc & 0x1FFFF, acc >> 17                   # acc = a_hi * 2^17 + a_lo
    plo, phi = a_lo * m, a_hi * m
    assert 0 <= plo < 2**33 and -2**30 <= phi < 2**30        # an 18x17 and a 15x17 DSP product
    prod = (phi + (plo >> 17)) * 2**17 + (plo & 0x1FFFF)
    t = (2 * prod) >> (8 * (s >> 3))                         # step 5: a byte shift
    slo = s & 7
    x = t >> slo                                             # step 6: floor(2 acc m / 2^s)
    inr = -2**(9 + slo) <= t < 2**(9 + slo)                  # x fits 10 signed bits
    lo, hi = (-128, 127) if signed else (0, (1 << bits) - 1)
    if not inr:
        return lo if t < 0 else hi
    x10 = ((x + 512) & 1023) - 512
    return lo if x10 < 2 * lo - 1 else hi if x10 > 2 * hi else (x10 + 1) >> 1


def test_requant_pipe_steps_match_the_contract():
    """The pipelined formulation, y = sat((2 acc m >> s) + 1) >> 1 without the 49-bit rounding add,
    against numerics.requantize: edge cases (ties, the saturation bounds, every shift) and random ones."""
    import random

    import numpy as np
    from hypothesis import given, settings, strategies as st

    from msp_pynq.numerics.activations import S8, U4, U5, U8
    from msp_pynq.numerics.requant import requantize
    rng = random.Random(5)
    cases = [(a, m, s) for a in (0, 1, -1, 2, -2, 2**31 - 1, -2**31, 2**17 - 1, 2**17, -2**17, -2**17 - 1, 2**30)
             for m in (0, 1, 3, 32768, 65535) for s in range(48)]
    for s in range(1, 48):                                   # ties +- 1 around every output value's bounds
        for yv in (-129, -128, -127, -1, 0, 1, 15, 16, 31, 32, 127, 128, 255, 256):
            for m in (1, 3, 65535, rng.randint(1, 65535)):
                t = (yv * 2**s - 2**(s - 1)) // m
                cases += [(a, m, s) for a in (t - 1, t, t + 1, t + 2) if -2**31 <= a < 2**31]
    cases += [(rng.randint(-2**31, 2**31 - 1), rng.randint(0, 65535), rng.randint(0, 47)) for _ in range(20000)]
    cases += [(rng.randint(-2**14, 2**14), rng.randint(0, 65535) >> rng.randint(0, 15), rng.randint(0, 20))
              for _ in range(20000)]
    acc, ms, ss = (np.array(c, np.int64) for c in zip(*cases))
    for spec in (U4, U5, U8, S8):
        want = requantize(acc, ms, ss, spec)
        got = [_requant_pipe_steps(a, m, s, spec.signed, spec.bits) for a, m, s in cases]
        assert got == want.tolist(), spec

    @settings(max_examples=3000, deadline=None)
    @given(st.integers(-2**31, 2**31 - 1), st.integers(0, 65535), st.integers(0, 47), st.sampled_from([U4, U5, U8, S8]))
    def agrees(a, m, s, spec):
        assert _requant_pipe_steps(a, m, s, spec.signed, spec.bits) == int(requantize(np.array([a]), m, s, spec)[0])
    agrees()
