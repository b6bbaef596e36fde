"""Integer-exact QAT mode: PyTorch computes the bundle emulator's logits bit for bit, and trains."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from msp_pynq.bundle.io import load_bundle
from msp_pynq.compiler import compile
from msp_pynq.errors import MSPError
from msp_pynq.export import to_onnx
from msp_pynq.models import build_model
from msp_pynq.quant import IntegerExact, QAct, integer_exact
from qat_helpers import random_qat_model


def _images(n, size, seed=3):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _exact_and_bundle(q, tmp_path, size):
    exact = integer_exact(q).eval()
    onnx_path = to_onnx(exact, str(tmp_path / "m.onnx"), input_size=(size, size))   # the wrapper exports too
    bundle = load_bundle(compile(onnx_path, board="pynq-z2", out=tmp_path / "m.mspb"))
    return exact, bundle


@pytest.mark.parametrize("name,size,kw", [
    ("resnet20", 32, {}),
    ("resnet20", 32, {"scheme": "fixed4", "act_bits": 5}),
    ("cnv", 32, {"share_8bit": 0.1}),
])
def test_logits_equal_the_bundle_emulator_bit_for_bit(tmp_path, name, size, kw):
    q = random_qat_model(name, seed=1, size=size, **kw)
    exact, bundle = _exact_and_bundle(q, tmp_path, size)
    x = _images(24, size)
    with torch.no_grad():
        got = exact(torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32) / 255))
    assert got.dtype == torch.float64
    np.testing.assert_array_equal(got.numpy(), bundle.logits(x))


def test_float_fake_quant_is_not_exact_but_close(tmp_path):
    # the reason for the mode: float fake-quant rounds differently (a non-trivial check that
    # the exact mode really is the integer path, not the float one)
    q = random_qat_model("resnet20", seed=2)
    exact, bundle = _exact_and_bundle(q, tmp_path, 32)
    x = _images(16, 32)
    with torch.no_grad():
        fq = q(torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32) / 255)).double().numpy()
    want = bundle.logits(x)
    assert not np.array_equal(fq, want)
    assert np.abs(fq - want).max() < 0.5 * np.abs(want).max()


def test_training_mode_passes_gradients_to_weights_scales_and_clips():
    q = random_qat_model("resnet20", seed=4)
    exact = integer_exact(q).train()
    out = exact(torch.rand(4, 3, 32, 32))
    assert out.dtype == torch.float32
    nn.functional.cross_entropy(out, torch.tensor([0, 1, 2, 3])).backward()
    inner = exact.model
    assert inner.conv1.weight.grad.abs().sum() > 0
    assert inner.layers[0].conv1.w_scale.grad.abs().sum() > 0
    assert inner.layers[0].conv1.bias.grad.abs().sum() > 0          # the folded BN's bias
    assert inner.layers[0].relu1.alpha.grad.abs() > 0
    assert not any(isinstance(m, nn.BatchNorm2d) for m in inner.modules())
    assert all(p.grad is None for p in q.parameters())              # the original is untouched


def test_exact_mode_errors():
    with pytest.raises(MSPError, match="quantized model"):
        integer_exact(build_model("resnet20"))
    q = random_qat_model("resnet20", seed=5)
    folded = integer_exact(q).model
    folded.relu = nn.Sequential(QAct(4), QAct(4))                   # two quantizers in a row
    with pytest.raises(MSPError, match="integer layer before it"):
        IntegerExact(folded)(torch.rand(1, 3, 32, 32))
    folded.relu = nn.Softmax(dim=1)
    with pytest.raises(MSPError, match="Softmax has no integer-exact form"):
        IntegerExact(folded)(torch.rand(1, 3, 32, 32))
