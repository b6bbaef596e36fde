"""Export a quantized (QAT) model to standard ONNX: QuantizeLinear/DequantizeLinear around
float Conv/Gemm/Add/pools, with the MSP row schemes in the model's metadata (docs/formats.md).

Every activation quantizer becomes ``Clip -> QuantizeLinear -> DequantizeLinear`` (the clip
carries the bit width: 0..15 in a uint8 is u4); every weight is an int8 initializer behind a
per-row (axis 0) DequantizeLinear. The network input is float pixels / 255 in NCHW, quantized
first to uint8 pixels (scale 1/255).
"""
from __future__ import annotations

import json

import numpy as np
from torch import nn

from ..errors import MSPError
from ..fileio import atomic_output, show
from ..quant.api import fold_batch_norm
from ..quant.graph import Step, trace_steps, walk
from ..quant.modules import QAct, QConv2d, QLinear

FORMAT_KEY = "msp_pynq.format"
FORMAT = "msp-pynq-onnx/1"


class _Emitter:
    def __init__(self) -> None:
        from onnx import helper
        self.helper, self.nodes, self.inits, self.layers = helper, [], [], {}
        self.qparams: dict = {}          # dequantized tensor -> (scale, signed, lo, hi)

    def const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list, output: str, name: str, **attrs) -> str:
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def qdq(self, x: str, name: str, scale: float, signed: bool, lo: float, hi: float) -> str:
        """Clip to [lo, hi], quantize to (u)int8 at ``scale``, dequantize."""
        self.qparams[name] = (scale, signed, lo, hi)
        clip = self.node("Clip", [x, self.const(f"{name}.lo", np.float32(lo)),
                                  self.const(f"{name}.hi", np.float32(hi))], f"{name}.clip", f"{name}.clip")
        zp = self.const(f"{name}.zp", np.int8(0) if signed else np.uint8(0))
        sc = self.const(f"{name}.scale", np.float32(scale))
        q = self.node("QuantizeLinear", [clip, sc, zp], f"{name}.q", f"{name}.quant")
        return self.node("DequantizeLinear", [q, sc, zp], name, f"{name}.dequant")


def _weight(e: _Emitter, name: str, mod) -> str:
    """int8 levels behind a per-row DequantizeLinear."""
    q, scale = mod.export_weights()
    e.layers[name] = {"schemes": mod.schemes, "rows": int(q.shape[0])}
    return e.node("DequantizeLinear", [e.const(f"{name}.w_int", q), e.const(f"{name}.w_scale", scale),
                                       e.const(f"{name}.w_zp", np.zeros(len(scale), np.int8))],
                  f"{name}.w", f"{name}.w_dequant", axis=0)


def _bias(e: _Emitter, name: str, mod) -> str:
    b = mod.bias.detach().numpy() if mod.bias is not None else np.zeros(mod.weight.shape[0])
    return e.const(f"{name}.b", b.astype(np.float32))


def _emit(e: _Emitter, steps: "list[Step]", model: nn.Module) -> str:
    def handle(step: Step, args: list):
        tag = step.name
        if step.kind == "input":
            return e.qdq("input", "input_u8", 1 / 255, False, 0.0, 1.0)
        if step.kind == "module":
            return _emit_module(e, model.get_submodule(step.target), step.target, args)
        if step.kind == "add":
            return e.node("Add", args[:2], tag, tag)
        if step.kind == "flatten":
            return e.node("Flatten", args[:1], tag, tag, axis=1)
        if step.kind == "output":
            return args[0]
        raise MSPError(f"node {step.name!r} ({step.op} {step.target}) has no MSP export")

    return walk(steps, handle)


