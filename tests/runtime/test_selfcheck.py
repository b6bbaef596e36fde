"""The hardware self-check: passes on a healthy engine, and names the first layer a fault touches.

Faults are injected at the lowest level, in the emulated engine's output packet
(``EmulatedDevice.inject_output_fault``), so the runtime,
pynq's DMA driver and the comparison above it are the real code.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from msp_pynq.runtime.errors import MspRuntimeError
from msp_pynq.runtime.selfcheck import KNOWN_INPUTS, compare_tensor, known_inputs, self_check

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "models" / "resnet20-msp8-exact.{board}.mspb"


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_committed_bundle_passes_bit_exact(runtime, board):
    rt = runtime(board)
    rt.load(str(COMMITTED).format(board=board))
    report = self_check(rt)
    assert report.ok and report.logits_equal and report.first_bad is None
    assert len(report.layers) == 32 and [c.name for c in report.layers][0] == "conv1"
    assert all(c.mismatches == 0 and c.max_diff == 0 for c in report.layers)
    assert len(report.predictions) == len(KNOWN_INPUTS)
    assert report.summary().startswith(f"self-check PASSED on {board} (emulated")
    assert report.rows()[-1]["op"] == "linear"


@pytest.mark.parametrize("op", ["conv2d", "add", "global_avg_pool", "linear"])
def test_fault_is_traced_to_its_layer(runtime, op):
    rt = runtime("pynq-z2")
    rt.load(str(COMMITTED).format(board="pynq-z2"))
    index = next(i for i, job in enumerate(rt.program.jobs) if job.op.name.lower() == op and i > 0)
    layer = rt.program.jobs[index].name.split("[")[0]
    rt.device.inject_output_fault(index)       # bit 0 keeps a 4-bit activation in range
    report = self_check(rt)
    assert not report.ok
    assert report.first_bad.name == layer
    assert all(c.ok for c in report.layers[:[c.name for c in report.layers].index(layer)])
    assert 1 <= report.first_bad.mismatches <= 2 and report.first_bad.first[0] in range(len(KNOWN_INPUTS))
    assert f"first differing layer: {layer} ({op})" in report.summary()


def test_engine_error_is_reported_not_raised(runtime):
    rt = runtime("pynq-z2")
    rt.load(str(COMMITTED).format(board="pynq-z2"))
    rt.device.inject_output_fault(0, mask=0x10)   # conv1 emits 16+: layer 2 refuses its input
    report = self_check(rt)
    assert not report.ok and report.layers == [] and report.first_bad is None
    assert "layer 'layers.0.conv1': msp_engine error BAD_DATA" in report.error
    assert "the run stopped with an error" in report.summary()
    assert self_check(rt).ok                    # the runtime recovered: the next check passes


def test_known_inputs_are_the_named_patterns():
    images, names = known_inputs((8, 12, 1))
    assert names == list(KNOWN_INPUTS) and images.shape == (8, 8, 12, 1) and images.dtype == np.uint8
    black, white, ramp_x, ramp_y, checker = (images[names.index(n)][..., 0] for n in names[:5])
    assert black.max() == 0 and white.min() == 255
    assert list(ramp_x[0, [0, -1]]) == [0, 255] and (ramp_x == ramp_x[0]).all()
    assert list(ramp_y[[0, -1], 0]) == [0, 255] and (ramp_y.T == ramp_y[:, 0]).all()
    assert checker[0, 0] == 255 and checker[0, 4] == 0 and checker[4, 4] == 255
    again, _ = known_inputs((8, 12, 1))
    assert np.array_equal(images, again)                      # deterministic: seeded noise


def test_errors_name_the_problem(runtime):
    with pytest.raises(MspRuntimeError, match="layer 'conv1': the engine returned shape"):
        compare_tensor("conv1", "conv2d", np.zeros((1, 4, 4, 8)), np.zeros((1, 4, 4, 16)))
    with pytest.raises(MspRuntimeError, match="no bundle loaded"):
        self_check(runtime("pynq-z2"))
    with pytest.raises(ValueError, match="a mask in 1..255, got 0, 256"):
        runtime("pynq-z2").device.inject_output_fault(0, mask=256)
