"""Read an msp-pynq QDQ ONNX model (docs/formats.md) into integer emulator layers.

Every ``QuantizeLinear`` fed by a ``Clip`` is one integer layer: the node that produced the
clip's input (the network input, Conv, Gemm, Add, GlobalAveragePool + Flatten, MaxPool) says
which. The final Conv/Gemm, whose output reaches ``logits`` without a QuantizeLinear, keeps its
int32 accumulators. Float scales become the contract's multipliers and shifts here; anything
else raises :class:`CompileError` naming the node.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..emulator.layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d, output_size
from ..engine.limits import engine_limits
from ..errors import MSPError
from ..fileio import show, strict_json
from ..numerics.activations import ACT_BITS, S8, ActSpec
from ..numerics.bounds import BIAS_MAX
from ..numerics.lowering import lower_add, lower_avg_pool, lower_weight_layer
from ..numerics.schemes import parse_scheme


#: ONNX default-domain opsets the importers read: from 7 (Conv, Gemm, BatchNormalization,
#: MaxPool, Reshape with a shape input as the float importer maps them) to 21 (QuantizeLinear
#: and DequantizeLinear as read here; later opsets add attributes this reader would ignore).
OPSET_MIN, OPSET_MAX = 7, 21
#: The QDQ reader needs per-row (axis) DequantizeLinear: opset 13 and later.
QDQ_OPSET_MIN = 13


class CompileError(MSPError):
    """The ONNX model holds something the MSP engine cannot run."""


@dataclass
class IntTensor:
    name: str
    spec: ActSpec
    scale: float
    shape: tuple          # (H, W, C) or (C,)
    nchw_flat: bool = False   # an ONNX Flatten of (H, W, C): the next Gemm's columns are C, H, W


@dataclass
class Program:
    layers: list
    input: IntTensor
    logit_scale: np.ndarray
    meta: dict = field(default_factory=dict)


def _scale(value: np.ndarray, tensor: str, node: str) -> float:
    """A quantization scale: one finite positive number (0, a negative, NaN or inf would divide
    by zero or give nonsense multipliers)."""
    v = np.asarray(value)
    if v.size != 1 or v.dtype.kind != "f" or not math.isfinite(float(v.reshape(-1)[0])) \
            or float(v.reshape(-1)[0]) <= 0:
        raise CompileError(f"node {show(repr(node))}: scale {show(repr(tensor))} is "
                           f"{_brief(v)}, expected one finite number > 0")
    return float(v.reshape(-1)[0])


def _brief(v: np.ndarray) -> str:
    return f"{v.dtype} {list(v.shape)} {v.reshape(-1)[:4].tolist()}"


def _zero_point(value: np.ndarray, tensor: str, node: str, dtypes: tuple) -> np.ndarray:
    """Zero points: the contract's integers are symmetric, so every zero point is 0."""
    zp = np.asarray(value)
    if zp.dtype not in dtypes or np.any(zp != 0):
        raise CompileError(f"node {show(repr(node))}: zero point {show(repr(tensor))} is {_brief(zp)}, "
                           f"expected 0 of type {' or '.join(np.dtype(d).name for d in dtypes)}")
    return zp


def _meta_json(meta: dict, key: str, default: str, kind: type):
    value = strict_json(meta.get(key, default), f"ONNX metadata {key}")
    if not isinstance(value, kind):
        raise CompileError(f"ONNX metadata {key} is a {type(value).__name__}, expected a "
                           f"{'JSON object' if kind is dict else 'JSON list'}")
    return value


def _input_shape(inp: dict) -> tuple:
    lim = engine_limits()
    shape = []
    for key, high in (("height", lim.size), ("width", lim.size), ("channels", lim.channels)):
        v = inp.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= high:
            raise CompileError(f"ONNX metadata msp_pynq.input: {key} is {show(repr(v))}, expected "
                               f"an integer in [1, {high}]")
        shape.append(v)
    return tuple(shape)


def _spec(node_name: str, zp: np.ndarray, scale: float, hi: float) -> ActSpec:
    if zp.dtype == np.int8:
        return S8
    steps = int(round(hi / scale))
    for bits in ACT_BITS:
        if steps == ActSpec(bits).hi:
            return ActSpec(bits)
    raise CompileError(f"node {node_name!r}: clip {hi:g} at scale {scale:g} is {steps} steps, "
                       f"not a 4-, 5- or 8-bit activation")


def tensor_array(tensor, where: str) -> np.ndarray:
    """The numpy array of an ONNX TensorProto; a tensor whose data do not match its declared
    type and shape is refused naming ``where``, never a numpy traceback."""
    from onnx import numpy_helper
    try:
        return numpy_helper.to_array(tensor)
    except Exception as exc:          # ValueError, TypeError, KeyError of a damaged tensor
        raise CompileError(f"{where}: tensor {show(repr(tensor.name))} is damaged: its data do not "
                           f"match its type and shape {list(tensor.dims)} ({type(exc).__name__})") from None


