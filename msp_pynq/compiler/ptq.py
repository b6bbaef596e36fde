"""Post-training quantization: a float ONNX CNN plus calibration images -> an MSP QDQ ONNX.

The float graph is imported as a torch module (``onnx_import``), quantized with the same
``quantize()`` as QAT (row assignment, MSE-optimal row scales), its activation clips calibrated
on the images (MSE-optimal), and exported with ``to_onnx``; ``compile`` then makes the bundle.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def quantize_onnx(onnx_path: "str | Path", calib_images: np.ndarray, out: "str | Path",
                  board: str = "pynq-z2", scheme: str = "msp", share_8bit: float = 0.05,
                  act_bits: int = 8, input_range: float = 1.0, classes: "list[str] | None" = None) -> Path:
    """Write the MSP QDQ ONNX of a float model to ``out`` and return it.

    ``calib_images``: ``uint8 [N, H, W, C]`` pixels. ``input_range``: what the float model
    expects for pixel value 255 (1.0 for inputs in [0, 1], 255.0 for raw pixels).
    """
    import onnx
    import torch
    from ..export import to_onnx
    from ..quant import calibrate, quantize
    from .onnx_import import import_onnx
    from .onnx_reader import CompileError

    try:
        model = onnx.load(str(onnx_path))
    except Exception as exc:
        raise CompileError(f"{onnx_path}: cannot read ONNX ({exc})") from None
    net, info = import_onnx(model, input_range=input_range)
    shape = (info["height"], info["width"], info["channels"])
    x = np.asarray(calib_images)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != shape:
        raise CompileError(f"calibration images must be uint8 [N, {shape[0]}, {shape[1]}, {shape[2]}], "
                           f"found {x.dtype} {x.shape}")
    q = quantize(net.eval(), board=board, scheme=scheme, share_8bit=share_8bit, act_bits=act_bits)
    calibrate(q, torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32) / 255))
    return Path(to_onnx(q.eval(), str(out), input_size=shape[:2], channels=shape[2], class_names=classes))
