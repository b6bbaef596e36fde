"""Post-training quantization: a float ONNX CNN plus calibration images -> an MSP QDQ ONNX.

The float graph is imported as a torch module (``onnx_import``), quantized with the same
``quantize()`` as QAT (row assignment, MSE-optimal row scales), its activation clips calibrated
on the images (MSE-optimal), and exported with ``to_onnx``; ``compile`` then makes the bundle.

Calibration runs one forward pass over all the images, so their size is capped: at most
:data:`MAX_CALIB_BYTES` bytes of pixels (512 CIFAR-10 images take 1.5 MiB, 512 ImageNet-size
224 x 224 images 74 MiB), and a model whose single input image exceeds the cap is refused
before any image is loaded.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

#: Largest calibration set, in bytes of uint8 pixels (N * H * W * C): 128 MiB.
MAX_CALIB_BYTES = 128 << 20


def check_calibration(images, shape: "tuple[int, int, int]") -> np.ndarray:
    """``images`` as ``uint8 [N, H, W, C]`` of the model's ``shape``, within the size cap;
    otherwise :class:`~msp_pynq.compiler.onnx_reader.CompileError` saying what was found and what
    is expected."""
    from ..compiler.onnx_reader import CompileError
    h, w, c = shape
    if not isinstance(images, np.ndarray):
        raise CompileError(f"calibration images must be a numpy array uint8 [N, {h}, {w}, {c}], "
                           f"found {type(images).__name__}")
    x = images
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (h, w, c) or len(x) == 0:
        raise CompileError(f"calibration images must be uint8 [N, {h}, {w}, {c}] with N >= 1, "
                           f"found {x.dtype} {x.shape}")
    if x.nbytes > MAX_CALIB_BYTES:
        raise CompileError(f"calibration images take {x.nbytes:,} bytes ({len(x)} images), more than "
                           f"the {MAX_CALIB_BYTES:,} allowed; calibrate on at most "
                           f"{MAX_CALIB_BYTES // (h * w * c)} images")
    return x


def quantize_onnx(onnx_path: "str | Path", calib_images: np.ndarray, out: "str | Path",
                  board: str = "pynq-z2", scheme: str = "msp", share_8bit: float = 0.05,
                  act_bits: int = 8, input_range: float = 1.0, classes: "list[str] | None" = None) -> Path:
    """Write the MSP QDQ ONNX of a float model to ``out`` and return it.

    ``calib_images``: ``uint8 [N, H, W, C]`` pixels, at most :data:`MAX_CALIB_BYTES` bytes.
    ``input_range``: what the float model expects for pixel value 255 (1.0 for inputs in
    [0, 1], 255.0 for raw pixels). ``out`` is written whole or not at all, never over the input.
    """
    import torch
    from ..errors import MSPError
    from ..export import to_onnx
    from ..fileio import check_output, finite, show
    from ..compiler.onnx_file import is_quantized, load_onnx
    from ..quant.api import calibrate, quantize
    from .onnx_import import import_onnx

    out = check_output(out, [onnx_path], "the QDQ ONNX")
    input_range = finite(input_range, "input_range", 0, 1e6, low_open=True)
    model = load_onnx(onnx_path)
    if is_quantized(model):
        raise MSPError(f"{show(onnx_path)}: already quantized (it holds QuantizeLinear/DequantizeLinear "
                       f"or msp-pynq metadata); use `msp-pynq compile {show(onnx_path)}` instead")
    net, info = import_onnx(model, input_range=input_range)
    x = check_calibration(calib_images, (info["height"], info["width"], info["channels"]))
    q = quantize(net.eval(), board=board, scheme=scheme, share_8bit=share_8bit, act_bits=act_bits)
    calibrate(q, torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32) / 255))
    return Path(to_onnx(q.eval(), str(out), input_size=(info["height"], info["width"]),
                        channels=info["channels"], class_names=classes))
