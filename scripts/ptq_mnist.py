#!/usr/bin/env python3
"""Post-training MSP quantization of a model we did not train: the ONNX model zoo's MNIST CNN
that the `qonnx` package ships with one sample digit. Writes docs/results/ptq_mnist.md.

    python scripts/ptq_mnist.py

No MNIST data set is available here, so calibration and evaluation use variants of the shipped
digit (shifted up to 4 pixels, rescaled in contrast, with noise) and, as unlike inputs, CIFAR-10
validation images in grayscale: the report gives top-1 agreement between the float model
(onnxruntime) and the bundle in the emulator, and the sample's class.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np


def variants(digit: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, 28, 28, 1), np.uint8)
    for i in range(n):
        dy, dx = rng.integers(-4, 5, 2)
        img = np.roll(np.roll(digit, dy, 0), dx, 1).astype(np.float64)
        img = img * rng.uniform(0.6, 1.0) + rng.normal(0, rng.uniform(0, 20), img.shape)
        out[i, :, :, 0] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def main() -> int:
    import onnx
    import onnxruntime as ort
    import qonnx
    from onnx import numpy_helper
    from msp_pynq.bundle.io import load_bundle
    from msp_pynq.compiler import compile as compile_model
    from msp_pynq.ptq.quantize import quantize_onnx
    from msp_pynq.data import load_cifar10

    src = Path(qonnx.__file__).parent / "data" / "onnx" / "mnist-conv"
    t = onnx.TensorProto()
    t.ParseFromString((src / "test_data_set_0" / "input_0.pb").read_bytes())
    sample = numpy_helper.to_array(t)[0, 0]                       # float 0..255
    t.ParseFromString((src / "test_data_set_0" / "output_0.pb").read_bytes())
    expected = int(numpy_helper.to_array(t).argmax())
    rng = np.random.default_rng(0)
    calib = variants(sample, 256, rng)
    digits = np.concatenate([sample.astype(np.uint8)[None, :, :, None], variants(sample, 499, rng)])
    cifar, _ = load_cifar10(split="val", progress=False)
    gray = (cifar[:500, 2:30, 2:30] @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)[..., None]
    float_sess = ort.InferenceSession(str(src / "model.onnx"), providers=["CPUExecutionProvider"])

    def float_top1(x):
        return np.array([float_sess.run(None, {"Input3": img.transpose(2, 0, 1)[None].astype(np.float32)})[0].argmax()
                         for img in x])

    lines = ["| weights / activations | evaluation images | top-1 agreement with float | sample digit class |",
             "|---|---|---:|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for act_bits, share8 in ((8, 0.05), (8, 0.0), (4, 0.05)):
            q_onnx = quantize_onnx(src / "model.onnx", calib, Path(tmp) / f"m{act_bits}.onnx",
                                   act_bits=act_bits, share_8bit=share8, input_range=255.0)
            bundle_path = compile_model(q_onnx, board="pynq-z2")
            bundle = load_bundle(bundle_path, board="pynq-z2")
            size = os.path.getsize(bundle_path)
            for name, x in (("500 variants of the sample digit", digits), ("500 grayscale CIFAR-10 crops", gray)):
                agree = float((bundle.predict(x)[1] == float_top1(x)).mean())
                got = int(bundle.predict(digits[:1])[1][0])
                lines.append(f"| MSP mix ({share8:.0%} 8-bit rows) / u{act_bits} | {name} | {agree:.1%} | "
                             f"{got} (float: {expected}) |")
                print(lines[-1], flush=True)
    report = Path(__file__).resolve().parents[1] / "docs" / "results" / "ptq_mnist.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        "# Post-training quantization of a model we did not train: ONNX-zoo MNIST CNN\n\n"
        "Model: `qonnx/data/onnx/mnist-conv/model.onnx` (qonnx 1.0.0; Conv 5x5 x8, MaxPool, Conv 5x5 x16, "
        "MaxPool, MatMul), raw pixel input 0..255. Calibration: 256 variants of the shipped sample digit. "
        "First and last layers fixed-8, the middle layer in the pynq-z2 MSP mix. Measured with "
        "`python scripts/ptq_mnist.py`; bundle size "
        f"{size:,} bytes.\n\n" + "\n".join(lines) + "\n\n"
        "No MNIST data set is available on this machine, so accuracy cannot be measured; agreement with "
        "the float model on the shipped digit's variants and on out-of-domain images is what is reported.\n")
    print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
