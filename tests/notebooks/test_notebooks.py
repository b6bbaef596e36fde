"""Every notebook runs top to bottom on the emulated board, as CI and a PC user run it.

Each notebook is executed by nbclient in a real Jupyter kernel (``MSP_PYNQ_EMULATE=1``, working
folder a temporary directory), and what its cells print is checked: the first output says it is
emulated, and each notebook's own results hold. `make test` runs this file again under pynq 3.0.1
without torch (the board image's packages), where the training notebook takes its board path.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from msp_pynq.jupyter import execute_notebook  # noqa: E402  (after the skips)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 900     # catches a hung cell only: a loaded 2-core CI machine trains several times slower
HOST = all(importlib.util.find_spec(name) for name in ("torch", "onnx"))


def _texts(nb) -> "list[str]":
    """The text each code cell printed or displayed, in order (one string per output)."""
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if o.output_type == "stream":
                out.append(o.text)
            elif "text/plain" in o.get("data", {}):
                out.append(o.data["text/plain"])
    return out


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """``executed(name)`` -> (notebook after execution, its outputs' text, seconds); each runs once."""
    done = {}

    def run(name: str):
        if name not in done:
            nb, seconds = execute_notebook(ROOT / "notebooks" / name, tmp_path_factory.mktemp("nb"),
                                           CELL_TIMEOUT_S, {"MSP_PYNQ_EMULATE": "1"})
            print(f"{name}: executed in {seconds:.1f} s ({sys.executable})")
            done[name] = (nb, _texts(nb), seconds)
        return done[name]
    return run


def test_the_five_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["01_quick_start.ipynb", "02_quantize_your_own_model.ipynb",
                                           "03_live_camera.ipynb", "04_performance.ipynb",
                                           "05_hardware_self_check.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code), \
        f"{path.name}: clear the outputs before committing"
    assert "msp_pynq.jupyter import" in code[0].source     # where() / open_runtime() comes first


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_emulated_and_says_so_first(executed, path):
    _, texts, _ = executed(path.name)
    assert texts, f"{path.name} printed nothing"
    assert "EMULATED" in texts[0] and "MSP_PYNQ_EMULATE is set" in texts[0], texts[0]


def test_quick_start_classifies_the_sample_photos(executed):
    nb, texts, _ = executed("01_quick_start.ipynb")
    joined = "".join(texts)
    assert "chelsea.jpg -> cat" in joined
    assert "4 images on pynq-z2 (emulated): engine" in joined
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2                                   # the row mix and the predictions


def test_quantize_your_own_model(executed):
    _, texts, _ = executed("02_quantize_your_own_model.ipynb")
    joined = "".join(texts)
    if HOST:
        assert "after QAT" in joined
        assert "PyTorch integer-exact and the engine agree on 100.00% of the images" in joined
        accuracy = float(joined.split("engine accuracy ")[1].split()[0])
        assert accuracy >= 0.9                                # 4 photo classes; chance is 0.25
    else:
        assert "skipped: PyTorch is not installed here" in joined
        assert "no bundle: run this notebook on a PC" in joined


def test_self_check_passes_and_localises_the_injected_fault(executed):
    _, texts, _ = executed("05_hardware_self_check.ipynb")
    joined = "".join(texts)
    assert "self-check PASSED on pynq-z2 (emulated, engine 7710d645): 8 known images, 32 layers" in joined
    assert "first differing layer: layers.4.conv1 (conv2d): 1 of" in joined
