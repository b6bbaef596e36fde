"""Checkpoints as ``.npz`` (arrays) with a JSON header: no pickle, loadable with numpy alone."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..errors import MSPError

FORMAT = "msp-pynq-checkpoint/1"


def save_checkpoint(path: "str | Path", model: torch.nn.Module, meta: dict,
                    optimizer: "torch.optim.Optimizer | None" = None) -> None:
    """Write model (and optimizer) state and ``meta`` atomically to ``path``."""
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
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def load_checkpoint(path: "str | Path", model: "torch.nn.Module | None" = None,
                    optimizer: "torch.optim.Optimizer | None" = None) -> dict:
    """Load into ``model``/``optimizer`` (when given) and return the checkpoint's ``meta``."""
    path = Path(path)
    if not path.exists():
        raise MSPError(f"{path}: checkpoint not found")
    try:
        data = np.load(path, allow_pickle=False)
        header = json.loads(bytes(data["header"]).decode())
    except (OSError, ValueError, KeyError) as exc:
        raise MSPError(f"{path}: not an msp-pynq checkpoint ({exc})") from None
    if header.get("format") != FORMAT:
        raise MSPError(f"{path}: checkpoint format {header.get('format')!r}, expected {FORMAT!r}")
    if model is not None:
        state = {k[6:]: torch.from_numpy(data[k]) for k in data.files if k.startswith("model/")}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise MSPError(f"{path}: checkpoint does not fit the model (missing {missing[:5]}, "
                           f"unexpected {unexpected[:5]})")
    if optimizer is not None and "optimizer_groups" in header:
        slots: dict = {}
        for k in data.files:
            if k.startswith("optim/"):
                _, idx, key = k.split("/", 2)
                slots.setdefault(int(idx), {})[key] = torch.from_numpy(data[k])
        for name, value in header.get("optimizer_scalars", {}).items():
            idx, key = name.split("/", 1)
            slots.setdefault(int(idx), {})[key] = value
        optimizer.load_state_dict({"state": slots, "param_groups": header["optimizer_groups"]})
    return header["meta"]