class _Graph:
    def __init__(self, model) -> None:
        self.consts = {t.name: tensor_array(t, f"initializer {t.name!r}") for t in model.graph.initializer}
        self.producer = {o: n for n in model.graph.node for o in n.output}
        for n in model.graph.node:                       # Constant nodes as initializers
            if n.op_type == "Constant":
                if len(n.attribute) != 1 or not n.attribute[0].HasField("t") or len(n.output) != 1:
                    raise CompileError(f"node {n.name!r}: a Constant must hold one tensor 'value'")
                self.consts[n.output[0]] = tensor_array(n.attribute[0].t, f"node {n.name!r}")

    def const(self, name: str, where: str) -> np.ndarray:
        if name not in self.consts:
            raise CompileError(f"node {where!r}: input {name!r} must be a constant")
        return self.consts[name]

    def attr(self, node, key: str, default=None):
        from onnx import helper
        for a in node.attribute:
            if a.name == key:
                return helper.get_attribute_value(a)
        return default


def read_program(model) -> Program:
    """The integer program of an msp-pynq QDQ ONNX ``ModelProto``."""
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("msp_pynq.format") != "msp-pynq-onnx/1":
        raise CompileError("not an msp-pynq QDQ model (metadata msp_pynq.format missing); "
                           "float ONNX models go through `msp-pynq quantize --onnx`")
    version = {o.domain or "ai.onnx": o.version for o in model.opset_import}.get("ai.onnx")
    if version is None or not QDQ_OPSET_MIN <= version <= OPSET_MAX:
        raise CompileError(f"ONNX opset {version}: msp-pynq QDQ models are opset {QDQ_OPSET_MIN} "
                           f"to {OPSET_MAX}")
    rows_meta = _meta_json(meta, "msp_pynq.layers", "{}", dict)
    inp = _meta_json(meta, "msp_pynq.input", "{}", dict)
    g = _Graph(model)
    ints: dict = {}
    layers: list = []
    network_input = None
    for node in model.graph.node:
        if node.op_type == "Flatten" and node.input[0] in ints:      # a free reshape in NHWC
            x = ints[node.input[0]]
            ints[node.output[0]] = IntTensor(x.name, x.spec, x.scale, x.shape, nchw_flat=len(x.shape) == 3)
            continue
        if node.op_type != "QuantizeLinear":
            continue
        clip = g.producer.get(node.input[0])
        if clip is None or clip.op_type != "Clip":
            raise CompileError(f"node {node.name!r}: QuantizeLinear must follow a Clip")
        if len(node.input) != 3 or len(clip.input) != 3:
            raise CompileError(f"node {show(repr(node.name))}: QuantizeLinear and its Clip need "
                               f"explicit scale, zero point and bounds")
        scale = _scale(g.const(node.input[1], node.name), node.input[1], node.name)
        zp = _zero_point(g.const(node.input[2], node.name), node.input[2], node.name, (np.uint8, np.int8))
        hi = _scale(g.const(clip.input[2], clip.name), clip.input[2], clip.name)
        spec = _spec(node.name, zp, scale, hi)
        dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == node.output[0]]
        if len(dq) != 1:
            raise CompileError(f"node {node.name!r}: expected one DequantizeLinear after it")
        out_name = dq[0].output[0]
        src = g.producer.get(clip.input[0])
        if src is None:                                   # the network input
            if spec.bits != 8 or spec.signed or abs(scale * 255 - 1) > 1e-6:
                raise CompileError("the network input must be quantized to uint8 at scale 1/255")
            network_input = IntTensor("input", spec, scale, _input_shape(inp))
            ints[out_name] = network_input
            continue
        out = IntTensor(out_name, spec, scale, ())
        layer = _layer(g, src, out, ints, rows_meta)
        ints[out_name] = out
        layers.append(layer)
    if network_input is None:
        raise CompileError("the model never quantizes its input")
    if len(model.graph.output) != 1:
        raise CompileError(f"the model has {len(model.graph.output)} outputs, expected one (the logits)")
    final, seen = g.producer.get(model.graph.output[0].name), set()
    while final is not None and final.op_type == "Identity":
        if id(final) in seen:           # load_onnx refuses cycles; a ModelProto built in code may hold one
            raise CompileError(f"node {show(repr(final.name))}: Identity nodes form a cycle")
        seen.add(id(final))
        final = g.producer.get(final.input[0])
    if final is None or final.op_type not in ("Gemm", "Conv"):
        raise CompileError("the output must come from a Conv or Gemm (the logits layer)")
    logits = IntTensor(final.output[0], None, 1.0, ())
    layers.append(_layer(g, final, logits, ints, rows_meta))
    return Program(layers, network_input, logits.scale, meta)