def _emit_module(e: _Emitter, mod: nn.Module, tag: str, args: list) -> str:
    if isinstance(mod, QConv2d):
        if mod.groups != 1 or mod.dilation != (1, 1) or mod.padding_mode != "zeros":
            raise MSPError(f"layer {tag!r}: only zero-padded, ungrouped, undilated convolutions export")
        pad = mod.padding if isinstance(mod.padding, tuple) else None
        if pad is None:
            raise MSPError(f"layer {tag!r}: padding {mod.padding!r} must be explicit integers")
        return e.node("Conv", [args[0], _weight(e, tag, mod), _bias(e, tag, mod)], tag, tag,
                      strides=list(mod.stride), pads=[pad[0], pad[1], pad[0], pad[1]],
                      kernel_shape=list(mod.kernel_size))
    if isinstance(mod, QLinear):
        return e.node("Gemm", [args[0], _weight(e, tag, mod), _bias(e, tag, mod)], tag, tag, transB=1)
    if isinstance(mod, QAct):
        a = abs(float(mod.alpha.detach()))
        return e.qdq(args[0], tag, a / mod.spec.hi, mod.signed, -a if mod.signed else 0.0, a)
    if isinstance(mod, nn.Identity):
        return args[0]
    if isinstance(mod, nn.AdaptiveAvgPool2d) and mod.output_size in (1, (1, 1)):
        return e.node("GlobalAveragePool", args[:1], tag, tag)
    if isinstance(mod, nn.MaxPool2d):
        k, s, p = (x if isinstance(x, tuple) else (x, x) for x in
                   (mod.kernel_size, mod.stride or mod.kernel_size, mod.padding))
        if args[0] not in e.qparams:
            raise MSPError(f"layer {tag!r}: max pool input must be a quantized activation")
        pooled = e.node("MaxPool", args[:1], f"{tag}.pool", tag, kernel_shape=list(k),
                        strides=list(s), pads=[p[0], p[1], p[0], p[1]])
        return e.qdq(pooled, f"{tag}.out", *e.qparams[args[0]])  # same scale
    if isinstance(mod, nn.Flatten):
        return e.node("Flatten", args[:1], tag, tag, axis=1)
    raise MSPError(f"layer {tag!r}: {type(mod).__name__} has no MSP export "
                   f"(supported: QConv2d, QLinear, QAct, pools, Flatten, Identity)")


def to_onnx(model: nn.Module, path: str, input_size: "tuple[int, int]" = (32, 32), channels: int = 3,
            class_names: "list[str] | None" = None, opset: int = 17) -> str:
    """Write the quantized ``model`` (from ``msp_pynq.quant.quantize``) as ONNX to ``path``.

    BN layers are folded first. Returns ``path``. The ONNX input is ``input`` float
    ``[N, channels, H, W]`` = pixels / 255; the output ``logits`` float ``[N, classes]``.

    >>> from msp_pynq.models import build_model            # doctest: +SKIP
    >>> from msp_pynq.quant import quantize, calibrate      # doctest: +SKIP
    >>> q = quantize(build_model("resnet20")); calibrate(q, torch.rand(8, 3, 32, 32))  # doctest: +SKIP
    >>> to_onnx(q, "resnet20_msp.onnx")                     # doctest: +SKIP
    """
    import onnx
    from onnx import TensorProto, helper

    from ..quant.integer_exact import IntegerExact
    if isinstance(model, IntegerExact):
        model = model.model
    if not hasattr(model, "msp_config"):
        raise MSPError("to_onnx exports quantized models: run msp_pynq.quant.quantize(model) first")
    folded = fold_batch_norm(model)
    e = _Emitter()
    out = _emit(e, trace_steps(folded), folded)
    e.node("Identity", [out], "logits", "logits")
    h, w = input_size
    graph = helper.make_graph(
        e.nodes, "msp_model",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", channels, h, w])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", None])], e.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="msp-pynq")
    meta = {FORMAT_KEY: FORMAT, "msp_pynq.config": json.dumps(model.msp_config),
            "msp_pynq.layers": json.dumps(e.layers),
            "msp_pynq.input": json.dumps({"layout": "NCHW", "channels": channels, "height": h, "width": w,
                                          "pixels": "float = uint8 / 255, RGB"}),
            "msp_pynq.classes": json.dumps(list(class_names) if class_names else [])}
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(m, full_check=True)
    try:
        with atomic_output(path) as tmp:         # an interrupted write leaves the old file
            _save(m, tmp)
    except OSError as exc:
        raise MSPError(f"{show(path)}: cannot write the ONNX model ({exc.strerror or exc})") from None
    return path


def _save(model, path) -> None:
    import onnx
    onnx.save(model, str(path))
