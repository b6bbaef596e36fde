"""scripts/hw_resources.py on a tiny board: real Yosys runs, parsed cell counts, report and JSON."""
import dataclasses
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("yosys") is None,
                                reason="Yosys not installed (make test installs it)")


def _script():
    spec = importlib.util.spec_from_file_location("hw_resources", ROOT / "scripts" / "hw_resources.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module                 # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_parse_stat_sums_cell_classes():
    hw = _script()
    cells = {"CARRY4": 12, "DSP48E1": 4, "FDRE": 20, "FDSE": 1, "INV": 3, "LUT2": 30, "LUT6": 10,
             "RAM32M": 2, "RAMB18E1": 3, "RAMB36E1": 1}
    stat = {"creator": "Yosys 0.23", "invocation": "stat -json ",        # as Yosys's stat -json writes it
            "modules": {"\\msp_lut_row": {"num_cells": 5, "num_cells_by_type": {"LUT1": 5}},
                        "\\msp_mac_array": {"num_cells": 99, "num_cells_by_type": cells}},
            "design": {"num_cells": 99, "num_cells_by_type": cells}}
    assert hw.parse_stat(json.dumps(stat)) == cells                       # the whole design counts
    del stat["design"], stat["modules"]["\\msp_lut_row"]
    assert hw.parse_stat(json.dumps(stat)) == cells                       # no top: its only module
    with pytest.raises(ValueError):
        hw.parse_stat("Number of cells: 99")
    s = hw.summarize(cells)
    assert (s["lut_logic"], s["lut_memory"], s["lut_inv"], s["lut"]) == (43, 8, 3, 51)   # INV is a LUT1
    assert (s["ff"], s["dsp"], s["bram36"], s["carry"]) == (21, 4, 2.5, 12)


def test_tiny_board_end_to_end(tmp_path):
    hw = _script()
    base = hw.board_spec("pynq-z2")
    vw, lut_rows, dsp_rows = 4, 2, 2
    # a device with 8 DSPs: the DSP-only array gets 8 / (VW/2) = 4 slots
    geometry = dataclasses.replace(base.geometry, vector_width=vw, lut_rows=lut_rows, dsp_rows=dsp_rows)
    spec = dataclasses.replace(base, profile=dataclasses.replace(
        base.profile, geometry=geometry, device=dataclasses.replace(base.device, dsps=8)))
    lines = []
    board = hw.run_board(spec, "msp_mac_array", tmp_path / "runs", timeout_min=5, progress=lines.append)
    assert {"lut-probe", "dsp-probe", "mixed", "dsp-only"} <= set(board.runs), board.runs
    assert all(r.status == "ok" for r in board.runs.values()), lines
    runs = {r: board.runs[r].summary for r in board.runs}

    # one DSP per two fixed-4 products, none in the LUT core
    assert runs["mixed"]["dsp"] == vw * dsp_rows // 2
    assert runs["lut-probe"]["dsp"] == 0 and runs["lut-probe"]["lut"] > 0
    assert runs["dsp-probe"]["dsp"] == vw * hw.DSP_PROBE_ROWS // 2
    # registers: two banks of int32 accumulators per unit, and the pipeline's (inputs, terms, trees)
    assert runs["mixed"]["ff"] > 2 * 32 * (lut_rows + dsp_rows)
    assert runs["lut-probe"]["ff"] > 2 * 32 * hw.LUT_PROBE_ROWS
    # the DSP-only array fills the device's 8 DSPs
    assert board.dsp_only_slots == 4 and board.dsp_reserved == 0
    assert runs["dsp-only"]["dsp"] == 8 and board.runs["dsp-only"].config.lut_rows == 0
    assert board.ratio() == pytest.approx((lut_rows + dsp_rows) / 4)

    costs = board.costs()
    assert costs["fixed4_macs_per_dsp"] == 2 and costs["fixed8_macs_per_dsp"] == 1
    assert costs["luts_per_sp2_mac"] == pytest.approx(runs["lut-probe"]["lut"] / (hw.LUT_PROBE_ROWS * vw), abs=0.01)

    report, data = tmp_path / "resources.md", tmp_path / "resources.json"
    hw.write_report([board], report, "python scripts/hw_resources.py --board pynq-z2", "Yosys test")
    hw.write_json([board], data, "python scripts/hw_resources.py --board pynq-z2", "Yosys test")
    text = report.read_text()
    assert "python scripts/hw_resources.py --board pynq-z2" in text and "2.1x" in text
    assert f"| DSP | 8 | {vw * dsp_rows // 2} | 50.0% | 8 | 100.0% |" in text      # used, capacity, percent
    assert f"**{board.ratio():.2f}x**" in text
    saved = json.loads(data.read_text())["pynq-z2"]
    assert saved["fixed4_macs_per_dsp"] == 2 and saved["luts_per_sp2_mac"] == costs["luts_per_sp2_mac"]
    assert saved["runs"]["mixed"]["summary"]["dsp"] == vw * dsp_rows // 2

    # an unchanged configuration is reused, not synthesized again
    again = hw.run_yosys(board.runs["mixed"].config, tmp_path / "runs", 5, 12, reuse=True, progress=lines.append)
    assert again.reused and again.summary == runs["mixed"]