def _row_values(g: _Graph, node, index: int, rows: int, what: str, where: str) -> np.ndarray:
    """A per-row float constant (one value, or one per row) as float64 ``[rows]``."""
    v = np.asarray(g.const(node.input[index], where))
    if v.dtype.kind not in "fiu" or v.size not in (1, rows):
        raise CompileError(f"node {where!r}: {what} {show(repr(node.input[index]))} is {v.dtype} "
                           f"{list(v.shape)}, expected 1 or {rows} numbers")
    return np.broadcast_to(v.astype(np.float64).reshape(-1), (rows,))


def _int_input(ints: dict, name: str, where: str) -> IntTensor:
    if name not in ints:
        raise CompileError(f"node {where!r}: input {name!r} is not a quantized activation")
    return ints[name]


def _layer(g: _Graph, node, out: IntTensor, ints: dict, rows_meta: dict):
    op = node.op_type
    if op in ("Conv", "Gemm"):
        return _weight_layer(g, node, out, ints, rows_meta)
    if op == "Add":
        a, b = (_int_input(ints, n, node.name) for n in node.input)
        if a.shape != b.shape:
            raise CompileError(f"node {node.name!r}: adds shapes {a.shape} and {b.shape}")
        (ma, mb), s = lower_add(a.scale, b.scale, out.scale)
        out.shape = a.shape
        return Add(name=node.name, inputs=(a.name, b.name), in_specs=(a.spec, b.spec),
                   multipliers=(ma, mb), shift=s, out_spec=out.spec, output=out.name)
    if op == "Flatten":
        gap = g.producer.get(node.input[0])
        if gap is None or gap.op_type != "GlobalAveragePool":
            raise CompileError(f"node {node.name!r}: Flatten is supported after GlobalAveragePool only")
        x = _int_input(ints, gap.input[0], gap.name)
        if len(x.shape) != 3:
            raise CompileError(f"node {gap.name!r}: input of shape {x.shape}, expected (H, W, C)")
        h, w, c = x.shape
        m, s = lower_avg_pool(x.scale, h * w, out.scale)
        out.shape = (c,)
        return GlobalAvgPool(name=gap.name, inputs=(x.name,), multiplier=int(m), shift=int(s),
                             in_spec=x.spec, out_spec=out.spec, output=out.name)
    if op == "MaxPool":
        x = _int_input(ints, node.input[0], node.name)
        if abs(x.scale - out.scale) > 1e-9 * x.scale or x.spec != out.spec:
            raise CompileError(f"node {node.name!r}: max pool must keep its input's scale and type")
        k, s, pads = _window(g, node, g.attr(node, "kernel_shape"))
        pool = MaxPool2d(name=node.name, kernel=k, stride=s, inputs=(x.name,),
                         padding=pads, spec=x.spec, output=out.name)
        out.shape = _out_shape(node.name, x, k, s, pads, x.shape[-1])
        return pool
    raise CompileError(f"node {node.name!r}: {op} cannot run on the MSP engine "
                       f"(supported: Conv, Gemm, Add, MaxPool, GlobalAveragePool + Flatten)")


