"""The board side imports with numpy alone; the CLI answers; host functions load lazily."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BOARD_MODULES = ["msp_pynq", "msp_pynq.numerics", "msp_pynq.emulator", "msp_pynq.boards",
                 "msp_pynq.bundle", "msp_pynq.bundle.io"]


def test_board_side_needs_no_torch_onnx_or_onnxruntime():
    code = ("import sys; " + "; ".join(f"import {m}" for m in BOARD_MODULES) +
            "; heavy = [m for m in ('torch', 'onnx', 'onnxruntime', 'PIL', 'cv2') if m in sys.modules]"
            "; print(heavy); assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cli_info_and_errors():
    run = [sys.executable, "-m", "msp_pynq.cli"]
    info = subprocess.run(run + ["info", "--board", "pynq-z2"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert info.returncode == 0 and "XC7Z020" in info.stdout and "SP2 share 0.514" in info.stdout
    assert "axi_dma_0    xilinx.com:ip:axi_dma:7.1 at 0x40400000" in info.stdout
    probe = subprocess.run(run + ["info", "--board", "zcu104", "--engine"], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    assert "engine     emulated (no PYNQ board here): version 1.0" in probe.stdout
    assert "40 LUT rows + 96 DSP rows x 32" in probe.stdout
    bad = subprocess.run(run + ["info", "--board", "pynq-z9"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "unknown board 'pynq-z9'" in bad.stderr


def test_lazy_host_api():
    import msp_pynq
    from msp_pynq.quant.api import quantize
    assert msp_pynq.quantize is quantize
    try:
        msp_pynq.nothing_here
    except AttributeError as exc:
        assert "nothing_here" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
