"""Hostile ONNX files given to ``compile`` and ``quantize``: read safely (size, no external
data, no devices), graphs that would hang the compiler refused naming the node, bad scales and
zero points refused naming the tensor, outputs never over the input and never half written."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from msp_pynq.bundle import container
from msp_pynq.compiler import CompileError, compile
from msp_pynq.compiler.onnx_file import MAX_ONNX_BYTES, is_quantized, load_onnx
from msp_pynq.compiler.onnx_reader import OPSET_MAX, OPSET_MIN
from msp_pynq.ptq.quantize import MAX_CALIB_BYTES, check_calibration, quantize_onnx
from msp_pynq.errors import MSPError

from .bounded import assert_own_error, run_bounded

ROOT = Path(__file__).resolve().parents[2]
QDQ = ROOT / "models" / "resnet20-msp8.onnx"
COMPILE = "from msp_pynq.compiler import compile"


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def qdq():
    return onnx.load(str(QDQ))


def save(model, path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


def float_model(h: int = 8, w: int = 8, c: int = 3, pads=(1, 1, 1, 1), opset: int = 13):
    """A float CNN the PTQ importer takes: Conv, Relu, GlobalAveragePool, Flatten, Gemm."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(4, c, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(np.zeros(4, np.float32), "b"),
             numpy_helper.from_array(rng.normal(size=(2, 4)).astype(np.float32), "fw"),
             numpy_helper.from_array(np.zeros(2, np.float32), "fb")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=list(pads), kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, h, w])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


# ---- reading the file ------------------------------------------------------------------------

def test_devices_fifos_and_missing_files(tmp_path):
    fifo = tmp_path / "m.onnx"
    os.mkfifo(fifo)
    for path, kind in (("/dev/zero", "character device"), (fifo, "FIFO"), (tmp_path / "no.onnx", "not found")):
        result = run_bounded(f"load_onnx({str(path)!r})", "from msp_pynq.compiler import load_onnx", cpu_s=20)
        assert result["raised"] == "CompileError"
        assert_own_error(result, str(path), kind)


def test_oversized_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.onnx"
    path.write_bytes(QDQ.read_bytes())
    os.truncate(path, MAX_ONNX_BYTES + 1)
    result = run_bounded(f"load_onnx({str(path)!r})", "from msp_pynq.compiler import load_onnx", mem_mib=256)
    assert_own_error(result, str(path), f"{MAX_ONNX_BYTES + 1:,} bytes", f"{MAX_ONNX_BYTES:,} allowed")


@pytest.mark.parametrize("cut", [7, 100, 1000, -1])
def test_truncated_and_junk_bytes(tmp_path, cut):
    raw = QDQ.read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(raw[:cut] if cut > 0 else b"\xff" * 64)
    with pytest.raises(CompileError, match=rf"{path}: cannot read ONNX"):
        load_onnx(path)


def test_empty_file_is_not_an_onnx_model(tmp_path):
    with pytest.raises(CompileError, match="not an ONNX model"):
        load_onnx(save_bytes(tmp_path / "e.onnx", b""))


def save_bytes(path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("target", ["/dev/zero", "/etc/passwd", "weights.bin"])
def test_external_data_is_refused_not_followed(qdq, tmp_path, target):
    model = onnx.ModelProto()
    model.CopyFrom(qdq)
    t = model.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value=target)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 1024)
    path = save(model, tmp_path / "ext.onnx")
    result = run_bounded(f"load_onnx({str(path)!r})", "from msp_pynq.compiler import load_onnx", mem_mib=256)
    assert_own_error(result, str(path), f"tensor {t.name!r}", "external data")
    result = run_bounded(f"compile({str(path)!r}, out={str(tmp_path / 'o.mspb')!r})", COMPILE, mem_mib=512)
    assert_own_error(result, "external data")
    assert not (tmp_path / "o.mspb").exists()


@pytest.mark.parametrize("opset", [OPSET_MIN - 1, OPSET_MAX + 1, 99])
def test_opsets_outside_the_supported_range(tmp_path, opset):
    path = save(float_model(opset=opset), tmp_path / "o.onnx")
    with pytest.raises(CompileError, match=f"ONNX opset {opset}, msp-pynq reads opsets {OPSET_MIN} to {OPSET_MAX}"):
        load_onnx(path)


def test_nodes_outside_the_standard_domain(tmp_path):
    model = float_model()
    model.graph.node[1].domain = "com.example"
    with pytest.raises(CompileError, match="node 'relu' is com.example.Relu, outside the standard ONNX domain"):
        load_onnx(save(model, tmp_path / "d.onnx"))