def _weight_layer(g: _Graph, node, out: IntTensor, ints: dict, rows_meta: dict):
    x = _int_input(ints, node.input[0], node.name)
    wdq = g.producer.get(node.input[1])
    if wdq is None or wdq.op_type != "DequantizeLinear":
        raise CompileError(f"node {node.name!r}: weights must be an int8 initializer behind DequantizeLinear")
    q = g.const(wdq.input[0], node.name)
    if q.dtype != np.int8 or q.ndim not in (2, 4) or 0 in q.shape:
        raise CompileError(f"node {node.name!r}: weights are {q.dtype} {list(q.shape)}, expected int8 "
                           f"levels [rows, K] or [rows, C, kh, kw]")
    s_w = _row_values(g, wdq, 1, q.shape[0], "weight scales", node.name)
    if not np.all(np.isfinite(s_w)) or np.any(s_w <= 0):
        raise CompileError(f"node {node.name!r}: weight scales {show(repr(wdq.input[1]))} hold "
                           f"{s_w[~(np.isfinite(s_w) & (s_w > 0))][:4].tolist()}, expected finite numbers > 0")
    if len(wdq.input) > 2:
        _zero_point(g.const(wdq.input[2], node.name), wdq.input[2], wdq.name, (np.int8,))
    bias = _row_values(g, node, 2, q.shape[0], "bias", node.name) if len(node.input) > 2 \
        else np.zeros(q.shape[0])
    if not np.all(np.isfinite(bias)):
        raise CompileError(f"node {node.name!r}: bias {show(repr(node.input[2]))} holds NaN or inf")
    if np.any(np.abs(bias) / (x.scale * s_w) > BIAS_MAX):             # before rounding to int64
        raise CompileError(f"node {node.name!r}: bias needs more than 31 bits at this scale")
    info = rows_meta.get(node.name)
    if info is None:
        raise CompileError(f"node {node.name!r}: no row schemes in the model metadata")
    if not isinstance(info, dict) or not isinstance(info.get("schemes"), list) \
            or len(info["schemes"]) != q.shape[0] or not all(isinstance(v, str) for v in info["schemes"]):
        raise CompileError(f"node {node.name!r}: metadata msp_pynq.layers gives {show(repr(info)[:80])}, "
                           f"expected {{'schemes': [{q.shape[0]} scheme names]}}")
    try:
        schemes = [parse_scheme(s) for s in info["schemes"]]
    except MSPError:
        raise CompileError(f"node {node.name!r}: row schemes {sorted(set(info['schemes']))} include one "
                           f"with no engine core (engine schemes: fixed4, fixed8, sp2_4)") from None
    low = lower_weight_layer(x.scale, s_w, bias, out.scale if out.spec is not None else None)
    if np.abs(low.bias).max(initial=0) > BIAS_MAX:
        raise CompileError(f"node {node.name!r}: bias needs more than 31 bits at this scale")
    common = dict(name=node.name, inputs=(x.name,), schemes=[int(s) for s in schemes],
                  bias=low.bias, in_spec=x.spec, out_spec=out.spec, output=out.name)
    if out.spec is not None:
        common.update(multiplier=low.multiplier, shift=low.shift)
    else:
        out.scale = low.acc_scale                      # logits: float64 scale per row
    if node.op_type == "Gemm":
        if g.attr(node, "transB", 0) != 1:
            raise CompileError(f"node {node.name!r}: Gemm must have transB=1")
        k = int(np.prod(x.shape))
        if q.shape[1] != k:
            raise CompileError(f"node {node.name!r}: weights take {q.shape[1]} inputs, the input has {k}")
        if x.nchw_flat:                 # ONNX flattened C, H, W; the emulator flattens H, W, C
            h, w, c = x.shape
            q = q.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(q.shape[0], -1)
        out.shape = (q.shape[0],)
        return Linear(weights=np.ascontiguousarray(q), **common)
    if g.attr(node, "group", 1) != 1 or any(d != 1 for d in g.attr(node, "dilations", [1, 1])):
        raise CompileError(f"node {node.name!r}: grouped or dilated convolution")
    if q.ndim != 4:
        raise CompileError(f"node {node.name!r}: Conv weights of shape {list(q.shape)}, expected [rows, C, kh, kw]")
    cout, cin, kh, kw = q.shape
    (kh, kw), strides, pads = _window(g, node, g.attr(node, "kernel_shape", [kh, kw]))
    if (kh, kw) != q.shape[2:]:
        raise CompileError(f"node {node.name!r}: kernel_shape {[kh, kw]} differs from the weights' {list(q.shape[2:])}")
    if len(x.shape) != 3 or x.shape[2] != cin:
        raise CompileError(f"node {node.name!r}: weights take {cin} channels, the input has shape {x.shape}")
    out.shape = _out_shape(node.name, x, (kh, kw), strides, pads, cout)
    return Conv2d(weights=q.transpose(0, 2, 3, 1), stride=strides, padding=pads, **common)


def _window(g: _Graph, node, kernel) -> tuple:
    """``(kernel, strides, pads)`` of a Conv/MaxPool: 2, 2 and 4 integers (the layer checks them
    against the engine's limits)."""
    strides, pads = g.attr(node, "strides", [1, 1]), g.attr(node, "pads", [0, 0, 0, 0])
    for what, value, n, low in (("kernel_shape", kernel, 2, 1), ("strides", strides, 2, 1), ("pads", pads, 4, 0)):
        if not isinstance(value, (list, tuple)) or len(value) != n or not all(
                isinstance(v, int) and v >= low for v in value):
            raise CompileError(f"node {node.name!r}: {what} is {show(repr(value))}, expected {n} "
                               f"integers >= {low}")
    return tuple(kernel), tuple(strides), tuple(pads)


def _out_shape(name: str, x: IntTensor, kernel: tuple, strides: tuple, pads: tuple, channels: int) -> tuple:
    if len(x.shape) != 3:
        raise CompileError(f"node {name!r}: input of shape {x.shape}, expected (H, W, C)")
    h, w, _ = x.shape
    return (output_size(h, kernel[0], strides[0], pads[0], pads[2], name),
            output_size(w, kernel[1], strides[1], pads[1], pads[3], name), channels)
