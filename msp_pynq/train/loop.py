"""The training loop: float or QAT, checkpoints every epoch, resume, CSV/JSON logs, DDP.

Run as ``msp-pynq train ...`` or under ``torchrun --nproc-per-node N -m msp_pynq.cli train ...``
(DistributedDataParallel: gloo on CPU, nccl on GPU; each process trains on its shard of every
epoch's permutation, and rank 0 evaluates, logs and writes checkpoints).
"""
from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import MSPError
from ..fileio import atomic_output, check_regular_file, finite, show, writable_folder
from .augment import random_crop_flip, to_float
from .checkpoint import load_checkpoint, save_checkpoint


@dataclass
class TrainConfig:
    model: str = "resnet20"
    out: str = "runs/resnet20-float"
    epochs: int = 40
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.0
    seed: int = 0
    data: "str | None" = None
    train_limit: "int | None" = None     # use only the first N training images (tests, smoke runs)
    val_limit: "int | None" = None
    resume: bool = False
    init: "str | None" = None            # start from these float weights (QAT)
    quant: dict = field(default_factory=dict)   # msp_pynq.quant.quantize() arguments; {} = float
    exact: bool = False                  # fine-tune a QAT checkpoint (init) in integer-exact mode
    threads: "int | None" = None
    progress: bool = True
    command: str = ""                    # the command line that started the run (for reports)


def _dist() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def lr_at(cfg: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Linear warm-up, then cosine decay to zero, per step."""
    total = cfg.epochs * steps_per_epoch
    warm = int(cfg.warmup_epochs * steps_per_epoch)
    if step < warm:
        return cfg.lr * (step + 1) / warm
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


@torch.no_grad()
def evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray, batch: int = 500,
             device: str = "cpu") -> tuple[float, float]:
    """Mean cross-entropy and top-1 accuracy on uint8 NHWC ``images``."""
    model.eval()
    loss_sum, correct = 0.0, 0
    for i in range(0, len(images), batch):
        x = to_float(torch.from_numpy(images[i:i + batch])).to(device)
        y = torch.from_numpy(labels[i:i + batch]).to(device)
        out = model(x)
        loss_sum += nn.functional.cross_entropy(out, y, reduction="sum").item()
        correct += (out.argmax(1) == y).sum().item()
    return loss_sum / len(images), correct / len(images)


def build(cfg: TrainConfig) -> nn.Module:
    """The run's model: float, QAT (from float ``init``), or integer-exact (from QAT ``init``)."""
    from ..models import build_model
    model = build_model(cfg.model)
    if cfg.exact:
        if not cfg.quant:
            raise MSPError("integer-exact fine-tuning needs a quantization scheme (--scheme msp ...)")
        from ..quant import integer_exact, quantize
        model = quantize(model, **cfg.quant)
        if cfg.init:
            load_checkpoint(cfg.init, model)
        return integer_exact(model)
    if cfg.init:
        load_checkpoint(cfg.init, model)
    if cfg.quant:
        from ..quant import quantize
        model = quantize(model, **cfg.quant)
    return model


def train(cfg: TrainConfig) -> dict:
    """Train as ``cfg`` says; returns the summary written to ``<out>/summary.json``."""
    from ..data import load_cifar10
    from tqdm import tqdm

    check_config(cfg)
    rank, world = _dist()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    out = Path(cfg.out)
    torch.manual_seed(cfg.seed)
    x_train, y_train = load_cifar10(cfg.data, "train", progress=rank == 0)
    x_val, y_val = load_cifar10(cfg.data, "val", progress=False)
    x_train, y_train = _subset(x_train, y_train, cfg.train_limit, cfg.seed)
    x_val, y_val = _subset(x_val, y_val, cfg.val_limit, cfg.seed)
    model = build(cfg).to(device)
    if cfg.quant and not cfg.exact:     # same calibration batch on every rank, before DDP
        from ..quant import calibrate
        calibrate(model, to_float(torch.from_numpy(_subset(x_train, y_train, 256, cfg.seed)[0])).to(device))
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    start_epoch, history = 0, []
    last = out / "last.npz"
    if cfg.resume and last.exists():
        meta = load_checkpoint(last, model, optimizer)
        start_epoch, history = meta.get("epoch"), meta.get("history")
        if isinstance(start_epoch, bool) or not isinstance(start_epoch, int) or not 0 <= start_epoch <= cfg.epochs \
                or not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
            raise MSPError(f"{show(last)}: not a resumable checkpoint of this run (epoch {start_epoch!r} of "
                           f"{cfg.epochs}, history a {type(history).__name__}; expected an epoch in "
                           f"0..{cfg.epochs} and a list of epoch records)")
        if rank == 0:
            print(f"resuming {last} after epoch {start_epoch}")
    elif cfg.resume and rank == 0:
        print(f"no checkpoint at {last}; starting fresh")
    net = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    per_rank = cfg.batch_size // world
    steps = len(x_train) // cfg.batch_size
    if steps == 0:
        raise MSPError(f"batch size {cfg.batch_size} exceeds the {len(x_train)} training images")
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        _write_text(out / "config.json", json.dumps(asdict(cfg), indent=2) + "\n")
    for epoch in range(start_epoch, cfg.epochs):
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        order = torch.randperm(len(x_train), generator=gen)
        net.train()
        t0, loss_sum, correct, seen = time.time(), 0.0, 0, 0
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=rank != 0 or not cfg.progress,
                   mininterval=1.0 if os.isatty(2) else 30.0)
        for step in bar:
            idx = order[step * cfg.batch_size + rank * per_rank:step * cfg.batch_size + (rank + 1) * per_rank]
            xb = random_crop_flip(torch.from_numpy(x_train[idx.numpy()]), gen)
            x, y = to_float(xb).to(device), torch.from_numpy(y_train[idx.numpy()]).to(device)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(cfg, epoch * steps + step, steps)
            out_logits = net(x)
            loss = criterion(out_logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(y)
            correct += (out_logits.argmax(1) == y).sum().item()
            seen += len(y)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", refresh=False)
        if rank == 0:
            val_loss, val_acc = evaluate(model, x_val, y_val, device=device)
            row = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"],
                   "train_loss": round(loss_sum / seen, 5), "train_acc": round(correct / seen, 5),
                   "val_loss": round(val_loss, 5), "val_acc": round(val_acc, 5),
                   "seconds": round(time.time() - t0, 1)}
            history.append(row)
            print(json.dumps(row), flush=True)
            _write_csv(out / "log.csv", history)
            save_checkpoint(last, model, {"epoch": epoch + 1, "history": history, "config": asdict(cfg)},
                            optimizer)
            if val_acc >= max(h["val_acc"] for h in history):
                save_checkpoint(out / "best.npz", model, {"epoch": epoch + 1, "val_acc": val_acc,
                                                          "config": asdict(cfg)})
        if world > 1:
            torch.distributed.barrier()
    summary = {}
    if rank == 0:
        final_loss, final_acc = evaluate(model, x_val, y_val, device=device)
        summary = {"model": cfg.model, "quant": cfg.quant, "epochs": cfg.epochs, "command": cfg.command,
                   "val_acc": final_acc, "val_loss": final_loss,
                   "best_val_acc": max((h["val_acc"] for h in history), default=final_acc),
                   "train_seconds": round(sum(h["seconds"] for h in history), 1),
                   "val_images": len(x_val), "world_size": world}
        _write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
        save_checkpoint(out / "final.npz", model, {"epoch": cfg.epochs, "summary": summary,
                                                   "config": asdict(cfg)})
    return summary