def test_is_quantized(qdq, tmp_path):
    assert is_quantized(qdq) and is_quantized(load_onnx(QDQ))
    plain = float_model()
    assert not is_quantized(plain)
    plain.metadata_props.add(key="msp_pynq.format", value="msp-pynq-onnx/1")
    assert is_quantized(plain)
    assert not is_quantized(load_onnx(save(float_model(), tmp_path / "f.onnx")))


# ---- graphs that would hang or mislead the compiler ------------------------------------------

def _copy(qdq):
    m = onnx.ModelProto()
    m.CopyFrom(qdq)
    return m


def _self_loop(m):
    m.graph.node[-1].input[0] = "logits"            # Identity "logits" reads its own output


def _two_cycle(m):
    last = m.graph.node[-1]
    last.input[0] = "loop"
    m.graph.node.append(helper.make_node("Identity", ["logits"], ["loop"], name="back"))


def _dangling(m):
    m.graph.node[-1].input[0] = "nowhere"


def _duplicate(m):
    m.graph.node.append(helper.make_node("Identity", ["input"], ["logits"], name="again"))


def _no_output(m):
    m.graph.output[0].name = "ghost"


@pytest.mark.parametrize("mutate, fragment", [
    (_self_loop, "node 'logits' reads its own output 'logits' (a cycle)"),
    (_two_cycle, "node 'logits' reads tensor 'loop' before node 'back' produces it (a cycle"),
    (_dangling, "node 'logits' reads tensor 'nowhere', which no node, initializer or graph input provides"),
    (_duplicate, "node 'again' writes tensor 'logits', already produced by node 'logits'"),
    (_no_output, "graph output 'ghost' is produced by no node"),
], ids=["self-loop", "two-cycle", "dangling", "duplicate", "no-output"])
def test_graphs_that_hung_the_compiler(qdq, tmp_path, mutate, fragment):
    m = _copy(qdq)
    mutate(m)
    path = save(m, tmp_path / "g.onnx")
    result = run_bounded(f"compile({str(path)!r}, out={str(tmp_path / 'g.mspb')!r})", COMPILE,
                         mem_mib=512, cpu_s=60)
    assert result["raised"] == "CompileError"
    assert_own_error(result, str(path), fragment)


def test_a_cyclic_modelproto_given_in_code(qdq, tmp_path):
    """read_program on a ModelProto built in code (no load_onnx): the Identity walk stops."""
    m = _copy(qdq)
    _two_cycle(m)
    path = save(m, tmp_path / "c.onnx")
    case = f"import onnx\nread_program(onnx.load({str(path)!r}))"
    result = run_bounded(case, "from msp_pynq.compiler import read_program", mem_mib=512, cpu_s=60)
    assert_own_error(result, "Identity nodes form a cycle")


def _init(m, name):
    return next(t for t in m.graph.initializer if t.name == name)


