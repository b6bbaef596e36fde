"""The package layout's rules (docs/design/layout.md): the import contracts in ``.importlinter``,
checked by import-linter over every import statement, and what a fresh interpreter loads.

import-linter sees every import, also those inside functions; the one deliberate lazy import
(the runtime loading the emulated board once emulation is chosen) is listed there, and the
subprocess tests below check that it stays lazy.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold(capsys):
    from importlinter.cli import lint_imports
    code = lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True, no_logo=True)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "BROKEN" not in out and out.count("KEPT") >= 6


def _loaded_after(code: str) -> "list[str]":
    """The msp_pynq, pynq, torch and onnx modules a fresh interpreter has after running ``code``."""
    probe = (f"{code}\nimport json, sys\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('msp_pynq', 'pynq', 'torch', 'onnx', 'onnxruntime', 'cocotb'))))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_board_runtime_imports_no_emulation():
    loaded = _loaded_after("import msp_pynq.runtime")
    assert "msp_pynq.runtime.runtime" in loaded
    assert not [m for m in loaded if m.startswith(("msp_pynq.emulation", "msp_pynq.emulator"))], loaded
    assert not [m for m in loaded if m.split(".")[0] in ("torch", "onnx", "onnxruntime", "cocotb")], loaded


def test_emulation_loads_once_chosen():
    loaded = _loaded_after("from msp_pynq.runtime import Runtime\n"
                           "Runtime.open('pynq-z2', emulate=True, log=None).close()")
    assert "msp_pynq.emulation.device" in loaded and "msp_pynq.emulation.engine" in loaded


def test_loading_a_bundle_on_the_runtime_builds_no_emulator_network():
    loaded = _loaded_after("from msp_pynq.runtime import Runtime\n"
                           "import sys\n"
                           "rt = Runtime.open('pynq-z2', emulate=True, log=None)\n"
                           "before = set(sys.modules)\n"
                           "rt.load('models/resnet20-msp8-exact.pynq-z2.mspb')\n"
                           "assert rt.bundle.__dict__.get('network') is None, 'network built at load'\n"
                           "rt.close()")
    assert "msp_pynq.bundle.io" in loaded


@pytest.mark.parametrize("package", ["msp_pynq.engine", "msp_pynq.bundle.io", "msp_pynq.compiler"])
def test_contract_and_file_packages_need_no_torch(package):
    loaded = _loaded_after(f"import {package}")
    assert package in loaded
    assert not [m for m in loaded if m.split(".")[0] in ("torch", "pynq", "cocotb")], loaded
