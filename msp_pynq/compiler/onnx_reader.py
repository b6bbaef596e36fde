"""Read an msp-pynq QDQ ONNX model (docs/formats.md) into integer emulator layers.

Every ``QuantizeLinear`` fed by a ``Clip`` is one integer layer: the node that produced the
clip's input (the network input, Conv, Gemm, Add, GlobalAveragePool + Flatten, MaxPool) says
which. The final Conv/Gemm, whose output reaches ``logits`` without a QuantizeLinear, keeps its
int32 accumulators. Float scales become the contract's multipliers and shifts here; anything
else raises :class:`CompileError` naming the node.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ..emulator.layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d
from ..errors import MSPError
from ..numerics.activations import S8, ActSpec
from ..numerics.bounds import BIAS_MAX
from ..numerics.lowering import lower_add, lower_avg_pool, lower_weight_layer
from ..numerics.schemes import parse_scheme


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


def _spec(node_name: str, zp: np.ndarray, scale: float, hi: float) -> ActSpec:
    if zp.dtype == np.int8:
        return S8
    steps = int(round(hi / scale))
    for bits in (4, 5, 8):
        if steps == (1 << bits) - 1:
            return ActSpec(bits)
    raise CompileError(f"node {node_name!r}: clip {hi:g} at scale {scale:g} is {steps} steps, "
                       f"not a 4-, 5- or 8-bit activation")


class _Graph:
    def __init__(self, model) -> None:
        from onnx import numpy_helper
        self.consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.producer = {o: n for n in model.graph.node for o in n.output}
        for n in model.graph.node:                       # Constant nodes as initializers
            if n.op_type == "Constant":
                self.consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)

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
    rows_meta = json.loads(meta.get("msp_pynq.layers", "{}"))
    inp = json.loads(meta.get("msp_pynq.input", "{}"))
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
        scale = float(g.const(node.input[1], node.name))
        zp = g.const(node.input[2], node.name)
        if np.any(zp != 0):
            raise CompileError(f"node {node.name!r}: zero point must be 0")
        hi = float(g.const(clip.input[2], clip.name))
        spec = _spec(node.name, zp, scale, hi)
        dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == node.output[0]]
        if len(dq) != 1:
            raise CompileError(f"node {node.name!r}: expected one DequantizeLinear after it")
        out_name = dq[0].output[0]
        src = g.producer.get(clip.input[0])
        if src is None:                                   # the network input
            if spec.bits != 8 or spec.signed or abs(scale * 255 - 1) > 1e-6:
                raise CompileError("the network input must be quantized to uint8 at scale 1/255")
            network_input = IntTensor("input", spec, scale, (inp["height"], inp["width"], inp["channels"]))
            ints[out_name] = network_input
            continue
        out = IntTensor(out_name, spec, scale, ())
        layer = _layer(g, src, out, ints, rows_meta)
        ints[out_name] = out
        layers.append(layer)
    if network_input is None:
        raise CompileError("the model never quantizes its input")
    final = g.producer.get(model.graph.output[0].name)
    while final is not None and final.op_type == "Identity":
        final = g.producer.get(final.input[0])
    if final is None or final.op_type not in ("Gemm", "Conv"):
        raise CompileError("the output must come from a Conv or Gemm (the logits layer)")
    logits = IntTensor(final.output[0], None, 1.0, ())
    layers.append(_layer(g, final, logits, ints, rows_meta))
    return Program(layers, network_input, logits.scale, meta)


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
        h, w, c = x.shape
        m, s = lower_avg_pool(x.scale, h * w, out.scale)
        out.shape = (c,)
        return GlobalAvgPool(name=gap.name, inputs=(x.name,), multiplier=int(m), shift=int(s),
                             in_spec=x.spec, out_spec=out.spec, output=out.name)
    if op == "MaxPool":
        x = _int_input(ints, node.input[0], node.name)
        if abs(x.scale - out.scale) > 1e-9 * x.scale or x.spec != out.spec:
            raise CompileError(f"node {node.name!r}: max pool must keep its input's scale and type")
        k, s = g.attr(node, "kernel_shape"), g.attr(node, "strides", [1, 1])
        pads = g.attr(node, "pads", [0, 0, 0, 0])
        pool = MaxPool2d(name=node.name, kernel=tuple(k), stride=tuple(s), inputs=(x.name,),
                         padding=(pads[0], pads[1], pads[2], pads[3]), spec=x.spec, output=out.name)
        h, w, c = x.shape
        out.shape = ((h + pads[0] + pads[2] - k[0]) // s[0] + 1, (w + pads[1] + pads[3] - k[1]) // s[1] + 1, c)
        return pool
    raise CompileError(f"node {node.name!r}: {op} cannot run on the MSP engine "
                       f"(supported: Conv, Gemm, Add, MaxPool, GlobalAveragePool + Flatten)")


def _weight_layer(g: _Graph, node, out: IntTensor, ints: dict, rows_meta: dict):
    x = _int_input(ints, node.input[0], node.name)
    wdq = g.producer.get(node.input[1])
    if wdq is None or wdq.op_type != "DequantizeLinear":
        raise CompileError(f"node {node.name!r}: weights must be an int8 initializer behind DequantizeLinear")
    q = g.const(wdq.input[0], node.name)
    s_w = np.broadcast_to(g.const(wdq.input[1], node.name).astype(np.float64), (q.shape[0],))
    if q.dtype != np.int8:
        raise CompileError(f"node {node.name!r}: weights are {q.dtype}, expected int8 levels")
    bias = g.const(node.input[2], node.name).astype(np.float64) if len(node.input) > 2 \
        else np.zeros(q.shape[0])
    info = rows_meta.get(node.name)
    if info is None:
        raise CompileError(f"node {node.name!r}: no row schemes in the model metadata")
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
    pads, strides = g.attr(node, "pads", [0, 0, 0, 0]), g.attr(node, "strides", [1, 1])
    cout, cin, kh, kw = q.shape
    h, w, c = x.shape
    if c != cin:
        raise CompileError(f"node {node.name!r}: weights take {cin} channels, the input has {c}")
    out.shape = ((h + pads[0] + pads[2] - kh) // strides[0] + 1,
                 (w + pads[1] + pads[3] - kw) // strides[1] + 1, cout)
    return Conv2d(weights=q.transpose(0, 2, 3, 1), stride=tuple(strides),
                  padding=(pads[0], pads[1], pads[2], pads[3]), **common)
