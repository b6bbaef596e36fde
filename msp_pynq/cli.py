"""The ``msp-pynq`` command line.

    msp-pynq info                 # versions and every board profile
    msp-pynq info --board zcu104  # one board
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

from . import __version__
from .boards.profiles import PROFILES, get_profile, mixed_speedup, row_split, sp2_row_share
from .errors import MSPError
from .models.registry import MODELS
from .numerics.activations import ACT_BITS
from .data.cifar10 import SPLITS
from .fileio import atomic_output, check_output, finite, show

MAX_COUNT = 1 << 20          # images, frames, epochs, batch sizes: more is a typo, not a request


def count(high: int = MAX_COUNT):
    """argparse type: an integer in 1..high."""
    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if not 1 <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number in 1..{high:,}, not {value:,}")
        return value
    return parse


def number(low: float, high: float, low_open: bool = False):
    """argparse type: a finite float in [low, high] (``(low, high]`` with ``low_open``)."""
    def parse(text: str) -> float:
        try:
            return finite(float(text), "value", low, high, low_open)
        except (MSPError, ValueError):
            span = f"{'(' if low_open else '['}{low:g}, {high:g}]"
            raise argparse.ArgumentTypeError(f"expected a finite number in {span}, not {text!r}") from None
    return parse


def board_name(text: str) -> str:
    """argparse type: a board profile's name."""
    if text not in PROFILES:
        raise argparse.ArgumentTypeError(f"unknown board {text!r}; expected one of {', '.join(PROFILES)}")
    return text


class Parser(argparse.ArgumentParser):
    """argparse with the project's error line: ``msp-pynq: error: ...`` and exit code 2."""

    def error(self, message: str):
        sub = self.prog.split(" ", 1)[1] + " " if " " in self.prog else ""
        _fail(f"{sub}{message} (see: {self.prog} --help)")
        sys.exit(2)


def _fail(message: str) -> None:
    """One ``msp-pynq: error:`` line, whatever the message holds (newlines, escapes, surrogates)."""
    text = " ".join(str(message).split("\n"))
    text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    print(f"msp-pynq: error: {text}", file=sys.stderr)


def _info(args: argparse.Namespace) -> int:
    import numpy as np
    import pynq
    print(f"msp-pynq {__version__}, pynq {pynq.__version__}, numpy {np.__version__}, "
          f"Python {sys.version.split()[0]}")
    names = [args.board] if args.board else list(PROFILES)
    for name in names:
        p = get_profile(name)
        d = p.device
        split = row_split(64, p, args.share_8bit)
        status = "measured" if p.costs.measured else "placeholder costs (not yet measured in hardware)"
        print(f"\n{p.name}: {p.board}, {d.part} @ {p.clock_mhz:g} MHz")
        print(f"  device     {d.luts:,} LUT, {d.ffs:,} FF, {d.dsps:,} DSP, {d.bram36} BRAM36"
              + (f", {d.uram} URAM" if d.uram else ""))
        print(f"  engine     LUT core {p.lut_macs_per_cycle} SP2 MAC/cycle ({p.geometry.lut_rows} rows x "
              f"{p.geometry.vector_width}), DSP core {p.dsp_macs_per_cycle} fixed-4 MAC/cycle "
              f"({p.geometry.dsp_rows} rows x {p.geometry.vector_width}); {status}")
        print(f"  row mix    SP2 share {sp2_row_share(p, args.share_8bit):.3f} with "
              f"{args.share_8bit:.0%} 8-bit rows; a 64-row layer: {split.sp2} SP2, {split.fixed4} "
              f"fixed-4, {split.fixed8} fixed-8; modelled speedup over DSP-only "
              f"{mixed_speedup(p, args.share_8bit):.2f}x")
        print(f"  host       {p.cpu}, DDR about {p.ddr_gbytes_per_s:g} GB/s")
        _overlay_info(p.name, args.engine)
    return 0