@pytest.mark.parametrize("value", [0.0, -0.5, float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("tensor", ["relu.scale", "relu.hi", "conv1.w_scale"])
def test_bad_quantization_scales(qdq, tmp_path, tensor, value):
    m = _copy(qdq)
    t = _init(m, tensor)
    arr = numpy_helper.to_array(t).copy()
    arr.reshape(-1)[0] = value
    t.CopyFrom(numpy_helper.from_array(arr, tensor))
    path = save(m, tmp_path / "s.onnx")
    with pytest.raises(CompileError) as info:
        compile(path, out=tmp_path / "s.mspb")
    assert repr(tensor) in str(info.value) and ("> 0" in str(info.value)), str(info.value)
    assert not (tmp_path / "s.mspb").exists()


@pytest.mark.parametrize("tensor, value", [("relu.zp", np.uint8(3)), ("relu.zp", np.int32(0)),
                                           ("conv1.w_zp", None)])
def test_zero_points_out_of_range(qdq, tmp_path, tensor, value):
    m = _copy(qdq)
    t = _init(m, tensor)
    arr = numpy_helper.to_array(t).copy()
    if value is None:
        arr.reshape(-1)[0] = 5
    else:
        arr = np.asarray(value)
    t.CopyFrom(numpy_helper.from_array(arr, tensor))
    with pytest.raises(CompileError, match=rf"zero point {tensor!r} is .*expected 0"):
        compile(save(m, tmp_path / "z.onnx"), out=tmp_path / "z.mspb")


def test_huge_padding_in_a_qdq_model(qdq, tmp_path):
    m = _copy(qdq)
    conv = next(n for n in m.graph.node if n.op_type == "Conv")
    next(a for a in conv.attribute if a.name == "pads").ints[:] = [20000] * 4
    path = save(m, tmp_path / "p.onnx")
    result = run_bounded(f"compile({str(path)!r}, out={str(tmp_path / 'p.mspb')!r})", COMPILE,
                         mem_mib=512, cpu_s=60)
    assert_own_error(result, "padding (20000, 20000, 20000, 20000) exceeds the engine's limit of 255")


# ---- outputs ----------------------------------------------------------------------------------

def test_compile_never_writes_over_its_input(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(QDQ.read_bytes())
    link = tmp_path / "link.mspb"
    os.link(path, link)
    before = sha(path)
    for out in (path, link, tmp_path / "." / "m.onnx"):
        with pytest.raises(MSPError, match="would overwrite the input"):
            compile(path, out=out)
    assert sha(path) == before


def test_interrupted_compile_leaves_the_old_bundle(tmp_path, monkeypatch):
    out = tmp_path / "m.mspb"
    out.write_bytes(b"old bundle")

    def interrupt(fh, prefix, *args):
        fh.write(prefix[:100])
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(container, "_write_body", interrupt)
    with pytest.raises(MSPError, match="cannot write bundle"):
        compile(QDQ, out=out)
    assert out.read_bytes() == b"old bundle"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mspb"]


def test_quantize_never_writes_over_its_input(tmp_path):
    path = save(float_model(), tmp_path / "f.onnx")
    before = sha(path)
    with pytest.raises(MSPError, match="would overwrite the input"):
        quantize_onnx(path, np.zeros((2, 8, 8, 3), np.uint8), path)
    assert sha(path) == before


def test_quantize_points_a_quantized_model_at_compile(tmp_path):
    with pytest.raises(MSPError, match=r"already quantized .*use `msp-pynq compile"):
        quantize_onnx(QDQ, np.zeros((2, 32, 32, 3), np.uint8), tmp_path / "q.onnx")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_qdq_write_leaves_the_old_file(tmp_path, monkeypatch):
    from msp_pynq.export import onnx_export
    path = save(float_model(), tmp_path / "f.onnx")
    out = tmp_path / "q.onnx"
    out.write_bytes(b"old model")

    def interrupt(model, tmp):
        Path(tmp).write_bytes(model.SerializeToString()[:50])
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(onnx_export, "_save", interrupt)
    with pytest.raises(MSPError, match=r"q\.onnx: cannot write the ONNX model"):
        quantize_onnx(path, np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8), out)
    assert out.read_bytes() == b"old model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.onnx", "q.onnx"]


def test_quantize_writes_a_model_that_compiles(tmp_path):
    path = save(float_model(), tmp_path / "f.onnx")
    out = quantize_onnx(path, np.random.default_rng(0).integers(0, 256, (8, 8, 8, 3), dtype=np.uint8),
                        tmp_path / "q.onnx")
    assert is_quantized(load_onnx(out))
    assert compile(out, out=tmp_path / "q.mspb").exists()


# ---- calibration sizes --------------------------------------------------------------------------

@pytest.mark.parametrize("images, fragment", [
    (np.zeros((2, 8, 8, 3), np.float32), "found float32 (2, 8, 8, 3)"),
    (np.zeros((8, 8, 3), np.uint8), "found uint8 (8, 8, 3)"),
    (np.zeros((0, 8, 8, 3), np.uint8), "N >= 1"),
    (np.zeros((2, 8, 8, 1), np.uint8), "uint8 [N, 8, 8, 3]"),
    ([[0]], "found list"),
    (np.broadcast_to(np.zeros(1, np.uint8), (MAX_CALIB_BYTES // 192 + 1, 8, 8, 3)),
     f"more than the {MAX_CALIB_BYTES:,} allowed"),
])
def test_calibration_images_are_checked(images, fragment):
    with pytest.raises(CompileError) as info:
        check_calibration(images, (8, 8, 3))
    assert fragment in str(info.value), str(info.value)


def test_absurd_model_input_is_refused_before_allocating(tmp_path):
    path = save(float_model(h=100000, w=100000), tmp_path / "huge.onnx")
    case = f"quantize_onnx({str(path)!r}, np.zeros((1, 8, 8, 3), np.uint8), {str(tmp_path / 'q.onnx')!r})"
    result = run_bounded(case, "import numpy as np\nfrom msp_pynq.ptq.quantize import quantize_onnx",
                         mem_mib=512, cpu_s=60)
    assert_own_error(result, "input 'x' of 3 x 100000 x 100000 is too large")
    assert not (tmp_path / "q.onnx").exists()


def test_huge_padding_in_a_float_model(tmp_path):
    path = save(float_model(pads=(20000,) * 4), tmp_path / "pad.onnx")
    case = f"quantize_onnx({str(path)!r}, np.zeros((2, 8, 8, 3), np.uint8), {str(tmp_path / 'q.onnx')!r})"
    result = run_bounded(case, "import numpy as np\nfrom msp_pynq.ptq.quantize import quantize_onnx",
                         mem_mib=512, cpu_s=60)
    assert_own_error(result, "node 'conv'", "pads", "outside the engine's range [0, 255]")
