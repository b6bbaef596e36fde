"""QAT model -> ONNX (onnxruntime runs it) -> bundle -> emulator, and every refusal on the way."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from msp_pynq.boards import profiles
from msp_pynq.bundle.container import BundleError, read_container, write_container
from msp_pynq.bundle.io import load_bundle
from msp_pynq.compiler import CompileError, compile
from msp_pynq.export import to_onnx
from msp_pynq.models import build_model
from msp_pynq.quant import calibrate, quantize
from qat_helpers import random_qat_model


def _qat(name="resnet20", seed=0, size=32, **kw):
    return random_qat_model(name, seed, size, **kw)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    q = _qat()
    path = to_onnx(q, str(tmp / "r20.onnx"), class_names=[f"c{i}" for i in range(10)])
    return q, tmp / "r20.onnx"


def _images(n=48, seed=1, size=32):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _as_float(x):
    return torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32) / 255)


def test_onnx_is_standard_and_matches_fake_quant(exported):
    q, path = exported
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    ops = {n.op_type for n in model.graph.node}
    assert ops <= {"QuantizeLinear", "DequantizeLinear", "Conv", "Gemm", "Add", "Clip",
                   "GlobalAveragePool", "Flatten", "Identity"}
    meta = {p.key: p.value for p in model.metadata_props}
    layers = json.loads(meta["msp_pynq.layers"])
    assert layers["layers.0.conv1"]["schemes"] == q.layers[0].conv1.schemes
    x = _images()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"input": _as_float(x).numpy()})[0]
    with torch.no_grad():
        want = q(_as_float(x)).numpy()
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.95
    assert np.median(np.abs(got - want)) < 0.03 * np.abs(want).max()     # rare rounding flips


def test_bundle_emulator_agrees_with_onnxruntime(exported, tmp_path):
    _, path = exported
    bundle_path = compile(path, board="pynq-z2", out=tmp_path / "r20.mspb")
    bundle = load_bundle(bundle_path, board="pynq-z2")
    assert bundle.classes == [f"c{i}" for i in range(10)]
    x = _images()
    logits, classes = bundle.predict(x)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"input": _as_float(x).numpy()})[0]
    assert (classes == ref.argmax(1)).mean() >= 0.95
    assert logits.dtype == np.float64 and logits.shape == (48, 10)
    # the bundle's integer program is exact: its own reference path agrees bit for bit
    acc = bundle.network.run(x[:4])
    assert np.array_equal(acc, bundle.network.run(x[:4], reference_path=True))


def test_bundle_keeps_weights_schemes_and_engine_row_order(exported, tmp_path):
    q, path = exported
    bundle = load_bundle(compile(path, board="zcu104", out=tmp_path / "z.mspb"))
    manifest, arrays = read_container(tmp_path / "z.mspb")
    conv = q.layers[0].conv1
    entry = next(e for e in manifest["layers"] if e["name"] == "layers.0.conv1")
    assert entry["rows_per_scheme"] == {"fixed4": 7, "fixed8": 1, "sp2_4": 8}   # the pynq-z2 ratio
    order = arrays["layers.0.conv1/row_order"]
    schemes = arrays["layers.0.conv1/schemes"]
    assert (schemes[order][:8] == 2).all() and (schemes[order][8:15] == 0).all()
    layer = next(l for l in bundle.network.layers if l.name == "layers.0.conv1")
    ints = conv.integer_weights().numpy().transpose(0, 2, 3, 1)
    signs = np.sign(conv.w_scale.detach().numpy())       # BN folding may flip a row's sign
    assert manifest["board"] == "zcu104"
    np.testing.assert_array_equal(layer.weights, ints * signs[:, None, None, None])


def test_bundle_for_another_board_or_engine_is_refused(exported, tmp_path, monkeypatch):
    _, path = exported
    out = compile(path, board="zcu104", out=tmp_path / "z.mspb")
    with pytest.raises(BundleError, match="compiled for board 'zcu104', not 'pynq-z2'"):
        load_bundle(out, board="pynq-z2")
    zcu = profiles.PROFILES["zcu104"]
    changed = dataclasses.replace(zcu, geometry=dataclasses.replace(zcu.geometry, vector_width=64))
    monkeypatch.setitem(profiles.PROFILES, "zcu104", changed)
    with pytest.raises(BundleError, match="compiled for engine .* recompile"):
        load_bundle(out, board="zcu104")


def test_wrong_images_are_refused(exported, tmp_path):
    _, path = exported
    bundle = load_bundle(compile(path, out=tmp_path / "b.mspb"))
    with pytest.raises(BundleError, match=r"must be \[N, 32, 32, 3\].*\(2, 28, 28, 3\)"):
        bundle.predict(np.zeros((2, 28, 28, 3), np.uint8))
    with pytest.raises(BundleError, match="uint8 pixels, found float32"):
        bundle.predict(np.zeros((2, 32, 32, 3), np.float32))
    assert bundle.predict(np.zeros((32, 32, 3), np.uint8))[1].shape == (1,)


def test_tampered_manifest_is_a_bundle_error(exported, tmp_path):
    _, path = exported
    out = compile(path, out=tmp_path / "b.mspb")
    manifest, arrays = read_container(out)
    manifest["layers"][3]["op"] = "softmax"
    write_container(tmp_path / "t.mspb", manifest, arrays)
    with pytest.raises(BundleError, match="operation 'softmax' is unknown"):
        load_bundle(tmp_path / "t.mspb")
    manifest, arrays = read_container(out)
    arrays["conv1/row_order"] = arrays["conv1/row_order"][::-1].copy() * 0
    write_container(tmp_path / "t2.mspb", manifest, arrays)
    with pytest.raises(BundleError, match="row_order is not a permutation"):
        load_bundle(tmp_path / "t2.mspb")


def test_unsupported_graph_is_a_compile_error(exported, tmp_path):
    _, path = exported
    model = onnx.load(str(path))
    node = next(n for n in model.graph.node if n.op_type == "Add")
    node.op_type = "Mul"
    onnx.save(model, tmp_path / "mul.onnx")
    with pytest.raises(CompileError, match=f"node '{node.name}': Mul cannot run on the MSP engine"):
        compile(tmp_path / "mul.onnx")
    plain = onnx.helper.make_model(onnx.helper.make_graph([], "g", [], []))
    onnx.save(plain, tmp_path / "plain.onnx")
    with pytest.raises(CompileError, match="not an msp-pynq QDQ model"):
        compile(tmp_path / "plain.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"garbage")
    with pytest.raises(CompileError, match="cannot read ONNX"):
        compile(tmp_path / "junk.onnx")


def test_pow2_rows_have_no_engine_core(tmp_path):
    q = _qat(scheme="pow2_4")
    to_onnx(q, str(tmp_path / "p.onnx"))
    with pytest.raises(CompileError, match="no engine core"):
        compile(tmp_path / "p.onnx")


def test_export_needs_a_quantized_model(tmp_path):
    with pytest.raises(Exception, match="quantize"):
        to_onnx(build_model("resnet20"), str(tmp_path / "f.onnx"))


def _ort_integer_tensors(onnx_path, x, tmp_path):
    """onnxruntime's quantized (uint8/int8) tensor after every QuantizeLinear, by DQ name."""
    model = onnx.load(str(onnx_path))
    names = {}
    for n in model.graph.node:
        if n.op_type == "QuantizeLinear" and n.name != "input_u8.quant":
            dq = next(d for d in model.graph.node if d.op_type == "DequantizeLinear" and d.input[0] == n.output[0])
            names[n.output[0]] = dq.output[0]
            zp = next(i for i in model.graph.initializer if i.name == n.input[2])
            model.graph.output.append(onnx.helper.make_tensor_value_info(n.output[0], zp.data_type, None))
    onnx.save(model, tmp_path / "probe.onnx")
    sess = ort.InferenceSession(str(tmp_path / "probe.onnx"), providers=["CPUExecutionProvider"])
    outs = sess.run(list(names), {"input": _as_float(x).numpy()})
    return {names[k]: v for k, v in zip(names, outs)}


