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


def synth_dsp_registers(top: str, family: str, params: dict, *deps: str) -> list:
    """Per DSP cell of the synthesized design: its (AREG, BREG, MREG, PREG) parameters."""
    files = " ".join(str(RTL / f"{name}.v") for name in (top, *deps))
    chparam = "".join(f"chparam -set {k} {v} {top}; " for k, v in params.items())
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "net.json"
        script = f"read_verilog {files}; {chparam}synth_xilinx -flatten -top {top} -family {family}; write_json {out}"
        subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True, timeout=300, check=True)
        cells = json.loads(out.read_text())["modules"][top]["cells"].values()
        return [tuple(int(c["parameters"][k], 2) for k in ("AREG", "BREG", "MREG", "PREG"))
                for c in cells if c["type"].startswith("DSP")]


def test_pipelined_pair_packs_dsp_registers():
    """PIPE = 1: still 16 DSPs for VW = 16, each with its B and M pipeline registers inside.

    The register after M holds a lane pair's sum (two DSPs' products), so Yosys keeps it in the
    fabric (PREG = 0); the timing estimate and the resource figures count it there."""
    regs = synth_dsp_registers("msp_dsp_pair", "xc7", {"VW": 16, "PIPE": 1}, "msp_adder_tree")
    assert len(regs) == 16, regs
    assert all(r[1:3] == (1, 1) for r in regs), regs        # BREG, MREG
    # AREG: Yosys leaves the packed-weight register in fabric FFs (see docs/design/engine.md)