def _overlay_info(board: str, probe: bool) -> None:
    """The overlay manifest, and with ``probe`` the engine registers read through the runtime."""
    from .runtime import Runtime
    from .runtime.runtime import board_devices
    from .runtime.overlays import load_overlay_manifest
    m = load_overlay_manifest(board)
    built = "built" if m.installed else "not built yet (needs Vivado: hardware issue)"
    print(f"  overlay    {m.directory}: {m.bitstream} {built}; fabric clock {m.clock_mhz:g} MHz")
    for ip in m.ips.values():
        print(f"    {ip.name:<12} {ip.vlnv} at 0x{ip.base_address:08X} (+0x{ip.range:X})")
    if not probe:
        return
    found = board_devices()
    with Runtime.open(board, log=None) as rt:
        i, g = rt.info, rt.info.geometry
        print(f"  engine     {rt.mode} ({'board found' if found else 'no PYNQ board here'}): version "
              f"{i.version[0]}.{i.version[1]}, fingerprint {i.fingerprint_hex}, {g.lut_rows} LUT rows + "
              f"{g.dsp_rows} DSP rows x {g.vector_width}, buffers {g.act_buffer_kib} KiB activations / "
              f"{g.weight_buffer_kib} KiB weights, {i.clock_mhz:g} MHz")


