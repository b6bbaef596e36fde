"""Post-training quantization of a float ONNX model we did not train (qonnx's MNIST CNN)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from msp_pynq.bundle.io import load_bundle
from msp_pynq.compiler import CompileError, compile
from msp_pynq.ptq.onnx_import import import_onnx
from msp_pynq.ptq.quantize import quantize_onnx

qonnx = pytest.importorskip("qonnx")
MNIST = Path(qonnx.__file__).parent / "data" / "onnx" / "mnist-conv"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from ptq_mnist import variants  # noqa: E402


@pytest.fixture(scope="module")
def digit():
    t = onnx.TensorProto()
    t.ParseFromString((MNIST / "test_data_set_0" / "input_0.pb").read_bytes())
    sample = numpy_helper.to_array(t)[0, 0]
    t.ParseFromString((MNIST / "test_data_set_0" / "output_0.pb").read_bytes())
    return sample, numpy_helper.to_array(t)


def _float_logits(x):
    sess = ort.InferenceSession(str(MNIST / "model.onnx"), providers=["CPUExecutionProvider"])
    return np.concatenate([sess.run(None, {"Input3": im.transpose(2, 0, 1)[None].astype(np.float32)})[0]
                           for im in x])


def test_import_reproduces_the_float_model(digit):
    sample, expected = digit
    net, info = import_onnx(onnx.load(str(MNIST / "model.onnx")), input_range=255.0)
    assert info == {"channels": 1, "height": 28, "width": 28}
    x = variants(sample, 20, np.random.default_rng(0))
    with torch.no_grad():
        got = net(torch.from_numpy(x.transpose(0, 3, 1, 2) / 255.0).float()).numpy()
        one = net(torch.from_numpy(sample[None, None] / 255.0).float()).numpy()
    np.testing.assert_allclose(one, expected, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(got, _float_logits(x), rtol=1e-4, atol=1e-2)


def test_ptq_bundle_agrees_with_the_float_model(digit, tmp_path):
    sample, expected = digit
    rng = np.random.default_rng(1)
    q = quantize_onnx(MNIST / "model.onnx", variants(sample, 128, rng), tmp_path / "m.onnx",
                      act_bits=8, input_range=255.0)
    bundle = load_bundle(compile(q, board="pynq-z2"), board="pynq-z2")
    x = variants(sample, 200, rng)
    _, classes = bundle.predict(x)
    assert (classes == _float_logits(x).argmax(1)).mean() >= 0.95
    assert bundle.predict(sample.astype(np.uint8)[:, :, None])[1][0] == expected.argmax()
    layers = {l.name: l for l in bundle.network.layers if hasattr(l, "schemes")}
    mixed = [l for l in layers.values() if len(set(l.schemes.tolist())) > 1]
    assert len(layers) == 3 and len(mixed) == 1            # first and last stay fixed-8


def test_ptq_rejects_wrong_calibration_images(tmp_path):
    with pytest.raises(CompileError, match=r"uint8 \[N, 28, 28, 1\]"):
        quantize_onnx(MNIST / "model.onnx", np.zeros((4, 32, 32, 3), np.uint8), tmp_path / "m.onnx")


def test_import_names_unsupported_nodes():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])
    graph = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["y"], name="squash")], "g", [x], [y])
    with pytest.raises(CompileError, match="node 'squash': Sigmoid is not supported"):
        import_onnx(helper.make_model(graph))
