#!/usr/bin/env python3
"""Emulator throughput vs onnxruntime int8 on the same ResNet-20 layer shapes.

Builds a synthetic ResNet-20 (32x32, random weights in the board's MSP row mix),
checks the fast emulator against the int64 reference on a few images, then
times, for each thread count and batch size, the emulator and onnxruntime
running a QDQ int8 model of the same layer shapes on the same number of
threads. Prints images/s for both and their ratio.

    python benchmarks/bench_emulator.py                 # threads 1 and all cores, batch 1 and 64
    python benchmarks/bench_emulator.py --quick         # shorter timing (the README demo)
    python benchmarks/bench_emulator.py --report docs/benchmarks/emulator.md
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from msp_pynq.emulator.synthetic import layer_macs, resnet20  # noqa: E402


def measure(fn, batch: int, seconds: float) -> float:
    """Images per second of ``fn()`` on one batch, over at least ``seconds`` after a warm-up."""
    fn()
    runs, start = 0, time.perf_counter()
    while True:
        fn()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and runs >= 3:
            return runs * batch / elapsed


def gemm_ceiling(net, batch: int, seconds: float) -> float:
    """Images/s if the emulator did nothing but its float32 GEMMs (same shapes, one thread):
    the ceiling of the im2col + BLAS approach on this machine."""
    from msp_pynq.emulator import Conv2d, Linear
    x = np.zeros((batch, 32, 32, 3), np.uint8)
    outs = net.run(x, keep=[l.output for l in net.layers])
    rng = np.random.default_rng(0)
    mats = []
    for layer in net.layers:
        if isinstance(layer, (Conv2d, Linear)):
            rows = int(np.prod(outs[layer.output].shape[:-1]))
            mats.append((rng.integers(0, 16, (rows, layer.k)).astype(np.float32),
                         layer.matrix(np.float32)))
    return measure(lambda: [a @ b for a, b in mats], batch, seconds)


def ort_session(path: str, threads: int):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def environment() -> dict:
    from threadpoolctl import threadpool_info
    import onnxruntime
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    blas = [f"{i['internal_api']} {i.get('version')} ({i.get('architecture')})" for i in threadpool_info()
            if i["user_api"] == "blas"]
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "blas": ", ".join(blas), "onnxruntime": onnxruntime.__version__,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="thread counts (default: 1 and all cores)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum timing per measurement")
    parser.add_argument("--quick", action="store_true", help="1 s per measurement")
    parser.add_argument("--board", default="pynq-z2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", help="write a markdown report (and .json beside it) here")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm
    from ort_int8 import int8_onnx

    seconds = 1.0 if args.quick else args.seconds
    threads = args.threads or sorted({1, os.cpu_count() or 1})
    net = resnet20(seed=args.seed, board=args.board)
    macs = layer_macs(net)
    rng = np.random.default_rng(args.seed)
    images = rng.integers(0, 256, (max(args.batch), 32, 32, 3), dtype=np.uint8)
    exact = bool((net.run(images[:2]) == net.run(images[:2], reference_path=True)).all())
    mix = {}
    for row in net.summary():
        for key in ("sp2_4", "fixed4", "fixed8"):
            mix[key] = mix.get(key, 0) + row.get(key, 0)
    print(f"ResNet-20 shape, 32x32, {macs / 1e6:.1f} MMAC/image, rows {mix} ({args.board} mix); "
          f"fast path == int64 reference on 2 images: {exact}")
    if not exact:
        print("error: fast path disagrees with the reference", file=sys.stderr)
        return 1
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        model = int8_onnx(net, os.path.join(tmp, "resnet20_int8.onnx"))
        configs = [(t, b) for t in threads for b in args.batch]
        for t, b in tqdm(configs, desc="timing", unit="config"):
            x = images[:b]
            xf = np.ascontiguousarray(x.transpose(0, 3, 1, 2), np.float32) / 255.0
            session = ort_session(model, t)
            with threadpool_limits(t if b < t else 1, user_api="blas"):
                emu = measure(lambda: net.run(x, threads=t), b, seconds)
            ort = measure(lambda: session.run(None, {"input": xf}), b, seconds)
            results.append({"threads": t, "batch": b, "emulator_img_s": round(emu, 1),
                            "onnxruntime_int8_img_s": round(ort, 1), "ratio": round(emu / ort, 3)})
    with threadpool_limits(1, user_api="blas"):
        ceiling = gemm_ceiling(net, max(args.batch), seconds)
    print(f"float32 GEMMs alone (1 thread, batch {max(args.batch)}): {ceiling:.0f} img/s")
    header = "| threads | batch | emulator img/s | onnxruntime int8 img/s | emulator / ort |"
    lines = [header, "|---:|---:|---:|---:|---:|"] + [
        f"| {r['threads']} | {r['batch']} | {r['emulator_img_s']:.0f} | "
        f"{r['onnxruntime_int8_img_s']:.0f} | {r['ratio']:.3f} |" for r in results]
    print("\n".join(lines))
    if args.report:
        env = environment()
        command = "python benchmarks/bench_emulator.py " + " ".join(argv if argv is not None else sys.argv[1:])
        report = Path(args.report)
        report.parent.mkdir(parents=True, exist_ok=True)
        report.with_suffix(".json").write_text(json.dumps(
            {"command": command, "environment": env, "macs_per_image": macs, "row_mix": mix,
             "gemm_only_img_s_1thread": round(ceiling, 1), "results": results}, indent=2) + "\n")
        report.write_text(
            "# Emulator throughput vs onnxruntime int8\n\n"
            f"Measured with `{command.strip()}` on {time.strftime('%Y-%m-%d')}.\n\n"
            f"Network: ResNet-20 layer shapes at 32x32, {macs / 1e6:.1f} MMAC per image, random "
            f"weights in the {args.board} MSP row mix {mix}. onnxruntime runs a QDQ int8 model of "
            "the same shapes (per-channel int8 weights, uint8 activations), which it executes "
            "with its integer convolution kernels.\n\n" + "\n".join(lines) + "\n\n"
            f"The emulator's float32 GEMMs alone (same shapes, one thread, batch {max(args.batch)}) "
            f"run at {ceiling:.0f} img/s: the ceiling of exact float BLAS emulation on this CPU, "
            f"{ceiling * macs / 1e9:.0f} GMAC/s. onnxruntime's "
            f"int8 kernels reach {max(r['onnxruntime_int8_img_s'] for r in results if r['threads'] == 1) * macs / 1e9:.0f}"
            " GMAC/s on one thread.\n\n"
            "Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()) + ".\n")
        print(f"wrote {report} and {report.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
