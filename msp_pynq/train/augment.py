"""CIFAR augmentation without torchvision: random crop with zero padding and horizontal flip."""
from __future__ import annotations

import torch


def to_float(images: torch.Tensor) -> torch.Tensor:
    """``uint8 [N, H, W, 3]`` pixels to ``float [N, 3, H, W]`` in [0, 1] (no mean/std)."""
    return images.permute(0, 3, 1, 2).float().div_(255.0)


def random_crop_flip(images: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Per image: pad by ``pad`` zero pixels, crop back to size at a random offset, flip half.

    Works on ``uint8 [N, H, W, C]``; returns the same shape and dtype.
    """
    n, h, w, _ = images.shape
    padded = torch.nn.functional.pad(images, (0, 0, pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None, :])                      # [n, h]
    cols = (dx[:, None] + torch.arange(w)[None, :])                      # [n, w]
    flip = torch.rand(n, generator=generator) < 0.5
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(n)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]]
