"""Yosys synth_xilinx on the RTL units: SP2 arithmetic in LUTs only, fixed-point products in DSP slices."""
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

RTL = Path(__file__).resolve().parents[2] / "hw_src" / "rtl"

pytestmark = pytest.mark.skipif(shutil.which("yosys") is None,
                                reason="Yosys not installed (make test installs it)")


def synth_cells(top: str, family: str, *deps: str) -> dict:
    """Cell counts by type of the synthesized design, from Yosys's ``stat -json``."""
    files = " ".join(str(RTL / f"{name}.v") for name in (top, *deps))
    with tempfile.TemporaryDirectory() as tmp:
        stat = Path(tmp) / "stat.json"
        script = (f"read_verilog {files}; synth_xilinx -flatten -top {top} -family {family}; "
                  f"tee -q -o {stat} stat -json")
        subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True, timeout=300, check=True)
        return json.loads(stat.read_text())["design"]["num_cells_by_type"]


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
