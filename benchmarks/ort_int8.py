"""The onnxruntime int8 baseline: the same layer shapes as an emulator Network, as a standard
QDQ-quantized ONNX model (onnxruntime.quantization.quantize_static, per-channel int8 weights,
uint8 activations), which onnxruntime's CPU provider runs with its integer kernels."""
from __future__ import annotations

import logging
import os
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from msp_pynq.emulator import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d, Network


def float_onnx(net: Network, image_size: int = 32, channels: int = 3) -> onnx.ModelProto:
    """A float ONNX graph (NCHW) with the network's topology and weights ``q * 1/qmax``."""
    nodes, inits = [], []
    for layer in net.layers:
        src = [t if t != net.input_name else "input" for t in layer.inputs]
        out = layer.output
        if isinstance(layer, (Conv2d, Linear)):
            w = layer.weights.astype(np.float32) / 64.0
            b = layer.bias.astype(np.float32) / 64.0
            inits += [numpy_helper.from_array(w if isinstance(layer, Linear) else
                                              w.transpose(0, 3, 1, 2).copy(), f"{out}.w"),
                      numpy_helper.from_array(b, f"{out}.b")]
            pre = out + ".pre" if layer.out_spec is not None and not layer.out_spec.signed else out
            if isinstance(layer, Conv2d):
                pt, pl, pb, pr = layer.padding
                nodes.append(helper.make_node("Conv", [src[0], f"{out}.w", f"{out}.b"], [pre],
                                              strides=list(layer.stride), pads=[pt, pl, pb, pr],
                                              kernel_shape=list(layer.kernel)))
            else:
                nodes.append(helper.make_node("Gemm", [src[0], f"{out}.w", f"{out}.b"], [pre], transB=1))
            if pre != out:
                nodes.append(helper.make_node("Relu", [pre], [out]))
        elif isinstance(layer, Add):
            nodes += [helper.make_node("Add", src, [out + ".pre"]),
                      helper.make_node("Relu", [out + ".pre"], [out])]
        elif isinstance(layer, GlobalAvgPool):
            nodes += [helper.make_node("GlobalAveragePool", src, [out + ".pre"]),
                      helper.make_node("Flatten", [out + ".pre"], [out])]
        elif isinstance(layer, MaxPool2d):
            pt, pl, pb, pr = layer.padding
            nodes.append(helper.make_node("MaxPool", src, [out], kernel_shape=list(layer.kernel),
                                          strides=list(layer.stride), pads=[pt, pl, pb, pr]))
    graph = helper.make_graph(
        nodes, "ort_int8_baseline",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", channels, image_size, image_size])],
        [helper.make_tensor_value_info(net.output, TensorProto.FLOAT, ["N", None])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def int8_onnx(net: Network, path: str, image_size: int = 32, calib_images: int = 32, seed: int = 0) -> str:
    """Write the QDQ int8 model for ``net`` to ``path`` and return it."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(seed)
            self.items = iter([{"input": rng.random((1, 3, image_size, image_size), np.float32)}
                               for _ in range(calib_images)])

        def get_next(self):
            return next(self.items, None)

    logging.getLogger().setLevel(logging.ERROR)   # quantize_static's pre-processing advice
    with tempfile.TemporaryDirectory() as tmp:
        fp = os.path.join(tmp, "float.onnx")
        onnx.save(float_onnx(net, image_size), fp)
        quantize_static(fp, path, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return path