def check_config(cfg: TrainConfig) -> None:
    """Refuse a configuration that cannot run before any data is loaded: numbers out of range,
    an unknown scheme, a missing ``init``, an output folder that cannot be written or whose
    checkpoints would overwrite ``init``."""
    from ..models import MODELS
    if cfg.model not in MODELS:
        raise MSPError(f"model {cfg.model!r} unknown; expected one of {', '.join(MODELS)}")
    for name, high in (("epochs", 10_000), ("batch_size", 65_536)):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            raise MSPError(f"{name} must be a whole number in 1..{high:,}, not {value!r}")
    for name in ("train_limit", "val_limit", "threads"):
        value = getattr(cfg, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise MSPError(f"{name} must be a positive whole number or None, not {value!r}")
    finite(cfg.lr, "lr", 0, 10, low_open=True)
    finite(cfg.weight_decay, "weight_decay", 0, 1)
    finite(cfg.momentum, "momentum", 0, 1)
    finite(cfg.warmup_epochs, "warmup_epochs", 0, cfg.epochs)
    finite(cfg.label_smoothing, "label_smoothing", 0, 1)
    if cfg.quant:
        from ..quant.api import SINGLE_SCHEMES
        scheme = cfg.quant.get("scheme", "msp")
        if scheme != "msp" and scheme not in SINGLE_SCHEMES:
            raise MSPError(f"unknown scheme {scheme!r}; expected float, msp or one of {', '.join(SINGLE_SCHEMES)}")
    if cfg.exact and not cfg.init:
        raise MSPError("--exact fine-tunes a trained QAT model: give its checkpoint with --init")
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise MSPError(f"--out {show(out)}: exists and is not a folder")
    existing = next(p for p in (out, *out.resolve().parents) if p.exists())
    if not writable_folder(existing):
        raise MSPError(f"--out {show(out)}: {show(existing)} is not writable")
    if cfg.init:
        init = check_regular_file(cfg.init, "checkpoint (--init)").resolve()
        written = {(out / name).resolve() for name in ("last.npz", "best.npz", "final.npz")}
        if init in written:
            raise MSPError(f"--init {show(cfg.init)}: the run in --out {show(out)} would overwrite it; "
                           f"give another --out")


def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _subset(x: np.ndarray, y: np.ndarray, limit: "int | None", seed: int):
    """A seeded random subset of ``limit`` images (all classes), or everything."""
    if not limit or limit >= len(x):
        return x, y
    keep = np.sort(np.random.default_rng(seed).permutation(len(x))[:limit])
    return x[keep], y[keep]


def _write_csv(path: Path, rows: list) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
