"""Float ONNX CNN -> an equivalent torch module, so that the QAT tooling (quantize, calibrate,
to_onnx) also serves post-training quantization of models trained elsewhere.

Supported: Conv (any auto_pad), a bias Add after Conv/MatMul, BatchNormalization, Relu,
MaxPool, GlobalAveragePool, Flatten / Reshape to 2-D, MatMul or Gemm with constant weights,
residual Add, Identity and Dropout. Constant sub-graphs (Reshape or Transpose of initializers)
are folded. Anything else raises CompileError naming the node.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..compiler.onnx_reader import CompileError, tensor_array
from ..engine.limits import engine_limits
from ..fileio import show
from ..models.points import QuantPoint
from ..numerics.bounds import ceil_div
from .quantize import MAX_CALIB_BYTES


def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _fold_constants(model) -> dict:
    consts = {t.name: tensor_array(t, f"initializer {t.name!r}") for t in model.graph.initializer}
    for node in model.graph.node:
        a = _attrs(node)
        if node.op_type == "Constant":
            if "value" not in a or len(node.output) != 1:
                raise CompileError(f"node {node.name!r}: a Constant must hold one tensor 'value'")
            consts[node.output[0]] = tensor_array(node.attribute[0].t, f"node {node.name!r}")
        elif node.input and all(i in consts for i in node.input):
            try:             # reshape and transpose make views: no size beyond the initializer's
                if node.op_type == "Reshape":
                    consts[node.output[0]] = consts[node.input[0]].reshape(consts[node.input[1]])
                elif node.op_type == "Transpose":
                    consts[node.output[0]] = consts[node.input[0]].transpose(a.get("perm"))
            except (ValueError, TypeError, IndexError) as exc:
                raise CompileError(f"node {node.name!r}: cannot fold {node.op_type} of constants ({exc})") from None
    return consts


def _check_window(node, kernel, strides, pads) -> None:
    """Kernel, strides and pads within the engine's limits: what the engine cannot run is
    refused here, before a calibration pass over a huge padded input could start."""
    lim = engine_limits()
    for what, values, low, high in (("kernel_shape", kernel, 1, lim.kernel), ("strides", strides, 1, lim.stride),
                                    ("pads", pads, 0, lim.padding)):
        if not isinstance(values, (list, tuple)) or not all(isinstance(v, int) and low <= v <= high for v in values):
            raise CompileError(f"node {node.name!r}: {what} {show(repr(values))} outside the engine's "
                               f"range [{low}, {high}]")


def _input_dims(inp) -> list:
    """``[N, C, H, W]`` of the image input, sizes checked before any image is made for it."""
    dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    if len(dims) != 4 or min(dims[1:], default=0) < 1:
        raise CompileError(f"input {inp.name!r} must be [N, C, H, W] with fixed C, H, W, found {dims}")
    lim = engine_limits()
    _, c, h, w = dims
    if max(h, w) > lim.size or c > lim.channels or c * h * w > MAX_CALIB_BYTES:
        raise CompileError(f"input {show(repr(inp.name))} of {c} x {h} x {w} is too large: the engine "
                           f"takes images of at most {lim.size} x {lim.size} pixels of {lim.channels} "
                           f"channels, and one calibration image may take at most {MAX_CALIB_BYTES:,} bytes")
    return dims


class ImportedNet(nn.Module):
    """A float ONNX graph as a torch module: a static program over named tensors."""

    def __init__(self, program: list, modules: dict, input_name: str, output_name: str) -> None:
        super().__init__()
        self.mods = nn.ModuleDict(modules)
        self.program, self.input_name, self.output_name = program, input_name, output_name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        env = {self.input_name: x}
        for kind, key, inputs, output in self.program:
            if kind == "module":
                env[output] = self.mods[key](env[inputs[0]])
            elif kind == "add":
                env[output] = env[inputs[0]] + env[inputs[1]]
            else:                                              # flatten
                env[output] = torch.flatten(env[inputs[0]], 1)
        return env[self.output_name]


def _conv(node, a: dict, w: np.ndarray, in_hw: tuple) -> nn.Conv2d:
    cout, cin, kh, kw = w.shape
    strides = a.get("strides", [1, 1])
    _check_window(node, [kh, kw], strides, a.get("pads", [0, 0, 0, 0]))
    if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1])):
        raise CompileError(f"node {node.name!r}: grouped or dilated convolution")
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, k, s in zip(in_hw, (kh, kw), strides):
            total = max((ceil_div(size, s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2) if auto == "SAME_UPPER" else (total - total // 2, total // 2))
        pt, pb = pads[0]
        pl, pr = pads[1]
    elif auto == "VALID":
        pt = pl = pb = pr = 0
    else:
        pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
    if (pt, pl) != (pb, pr):
        raise CompileError(f"node {node.name!r}: asymmetric padding {(pt, pl, pb, pr)} is not supported")
    conv = nn.Conv2d(cin, cout, (kh, kw), tuple(strides), (pt, pl), bias=True)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w.astype(np.float32)))
        conv.bias.zero_()
    return conv


def import_onnx(model, input_range: float = 1.0) -> "tuple[ImportedNet, dict]":
    """``(module, info)`` for a float ONNX CNN whose input pixel value 255 reads as ``input_range``.

    The module takes ``float [N, C, H, W]`` = pixels / 255 (the msp-pynq convention); the first
    convolution absorbs ``input_range``. ``info`` has the input's channels, height and width.
    """
    from onnx import shape_inference
    try:
        model = shape_inference.infer_shapes(model, strict_mode=False)
    except Exception as exc:          # onnx.shape_inference.InferenceError and the like
        raise CompileError(f"ONNX shape inference failed ({type(exc).__name__}: {str(exc)[:200]})") from None
    consts = _fold_constants(model)
    graph_inputs = [i for i in model.graph.input if i.name not in consts]
    if len(graph_inputs) != 1:
        raise CompileError(f"expected one image input, found {[i.name for i in graph_inputs]}")
    dims = _input_dims(graph_inputs[0])
    shapes = {graph_inputs[0].name: dims}
    for v in list(model.graph.value_info) + list(model.graph.output):
        shapes[v.name] = [d.dim_value for d in v.type.tensor_type.shape.dim]
    program, modules, producer, alias = [], {}, {}, {}
    first_conv = [True]
    for node in model.graph.node:
        try:
            _import_node(node, consts, shapes, producer, alias, program, modules, first_conv, input_range)
        except CompileError:
            raise
        except (KeyError, IndexError, ValueError, TypeError, RuntimeError) as exc:
            # a node missing an input, an attribute or a constant the mapping needs
            raise CompileError(f"node {show(repr(node.name))} ({show(node.op_type)}): malformed "
                               f"({type(exc).__name__}: {str(exc)[:200]})") from None
    out = alias.get(model.graph.output[0].name, model.graph.output[0].name)
    info = {"channels": dims[1], "height": dims[2], "width": dims[3]}
    return ImportedNet(program, modules, graph_inputs[0].name, out), info


def _import_node(node, consts: dict, shapes: dict, producer: dict, alias: dict, program: list,
                 modules: dict, first_conv: list, input_range: float) -> None:
    """Map one ONNX node onto the program (torch modules, adds, flattens, aliases)."""
    def src(name: str) -> str:
        return alias.get(name, name)

    def add_module(kind_key: str, mod: nn.Module, inp: str, out: str) -> None:
        key = f"m{len(modules)}_{kind_key}"
        modules[key] = mod
        program.append(("module", key, [src(inp)], out))
        producer[out] = mod

    op, a = node.op_type, _attrs(node)
    if all(i in consts for i in node.input if i) or node.op_type == "Constant":
        return                                             # folded
    x = node.input[0]
    if op == "Conv":
        w = consts.get(node.input[1])
        if w is None:
            raise CompileError(f"node {node.name!r}: weights must be constant")
        if first_conv[0]:
            w, first_conv[0] = w * input_range, False
        conv = _conv(node, a, w, tuple(shapes[x][2:]) if x in shapes else (0, 0))
        if len(node.input) > 2:
            with torch.no_grad():
                conv.bias.copy_(torch.from_numpy(consts[node.input[2]].astype(np.float32)))
        add_module("conv", conv, x, node.output[0])
    elif op == "Add" and (node.input[1] in consts or node.input[0] in consts):
        const_in = 1 if node.input[1] in consts else 0
        b = consts[node.input[const_in]].reshape(-1)
        layer = producer.get(src(node.input[1 - const_in]))
        if not isinstance(layer, (nn.Conv2d, nn.Linear)) or layer.bias is None or len(b) != layer.weight.shape[0]:
            raise CompileError(f"node {node.name!r}: a constant Add must be the bias of a Conv or MatMul")
        with torch.no_grad():
            layer.bias.add_(torch.from_numpy(b.astype(np.float32)))
        alias[node.output[0]] = src(node.input[1 - const_in])
        producer[node.output[0]] = layer
    elif op == "Add":
        ins = []
        for i in node.input:                               # quantize non-ReLU branches to s8
            if not isinstance(producer.get(src(i)), nn.ReLU):
                add_module("q", QuantPoint(signed=True), i, i + ".q")
                ins.append(i + ".q")
            else:
                ins.append(src(i))
        program.append(("add", None, ins, node.output[0]))
    elif op == "Relu":
        add_module("relu", nn.ReLU(), x, node.output[0])
    elif op == "MaxPool":
        pads = a.get("pads", [0, 0, 0, 0])
        if pads[:2] != pads[2:]:
            raise CompileError(f"node {node.name!r}: asymmetric pooling pads")
        _check_window(node, a["kernel_shape"], a.get("strides", a["kernel_shape"]), pads)
        add_module("maxpool", nn.MaxPool2d(tuple(a["kernel_shape"]), tuple(a.get("strides", a["kernel_shape"])),
                                            tuple(pads[:2])), x, node.output[0])
    elif op == "GlobalAveragePool":
        add_module("gap", nn.AdaptiveAvgPool2d(1), x, node.output[0] + ".pool")
        program.append(("flatten", None, [node.output[0] + ".pool"], node.output[0] + ".flat"))
        add_module("qpool", QuantPoint(signed=False, bits=8), node.output[0] + ".flat", node.output[0])
    elif op in ("Flatten", "Reshape"):
        if op == "Reshape" and len(shapes.get(node.output[0], [0, 0])) != 2:
            raise CompileError(f"node {node.name!r}: only a Reshape to [N, features] is supported")
        program.append(("flatten", None, [src(x)], node.output[0]))
    elif op in ("MatMul", "Gemm"):
        w = consts.get(node.input[1])
        if w is None:
            raise CompileError(f"node {node.name!r}: weights must be constant")
        if op == "Gemm":
            if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
                raise CompileError(f"node {node.name!r}: Gemm with transA, alpha or beta")
            w = w if a.get("transB", 0) else w.T
        else:
            w = w.T
        lin = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w).astype(np.float32)))
            lin.bias.copy_(torch.from_numpy(consts[node.input[2]].astype(np.float32))
                           if op == "Gemm" and len(node.input) > 2 else torch.zeros(w.shape[0]))
        add_module("fc", lin, x, node.output[0])
    elif op == "BatchNormalization":
        c = len(consts[node.input[1]])
        bn = nn.BatchNorm2d(c, eps=a.get("epsilon", 1e-5))
        with torch.no_grad():
            for name, idx in (("weight", 1), ("bias", 2), ("running_mean", 3), ("running_var", 4)):
                getattr(bn, name).copy_(torch.from_numpy(consts[node.input[idx]].astype(np.float32)))
        add_module("bn", bn, x, node.output[0])
    elif op in ("Identity", "Dropout"):
        alias[node.output[0]] = src(x)
        producer[node.output[0]] = producer.get(src(x))
    else:
        raise CompileError(f"node {node.name!r}: {op} is not supported by the MSP importer")
