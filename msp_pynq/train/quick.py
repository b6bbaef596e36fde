"""A few hundred training steps on in-memory images: what the notebooks use for a short QAT.

For real training runs use :mod:`.loop` (``msp-pynq train``: schedules, checkpoints, DDP).

>>> import numpy as np, torch
>>> from torch import nn
>>> model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
>>> x = np.random.default_rng(0).integers(0, 256, (32, 2, 2, 3), dtype=np.uint8)
>>> y = (x.mean(axis=(1, 2, 3)) > 127).astype(np.int64)
>>> losses = fit(model, x, y, steps=5, batch_size=8, progress=False)
>>> len(losses)
5
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import MSPError
from .augment import to_float


def fit(model: nn.Module, images: np.ndarray, labels: np.ndarray, steps: int = 300, batch_size: int = 64,
        lr: float = 0.05, seed: int = 0, progress: bool = True, desc: str = "training") -> "list[float]":
    """SGD with momentum and a cosine learning rate for ``steps`` steps on random batches of
    ``uint8 [N, H, W, C]`` images; returns the loss of each step."""
    from tqdm import tqdm
    if len(images) != len(labels) or images.ndim != 4 or images.dtype != np.uint8:
        raise MSPError(f"fit: expected uint8 [N, H, W, C] images and N labels, got {images.dtype} "
                       f"{images.shape} and {np.shape(labels)}")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(np.asarray(labels, np.int64))
    losses = []
    model.train()
    for _ in tqdm(range(steps), desc=desc, disable=not progress, mininterval=1.0):
        idx = torch.from_numpy(rng.integers(0, len(images), batch_size))
        loss = nn.functional.cross_entropy(model(to_float(x_all[idx])), y_all[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray, batch: int = 500) -> float:
    """Top-1 accuracy of ``model`` (eval mode) on uint8 NHWC ``images``."""
    model.eval()
    correct = 0
    for i in range(0, len(images), batch):
        out = model(to_float(torch.from_numpy(images[i:i + batch])))
        correct += int((out.argmax(1).numpy() == labels[i:i + batch]).sum())
    return correct / len(images)