def _train(args: argparse.Namespace) -> int:
    from .train.loop import TrainConfig, train
    quant = {}
    if args.scheme != "float":
        quant = {"board": args.board, "scheme": args.scheme, "share_8bit": args.share_8bit,
                 "act_bits": args.act_bits, "first_last_8bit": not args.no_first_last_8bit}
        if args.sp2_share is not None:
            quant["sp2_share"] = args.sp2_share
    cfg = TrainConfig(model=args.model, out=args.out, epochs=args.epochs, batch_size=args.batch_size,
                      lr=args.lr, weight_decay=args.weight_decay, warmup_epochs=args.warmup_epochs,
                      seed=args.seed, data=args.data, train_limit=args.train_limit,
                      val_limit=args.val_limit, resume=args.resume, init=args.init, quant=quant, exact=args.exact,
                      threads=args.threads, progress=not args.no_progress,
                      command="msp-pynq " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    summary = train(cfg)
    if summary:
        print(f"final validation accuracy {summary['val_acc']:.4f} ({summary['val_images']} images), "
              f"best {summary['best_val_acc']:.4f}, {summary['train_seconds']:.0f} s training")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .data.cifar10 import CIFAR10_CLASSES
    from .export import to_onnx
    from .train.checkpoint import load_checkpoint
    from .train.loop import TrainConfig, build
    check_output(args.out, [args.checkpoint], "--out")
    meta = load_checkpoint(args.checkpoint)
    cfg = TrainConfig(**{k: v for k, v in meta["config"].items() if k in TrainConfig.__dataclass_fields__})
    if not cfg.quant:
        raise MSPError(f"{args.checkpoint}: a float checkpoint; export needs a QAT run (--scheme ...)")
    cfg.init = None
    model = build(cfg)
    load_checkpoint(args.checkpoint, model)
    model.eval()
    classes = list(CIFAR10_CLASSES) if cfg.model in ("resnet20", "resnet32", "cnv") else []
    to_onnx(model, args.out, class_names=classes)
    print(f"wrote {show(args.out)} ({model.msp_config})")
    return 0


def _compile(args: argparse.Namespace) -> int:
    from .bundle.io import load_bundle
    from .compiler import compile as compile_model
    from .compiler.onnx_file import is_quantized, load_onnx
    if args.out:
        check_output(args.out, [args.onnx], "--out")
    if not is_quantized(load_onnx(args.onnx)):
        raise MSPError(f"{show(args.onnx)}: a float ONNX model (no QuantizeLinear/DequantizeLinear); "
                       f"quantize it first: msp-pynq quantize --onnx {show(args.onnx)} --calib IMAGES --out MODEL.mspb")
    out = compile_model(args.onnx, board=args.board, out=args.out)
    bundle = load_bundle(out, board=args.board)
    rows = {}
    for layer in bundle.manifest["layers"]:
        for k, v in layer.get("rows_per_scheme", {}).items():
            rows[k] = rows.get(k, 0) + v
    print(f"wrote {show(out)}: {out.stat().st_size:,} bytes, {len(bundle.network.layers)} layers, rows {rows}, "
          f"board {bundle.manifest['board']} (engine {bundle.manifest['engine']['fingerprint']})")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm
    from .bundle.io import load_bundle
    from .data.cifar10 import load_cifar10
    bundle = load_bundle(args.model)
    if tuple(bundle.input_shape) != (32, 32, 3):
        raise MSPError(f"{show(args.model)}: takes {'x'.join(map(str, bundle.input_shape))} inputs; "
                       f"eval scores CIFAR-10 (32x32x3) models")
    images, labels = load_cifar10(args.data, args.split)
    if args.limit:
        images, labels = images[:args.limit], labels[:args.limit]
    correct = 0
    with tqdm(total=len(images), desc="emulating", unit="img") as bar:
        for i in range(0, len(images), args.batch):
            _, pred = bundle.predict(images[i:i + args.batch], threads=args.threads)
            correct += int((pred == labels[i:i + args.batch]).sum())
            bar.update(len(pred))
    print(f"{show(args.model)}: top-1 {correct / len(images):.4f} ({correct}/{len(images)}) on {args.split}")
    return 0


def _quantize(args: argparse.Namespace) -> int:
    from .bundle.io import load_bundle
    from .compiler import compile as compile_model
    from .compiler.onnx_file import is_quantized, load_onnx
    from .ptq.onnx_import import import_onnx
    from .ptq.quantize import quantize_onnx
    from .data.images import load_images
    out, out_onnx = _quantize_outputs(args)
    model = load_onnx(args.onnx)
    if is_quantized(model):
        raise MSPError(f"{show(args.onnx)}: already quantized (it holds QuantizeLinear/DequantizeLinear); "
                       f"compile it instead: msp-pynq compile {show(args.onnx)} --board {args.board}")
    _, info = import_onnx(model)
    calib = load_images(args.calib, (info["height"], info["width"]), info["channels"], args.limit)
    quantize_onnx(args.onnx, calib, out_onnx, board=args.board, share_8bit=args.share_8bit,
                  act_bits=args.act_bits, input_range=args.input_range)
    bundle = compile_model(out_onnx, board=args.board, out=out)
    load_bundle(bundle, board=args.board)
    print(f"calibrated on {len(calib)} images; wrote {show(out_onnx)} and {show(bundle)} "
          f"({Path(bundle).stat().st_size:,} bytes)")
    return 0


def _quantize_outputs(args: argparse.Namespace) -> "tuple[Path, Path]":
    """The bundle ``NAME.mspb`` and the QDQ model ``NAME.qdq.onnx`` beside it, both checked
    against every input before the calibration starts."""
    out = Path(args.out)
    if out.suffix != ".mspb":
        raise MSPError(f"--out {show(out)}: expected a bundle name ending in .mspb (the QDQ ONNX "
                       f"is written beside it as NAME.qdq.onnx)")
    out_onnx = out.with_name(out.stem + ".qdq.onnx")
    inputs = [args.onnx, args.calib]
    return check_output(out, inputs, "--out"), check_output(out_onnx, inputs, "the QDQ ONNX")


def _run(args: argparse.Namespace) -> int:
    from .data.images import image_files, load_images, sample_photos
    from .numerics.softmax import softmax
    from .runtime import Runtime
    source = args.images or sample_photos()
    with Runtime.open(args.board, emulate=True if args.emulate else None, timeout_s=args.timeout) as rt:
        bundle = rt.load(args.model)
        h, w, c = bundle.input_shape
        files = image_files(source)[:args.limit]
        images = load_images(source, (h, w), c, args.limit)
        logits = rt.run(images)
        for f, row in zip(files, logits):
            p = softmax(row)
            top = np.argsort(row)[::-1][:3]
            names = [show(bundle.classes[i]) if i < len(bundle.classes) else str(i) for i in top]
            print(f"{show(f.name)}: " + ", ".join(f"{n} {p[i]:.2f}" for n, i in zip(names, top)))
        last = rt.report()["last_run"]
        print(f"{len(images)} images on {rt.board} ({rt.mode}): modelled engine time "
              f"{1e3 * last['engine_s'] / len(images):.2f} ms/image, host wall time "
              f"{1e3 * last['wall_s'] / len(images):.1f} ms/image")
    return 0


def _bench(args: argparse.Namespace) -> int:
    import json
    import platform

    from .perf.runtime_bench import bench_bundles, markdown
    paths = args.models or sorted(str(p) for p in Path("models").glob("*.mspb"))
    if not paths:
        raise MSPError("no bundles to benchmark: pass --models BUNDLE... (none in ./models)")
    if args.report:
        check_output(args.report, paths, "--report")
    rows = bench_bundles(paths, tuple(args.batch), args.seconds, args.threads, progress=True)
    table = markdown(rows)
    print(table)
    if args.report:
        command = "msp-pynq " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        text = (
            "# Runtime benchmark\n\n"
            f"Measured with `{command}` on {platform.processor() or platform.machine()} "
            f"({args.threads} BLAS thread(s)), the emulated overlay. Host overhead = wall time minus "
            "the time inside the emulated device (register, DMA and engine models), per image: what "
            "the runtime itself costs on this PC (not measured on a board, whose ARM cores are slower "
            "than this PC). Modelled engine time = CYCLES / clock: the Verilog engine's cycle model "
            "(msp_pynq/engine/cycles.py, within 2% of the RTL's simulated counts on every "
            "ResNet-20 layer, docs/benchmarks/engine_cycles.md) at the board profile's clock, which "
            "no timing analysis has confirmed yet (no Vivado here).\n\n" + table + "\n\n<details><summary>raw</summary>\n\n```json\n"
            + json.dumps(rows, indent=1) + "\n```\n</details>\n")
        with atomic_output(args.report) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return 0


def _camera(args: argparse.Namespace) -> int:
    from .camera import Pipeline, ProgressLine, VideoFileSink, WindowSink, open_source, run_demo
    from .datafiles import find_file
    from .jupyter import detect_board
    from .runtime import Runtime
    board = args.board or detect_board()
    try:
        model = args.model or find_file(f"models/resnet20-msp8-exact.{board}.mspb")
    except FileNotFoundError as exc:
        raise MSPError(f"{exc}; pass --model BUNDLE") from None
    if args.out:
        check_output(args.out, [model, args.source], "--out")
    sinks = [WindowSink()] if args.show else []        # no GUI: refused before anything opens
    with open_source(args.source, realtime=args.realtime, loop=args.loop) as source:
        if args.out:
            sinks.append(VideoFileSink(args.out, fps=source.fps or 30.0))
        with Runtime.open(board, emulate=True if args.emulate else None, timeout_s=args.timeout) as rt:
            rt.load(model)
            pipe = Pipeline(source, rt, max_frames=args.frames, max_seconds=args.seconds)
            print(f"camera: {show(source.describe())} -> {show(Path(model).name)} on {rt.board} ({rt.mode})"
                  + ("" if args.frames or args.seconds else "; Ctrl-C stops"), flush=True)
            try:
                run_demo(pipe, sinks, ProgressLine(args.frames))
            except KeyboardInterrupt:
                print("\nstopped (Ctrl-C)")
            print(pipe.stats.summary())
    if args.out:
        print(f"wrote {show(args.out)}: {sinks[-1].frames} annotated frames at {sinks[-1].fps:g} fps")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="msp-pynq", description="MSP quantized CNNs on PYNQ boards")
    parser.add_argument("--version", action="version", version=f"msp-pynq {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="versions and board profiles")
    info.add_argument("--board", type=board_name, help="one board (default: all)")
    info.add_argument("--share-8bit", type=number(0, 1), default=0.05, help="share of 8-bit rows (default 0.05)")
    info.add_argument("--engine", action="store_true",
                      help="open the runtime (board, or emulated) and read the engine's ID and geometry registers")
    info.set_defaults(func=_info)

    be = sub.add_parser("bench", help="runtime host overhead and modelled board fps of bundles",
                        description="Runs each bundle on its board's emulated overlay; reports the "
                                    "runtime's own host time per image (emulator compute taken out) and "
                                    "the modelled engine time and fps.")
    be.add_argument("--models", nargs="+", help="bundles (default: models/*.mspb)")
    be.add_argument("--batch", type=count(1024), nargs="+", default=[1, 16])
    be.add_argument("--seconds", type=number(0, 3600), default=3.0,
                    help="timing per bundle and batch (0: one run each)")
    be.add_argument("--threads", type=count(256), default=1, help="BLAS threads for the emulator")
    be.add_argument("--report", help="also write the Markdown report here")
    be.set_defaults(func=_bench)

    tr = sub.add_parser("train", help="float training or MSP quantization-aware training on CIFAR-10",
                        description="Float: msp-pynq train --model resnet20 --out runs/r20-float. "
                                    "QAT: msp-pynq train --scheme msp --init runs/r20-float/best.npz ...")
    tr.add_argument("--model", default="resnet20", choices=MODELS)
    tr.add_argument("--out", required=True, help="run folder: checkpoints, log.csv, summary.json")
    tr.add_argument("--scheme", default="float",
                    help="float, msp (mixed, board ratio), fixed4, sp2_4, pow2_4, fixed8")
    tr.add_argument("--board", default="pynq-z2", type=board_name)
    tr.add_argument("--share-8bit", type=number(0, 1), default=0.05)
    tr.add_argument("--sp2-share", type=number(0, 1), default=None, help="override the board's SP2 share")
    tr.add_argument("--act-bits", type=int, default=4, choices=ACT_BITS)
    tr.add_argument("--no-first-last-8bit", action="store_true")
    tr.add_argument("--init", help="float checkpoint to start QAT from (with --exact: a QAT checkpoint)")
    tr.add_argument("--exact", action="store_true",
                    help="fine-tune a QAT checkpoint in integer-exact mode (BN folded, the contract's "
                         "rounding): PyTorch's accuracy becomes the bundle's")
    tr.add_argument("--epochs", type=count(10_000), default=40)
    tr.add_argument("--batch-size", type=count(65_536), default=128)
    tr.add_argument("--lr", type=number(0, 10, low_open=True), default=0.1)
    tr.add_argument("--weight-decay", type=number(0, 1), default=5e-4)
    tr.add_argument("--warmup-epochs", type=number(0, 10_000), default=1.0)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--data", help="CIFAR-10 folder (default: $MSP_PYNQ_CIFAR10 or ../shared/datasets/cifar10)")
    tr.add_argument("--train-limit", type=count(), help="train on a random subset of this many images")
    tr.add_argument("--val-limit", type=count(), help="validate on a random subset of this many images")
    tr.add_argument("--resume", action="store_true", help="continue from <out>/last.npz")
    tr.add_argument("--threads", type=count(256), help="torch CPU threads")
    tr.add_argument("--no-progress", action="store_true")
    tr.set_defaults(func=_train)

    ex = sub.add_parser("export", help="a QAT checkpoint to standard ONNX (QDQ + MSP metadata)")
    ex.add_argument("--checkpoint", required=True, help="final.npz/best.npz of a QAT run")
    ex.add_argument("--out", required=True, help="ONNX file to write")
    ex.set_defaults(func=_export)

    co = sub.add_parser("compile", help="msp-pynq ONNX to a model bundle for one board")
    co.add_argument("onnx")
    co.add_argument("--board", default="pynq-z2", type=board_name)
    co.add_argument("--out", help="bundle path (default: <onnx>.<board>.mspb)")
    co.set_defaults(func=_compile)

    pq = sub.add_parser("quantize", help="post-training MSP quantization of a float ONNX CNN")
    pq.add_argument("--onnx", required=True, help="float ONNX model (NCHW image input)")
    pq.add_argument("--calib", required=True, help="folder (or file) of calibration images")
    pq.add_argument("--out", required=True, help="bundle to write, NAME.mspb (the QDQ ONNX goes beside it as NAME.qdq.onnx)")
    pq.add_argument("--board", default="pynq-z2", type=board_name)
    pq.add_argument("--share-8bit", type=number(0, 1), default=0.05)
    pq.add_argument("--act-bits", type=int, default=8, choices=ACT_BITS)
    pq.add_argument("--input-range", type=number(0, 65_535, low_open=True), default=1.0,
                    help="what the float model expects for pixel 255 (1.0 or 255.0)")
    pq.add_argument("--limit", type=count(100_000), default=512, help="calibration images used (default 512)")
    pq.set_defaults(func=_quantize)

    rn = sub.add_parser("run", help="classify images with a bundle on the board or its emulation")
    rn.add_argument("--model", required=True, help="bundle (.mspb)")
    rn.add_argument("--images", help="an image file or a folder of images "
                                     "(default: the sample photos msp_pynq ships: a cat, a rocket, a coffee cup, an astronaut)")
    rn.add_argument("--board", default="pynq-z2", type=board_name)
    rn.add_argument("--emulate", action="store_true", help="emulate even when a board is present")
    rn.add_argument("--limit", type=count(100_000), default=64, help="at most this many images")
    rn.add_argument("--timeout", type=number(0, 3600, low_open=True), default=2.0, help="seconds for any one hardware wait")
    rn.set_defaults(func=_run)

    ev = sub.add_parser("eval", help="accuracy of a bundle in the emulator on CIFAR-10")
    ev.add_argument("--model", required=True, help="bundle (.mspb)")
    ev.add_argument("--data", help="CIFAR-10 folder (default: $MSP_PYNQ_CIFAR10 or ../shared/...)")
    ev.add_argument("--split", default="val", choices=SPLITS)
    ev.add_argument("--limit", type=count())
    ev.add_argument("--batch", type=count(4096), default=250)
    ev.add_argument("--threads", type=count(256), default=1)
    ev.set_defaults(func=_eval)

    ca = sub.add_parser("camera", help="live classification of camera (or video, folder, pan) frames",
                        description="Capture, preprocessing and inference run overlapped in threads; "
                                    "a real-time source drops the older frame when inference falls "
                                    "behind. Prints a progress line and, at the end, the frame rate "
                                    "and the mean time per stage.")
    ca.add_argument("--source", default="0",
                    help="camera index (0), video file, folder of images, image file or 'pan' (a slow "
                         "pan over the sample photos); a camera that does not open falls back to the "
                         "pan (default 0)")
    ca.add_argument("--model", help="bundle (default: models/resnet20-msp8-exact.<board>.mspb)")
    ca.add_argument("--board", type=board_name, help="pynq-z2 or zcu104 (default: the PYNQ image's board, else pynq-z2)")
    ca.add_argument("--emulate", action="store_true", help="emulate even when a board is present")
    ca.add_argument("--frames", type=count(100_000_000), help="stop after this many frames")
    ca.add_argument("--seconds", type=number(0, 1e7, low_open=True), help="stop after this many seconds")
    ca.add_argument("--realtime", action="store_true",
                    help="pace a file, folder or the pan at its frame rate, like a camera "
                         "(default: as fast as possible)")
    ca.add_argument("--loop", action="store_true", help="restart a video file or folder at its end")
    ca.add_argument("--out", help="write the annotated frames to this video (.mp4, .avi)")
    ca.add_argument("--show", action="store_true", help="show the annotated frames in a window (needs "
                                                        "OpenCV with GUI support and a display)")
    ca.add_argument("--timeout", type=number(0, 3600, low_open=True), default=2.0, help="seconds for any one hardware wait")
    ca.set_defaults(func=_camera)
    return parser


def main(argv: "list[str] | None" = None) -> int:
    """The command line; exit codes: 0 done, 2 bad input (one ``msp-pynq: error:`` line),
    1 hardware or file-system trouble, 130 interrupted."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (Exception, KeyboardInterrupt) as exc:
        code = _exit_code(exc)
        if code is None:
            raise
        return code


def _exit_code(exc: BaseException) -> "int | None":
    """Print the one error line for an error the user can act on and return its exit code;
    ``None`` for a bug, whose traceback is worth showing."""
    runtime_errors = sys.modules.get("msp_pynq.runtime.errors")    # loaded if it can have raised
    if isinstance(exc, MSPError):
        _fail(exc)
        return 2
    if runtime_errors and isinstance(exc, runtime_errors.MspRuntimeError):
        _fail(f"{type(exc).__name__}: {exc}")
        return 1
    if isinstance(exc, OSError):       # a full disk, a vanished folder: say which file
        where = f"{show(exc.filename)}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}")
        return 1
    if isinstance(exc, KeyboardInterrupt):
        _fail("interrupted")
        return 130
    return None

if __name__ == "__main__":
    sys.exit(main())
