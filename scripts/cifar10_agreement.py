#!/usr/bin/env python3
"""Fake-quant (PyTorch) vs onnxruntime (exported ONNX) vs emulator (bundle) on the CIFAR-10
validation split, for trained QAT runs; writes docs/results/cifar10_agreement.md. Each run's
checkpoint, ONNX and bundles go to models/ for the runs named after --commit, else to <run>/export/.

    python scripts/cifar10_agreement.py runs/cifar10/resnet20-msp8 [more runs...] [--commit resnet20-msp8]
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of positions where ``a`` equals ``b``: accuracy against labels, or agreement."""
    return float((a == b).mean())


def evaluate_run(run: Path, models: Path, images: np.ndarray, labels: np.ndarray) -> dict:
    import onnxruntime as ort
    import torch
    from msp_pynq.bundle.io import load_bundle
    from msp_pynq.compiler import compile as compile_model
    from msp_pynq.data.cifar10 import CIFAR10_CLASSES
    from msp_pynq.export import to_onnx
    from msp_pynq.quant import integer_exact
    from msp_pynq.train.checkpoint import load_checkpoint
    from msp_pynq.train.loop import TrainConfig, build

    meta = load_checkpoint(run / "final.npz")
    cfg = TrainConfig(**{k: v for k, v in meta["config"].items() if k in TrainConfig.__dataclass_fields__})
    cfg.init = None
    model = build(cfg)
    load_checkpoint(run / "final.npz", model)
    model.eval()
    name = run.name
    models.mkdir(parents=True, exist_ok=True)
    onnx_path = models / f"{name}.onnx"
    to_onnx(model, str(onnx_path), class_names=list(CIFAR10_CLASSES))
    shutil.copy(run / "final.npz", models / f"{name}.npz")
    x_float = torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32) / 255)

    def torch_predict(net) -> np.ndarray:
        with torch.no_grad():
            return np.concatenate([net(x_float[i:i + 500]).argmax(1).numpy() for i in range(0, len(images), 500)])

    # PyTorch both ways: the QAT forward pass (float fake-quant) and integer-exact mode
    if cfg.exact:
        exact_pred, float_pred = torch_predict(model), torch_predict(model.model)
    else:
        exact_pred, float_pred = torch_predict(integer_exact(model).eval()), torch_predict(model)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ort_pred = np.concatenate([sess.run(None, {"input": x_float[i:i + 500].numpy()})[0].argmax(1)
                               for i in range(0, len(images), 500)])
    result = {"run": name, "onnx_bytes": onnx_path.stat().st_size, "boards": {}}
    for board in ("pynq-z2", "zcu104"):
        bundle_path = compile_model(onnx_path, board=board, out=models / f"{name}.{board}.mspb")
        bundle = load_bundle(bundle_path, board=board)
        t0 = time.perf_counter()
        emu_pred = np.concatenate([bundle.predict(images[i:i + 250], threads=2)[1]
                                   for i in range(0, len(images), 250)])
        seconds = time.perf_counter() - t0
        result["boards"][board] = {
            "bundle": bundle_path.name, "bundle_bytes": bundle_path.stat().st_size,
            "emulator_acc": _share(emu_pred, labels),
            "emulator_vs_exact": _share(emu_pred, exact_pred),
            "emulator_vs_float_fake_quant": _share(emu_pred, float_pred),
            "emulator_vs_ort": _share(emu_pred, ort_pred),
            "emulator_seconds": round(seconds, 1)}
    result.update(trained_exact=cfg.exact, float_fake_quant_acc=_share(float_pred, labels),
                  exact_acc=_share(exact_pred, labels), ort_acc=_share(ort_pred, labels),
                  ort_vs_float_fake_quant=_share(ort_pred, float_pred), quant=cfg.quant)
    return result


def main(argv: "list[str]") -> int:
    import argparse
    from msp_pynq.data import load_cifar10
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--commit", nargs="*", default=[], help="run names whose files go to models/")
    args = parser.parse_args(argv)
    images, labels = load_cifar10(split="val", progress=False)
    results = [evaluate_run(Path(r), ROOT / "models" if Path(r).name in args.commit else Path(r) / "export",
                            images, labels) for r in args.runs]
    lines = ["| run | board | PyTorch float fake-quant | PyTorch integer-exact | onnxruntime (ONNX) | "
             "emulator (bundle) | emulator = integer-exact | emulator = float fake-quant | "
             "emulator = onnxruntime | onnxruntime = float fake-quant | bundle size |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for board, b in r["boards"].items():
            lines.append(f"| {r['run']} | {board} | {r['float_fake_quant_acc']:.2%} | {r['exact_acc']:.2%} | "
                         f"{r['ort_acc']:.2%} | {b['emulator_acc']:.2%} | {b['emulator_vs_exact']:.2%} | "
                         f"{b['emulator_vs_float_fake_quant']:.2%} | {b['emulator_vs_ort']:.2%} | "
                         f"{r['ort_vs_float_fake_quant']:.2%} | {b['bundle_bytes']:,} B |")
    out = ROOT / "docs" / "results" / "cifar10_agreement.md"
    out.write_text("# Agreement: fake-quant vs ONNX vs emulator (CIFAR-10 validation, 5,000 images)\n\n"
                   f"Measured with `python scripts/cifar10_agreement.py {' '.join(argv)}`. Accuracy is "
                   "top-1; agreement is the share of images with the same top-1 class. PyTorch float "
                   "fake-quant is the QAT forward pass; integer-exact is the same weights run by "
                   "`msp_pynq.quant.integer_exact` (BN folded, the contract's rounding; docs/quantization.md). "
                   "A run trained with `--exact` was fine-tuned in that mode.\n\n"
                   + "\n".join(lines) + "\n")
    (ROOT / "docs" / "results" / "cifar10_agreement.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
