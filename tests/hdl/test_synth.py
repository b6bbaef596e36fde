"""Yosys synth_xilinx on the RTL units: SP2 arithmetic in LUTs only, fixed-point products in DSP slices."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

RTL = Path(__file__).resolve().parents[2] / "hw_src" / "rtl"

pytestmark = pytest.mark.skipif(shutil.which("yosys") is None,
                                reason="Yosys not installed (make test installs it)")


def synth_cells(top: str, family: str, *deps: str) -> dict:
    files = " ".join(str(RTL / f"{name}.v") for name in (top, *deps))
    script = f"read_verilog {files}; synth_xilinx -flatten -top {top} -family {family}; stat"
    out = subprocess.run(["yosys", "-p", script], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    stats = out[out.rindex("Number of cells"):]
    return {name: int(n) for name, n in re.findall(r"^\s+([A-Z]\w*)\s+(\d+)\s*$", stats, re.M)}


@pytest.mark.parametrize("family", ["xc7", "xcup"])
def test_sp2_multiplier_is_lut_only(family):
    cells = synth_cells("msp_sp2_mul", family)
    luts = sum(n for name, n in cells.items() if name.startswith("LUT"))
    assert not any(name.startswith("DSP") for name in cells), cells
    assert 0 < luts < 100, cells


@pytest.mark.parametrize("family", ["xc7", "xcup"])
def test_lut_core_row_uses_no_dsp(family):
    cells = synth_cells("msp_lut_row", family, "msp_sp2_mul", "msp_adder_tree")
    assert not any(name.startswith("DSP") for name in cells), cells


@pytest.mark.parametrize("family, dsp", [("xc7", "DSP48E1"), ("xcup", "DSP48E2")])
def test_two_fixed4_rows_share_each_dsp(family, dsp):
    cells = synth_cells("msp_dsp_pair", family, "msp_adder_tree")
    assert cells.get(dsp) == 16, cells                          # 32 fixed-4 MACs on 16 DSPs