def _check_every_layer(q, tmp_path, size=32, expected_tensors=None, images=16, min_agree=0.9, off_by_one=0.002):
    """Each bundle layer, fed onnxruntime's own integer inputs, reproduces onnxruntime's QDQ
    output: exactly, but for rare values on a rounding boundary (one LSB: the requant
    multiplier's 16-bit rounding, docs/numerics.md section 6)."""
    from msp_pynq.emulator import fast
    path = to_onnx(q, str(tmp_path / "m.onnx"), input_size=(size, size))
    x = _images(images, seed=5, size=size)
    ref = _ort_integer_tensors(path, x, tmp_path)
    if expected_tensors is not None:
        assert len(ref) == expected_tensors
    nhwc = {k: (v.transpose(0, 2, 3, 1) if v.ndim == 4 else v) for k, v in ref.items()}
    nhwc["input"] = x
    bundle = load_bundle(compile(path, out=tmp_path / "m.mspb"))
    checked = 0
    for layer in bundle.network.layers:
        if layer.output not in nhwc:
            continue                                          # the logits layer
        got = fast.run_layer(layer, *(nhwc[i] for i in layer.inputs))
        diff = np.abs(got.astype(int) - nhwc[layer.output].astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < off_by_one, (layer.name, diff.max(), (diff > 0).mean())
        checked += 1
    assert checked == len(ref)
    logits, classes = bundle.predict(x)
    onnx_logits = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"input": _as_float(x).numpy()})[0]
    assert (classes == onnx_logits.argmax(1)).mean() >= min_agree


@pytest.mark.parametrize("share_8bit", [0.05, 0.0])
def test_every_resnet20_layer_matches_onnxruntime(tmp_path, share_8bit):
    q = _qat(seed=3, share_8bit=share_8bit)
    _check_every_layer(q, tmp_path, expected_tensors=1 + 9 * 3 + 2 + 1)  # stem, 9 blocks x 3, 2 proj, pool


def test_every_cnv_layer_matches_onnxruntime(tmp_path):
    """CNV: unpadded convs, max pools between them, and a BN1d classifier chain."""
    _check_every_layer(_qat("cnv", seed=4), tmp_path, expected_tensors=6 + 2 + 2)


def test_every_resnet18_layer_matches_onnxruntime(tmp_path):
    """ResNet-18's stem: 7x7 stride-2 conv and a padded 3x3 stride-2 max pool (at 64x64)."""
    _check_every_layer(_qat("resnet18", seed=5, size=64, board="zcu104"), tmp_path, size=64, images=4,
                       min_agree=0.5, off_by_one=0.01)   # 4 images of an untrained net: near ties
