#!/usr/bin/env python3
"""Fake-quant (PyTorch) vs onnxruntime (exported ONNX) vs emulator (bundle) on the CIFAR-10
validation split, for trained QAT runs; writes docs/results/cifar10_agreement.md and copies each
run's checkpoint, ONNX and bundles into models/.

    python scripts/cifar10_agreement.py runs/cifar10/resnet20-msp8 [more runs...]
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def evaluate_run(run: Path, models: Path, images: np.ndarray, labels: np.ndarray) -> dict:
    import onnxruntime as ort
    import torch
    from msp_pynq.bundle.model import load_bundle
    from msp_pynq.compiler import compile as compile_model
    from msp_pynq.data.cifar10 import CIFAR10_CLASSES
    from msp_pynq.export import to_onnx
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
    with torch.no_grad():
        torch_pred = np.concatenate([model(x_float[i:i + 500]).argmax(1).numpy()
                                     for i in range(0, len(images), 500)])
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
            "emulator_acc": float((emu_pred == labels).mean()),
            "emulator_vs_torch": float((emu_pred == torch_pred).mean()),
            "emulator_vs_ort": float((emu_pred == ort_pred).mean()),
            "emulator_seconds": round(seconds, 1)}
    result.update(torch_acc=float((torch_pred == labels).mean()), ort_acc=float((ort_pred == labels).mean()),
                  ort_vs_torch=float((ort_pred == torch_pred).mean()), quant=cfg.quant)
    return result


def main(runs: "list[str]") -> int:
    from msp_pynq.data import load_cifar10
    images, labels = load_cifar10(split="val", progress=False)
    results = [evaluate_run(Path(r), ROOT / "models", images, labels) for r in runs]
    lines = ["| run | board | PyTorch fake-quant | onnxruntime (ONNX) | emulator (bundle) | "
             "emulator = fake-quant | emulator = onnxruntime | onnxruntime = fake-quant | bundle size |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for board, b in r["boards"].items():
            lines.append(f"| {r['run']} | {board} | {r['torch_acc']:.2%} | {r['ort_acc']:.2%} | "
                         f"{b['emulator_acc']:.2%} | {b['emulator_vs_torch']:.2%} | {b['emulator_vs_ort']:.2%} | "
                         f"{r['ort_vs_torch']:.2%} | {b['bundle_bytes']:,} B |")
    out = ROOT / "docs" / "results" / "cifar10_agreement.md"
    out.write_text("# Agreement: fake-quant vs ONNX vs emulator (CIFAR-10 validation, 5,000 images)\n\n"
                   f"Measured with `python scripts/cifar10_agreement.py {' '.join(runs)}`. Accuracy is "
                   "top-1; agreement is the share of images with the same top-1 class.\n\n"
                   + "\n".join(lines) + "\n")
    (ROOT / "docs" / "results" / "cifar10_agreement.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
