"""Checkpoints as ``.npz`` (arrays) with a JSON header: no pickle, loadable with numpy alone.

A checkpoint is read without trusting it (it may come from anywhere: ``export``, ``train
--init``): a regular file, a zip whose declared sizes stay within :data:`MAX_CHECKPOINT_BYTES`
before anything is inflated, plain numeric arrays whose ``.npy`` headers match their sizes, a
strict JSON header of the expected shape; anything else is an :class:`MSPError`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from ..data.cifar10 import read_npz
from ..errors import MSPError
from ..fileio import atomic_output, check_regular_file, show, strict_json

FORMAT = "msp-pynq-checkpoint/1"
# The models here are a few MB with their optimizer state; a ResNet-50 with momentum is ~200 MB.
MAX_CHECKPOINT_BYTES = 1 << 30
MAX_HEADER_BYTES = 16 << 20


def save_checkpoint(path: "str | Path", model: torch.nn.Module, meta: dict,
                    optimizer: "torch.optim.Optimizer | None" = None) -> None:
    """Write model (and optimizer) state and ``meta`` atomically to ``path``. JSON has no NaN:
    a non-finite number in ``meta`` (a diverged epoch's loss) is written as null."""
    arrays = {f"model/{k}": v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    header = {"format": FORMAT, "meta": meta}
    if optimizer is not None:
        state = optimizer.state_dict()
        header["optimizer_groups"] = state["param_groups"]
        for idx, slots in state["state"].items():
            for key, value in slots.items():
                if torch.is_tensor(value):
                    arrays[f"optim/{idx}/{key}"] = value.cpu().numpy()
                else:
                    header.setdefault("optimizer_scalars", {})[f"{idx}/{key}"] = value
    text = json.dumps(_json_safe(header), allow_nan=False)
    arrays["header"] = np.frombuffer(text.encode(), np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:      # a file object: no ".npz" added
        np.savez(fh, **arrays)


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def load_checkpoint(path: "str | Path", model: "torch.nn.Module | None" = None,
                    optimizer: "torch.optim.Optimizer | None" = None) -> dict:
    """Load into ``model``/``optimizer`` (when given) and return the checkpoint's ``meta``."""
    path = Path(path)
    check_regular_file(path, "checkpoint")
    arrays = read_npz(path, "msp-pynq checkpoint", MAX_CHECKPOINT_BYTES)
    header = _header(arrays, path)
    if model is not None:
        state = {k[6:]: _tensor(v, path, k) for k, v in arrays.items() if k.startswith("model/")}
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:                          # a tensor of another shape
            raise MSPError(f"{show(path)}: checkpoint does not fit the model "
                           f"({show(str(exc).splitlines()[-1][:300])})") from None
        if missing or unexpected:
            raise MSPError(f"{show(path)}: checkpoint does not fit the model (missing {missing[:5]}, "
                           f"unexpected {unexpected[:5]})")
    if optimizer is not None and "optimizer_groups" in header:
        _load_optimizer(optimizer, arrays, header, path)
    return header["meta"]


def _header(arrays: dict, path: Path) -> dict:
    raw = arrays.get("header")
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise MSPError(f"{show(path)}: not an msp-pynq checkpoint (no uint8 'header' array)")
    if raw.size > MAX_HEADER_BYTES:
        raise MSPError(f"{show(path)}: checkpoint header is {raw.size:,} bytes, more than the "
                       f"{MAX_HEADER_BYTES:,} allowed")
    header = strict_json(raw.tobytes(), f"{show(path)}: checkpoint header")
    if not isinstance(header, dict):
        raise MSPError(f"{show(path)}: checkpoint header is a JSON {type(header).__name__}, expected an object")
    if header.get("format") != FORMAT:
        raise MSPError(f"{show(path)}: checkpoint format {show(repr(header.get('format'))[:80])}, "
                       f"expected {FORMAT!r}")
    expected = {"meta": dict, "optimizer_groups": list, "optimizer_scalars": dict}
    for key, kind in expected.items():
        if (key in header or key == "meta") and not isinstance(header.get(key), kind):
            raise MSPError(f"{show(path)}: checkpoint header field {key!r} is "
                           f"{type(header.get(key)).__name__}, expected a JSON "
                           f"{'object' if kind is dict else 'array'}")
    unknown = set(header) - set(expected) - {"format"}
    if unknown:
        raise MSPError(f"{show(path)}: checkpoint header has unknown fields {sorted(map(show, unknown))[:5]}")
    for name in arrays:
        if name != "header" and not name.startswith(("model/", "optim/")):
            raise MSPError(f"{show(path)}: checkpoint holds the array {show(name)}, which is "
                           f"neither model/ nor optim/ state")
    return header


def _tensor(arr: np.ndarray, path: Path, name: str) -> torch.Tensor:
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    try:
        return torch.from_numpy(arr)
    except TypeError:                                        # a dtype torch has no tensor of
        raise MSPError(f"{show(path)}: checkpoint array {show(name)} has the dtype {arr.dtype}, "
                       f"which torch cannot hold") from None


def _load_optimizer(optimizer: "torch.optim.Optimizer", arrays: dict, header: dict, path: Path) -> None:
    groups = header["optimizer_groups"]
    if not all(isinstance(g, dict) and isinstance(g.get("params"), list)
               and all(type(i) is int for i in g["params"]) for g in groups):
        raise MSPError(f"{show(path)}: checkpoint optimizer_groups must be objects with a "
                       f"'params' list of integers")
    slots: dict = {}
    for k, v in arrays.items():
        if k.startswith("optim/"):
            idx, key = _slot(k[6:], path)
            slots.setdefault(idx, {})[key] = _tensor(v, path, k)
    for name, value in header.get("optimizer_scalars", {}).items():
        if not (value is None or isinstance(value, (bool, int, float))):
            raise MSPError(f"{show(path)}: checkpoint optimizer scalar {show(name)} is not a number")
        idx, key = _slot(name, path)
        slots.setdefault(idx, {})[key] = value
    try:
        optimizer.load_state_dict({"state": slots, "param_groups": groups})
    except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as exc:
        raise MSPError(f"{show(path)}: checkpoint optimizer state does not fit the optimizer "
                       f"({type(exc).__name__}: {show(str(exc)[:200])})") from None


def _slot(name: str, path: Path) -> "tuple[int, str]":
    idx, _, key = name.partition("/")
    if not (idx.isascii() and idx.isdigit() and len(idx) < 10 and key):
        raise MSPError(f"{show(path)}: checkpoint optimizer entry {show(name)} is not <index>/<name>")
    return int(idx), key
