"""Yosys synth_xilinx on the RTL units: the SP2 multiplier must use LUTs only, never a DSP."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

RTL = Path(__file__).resolve().parents[2] / "hw_src" / "rtl"

pytestmark = pytest.mark.skipif(shutil.which("yosys") is None,
                                reason="Yosys not installed (make test installs it)")


def synth_cells(top: str, family: str) -> dict:
    script = f"read_verilog {RTL / (top + '.v')}; synth_xilinx -top {top} -family {family}; stat"
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
