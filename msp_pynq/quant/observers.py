"""Statistics that initialise the learned scales: MSE-optimal clipping for weights and activations."""
from __future__ import annotations

import torch

from ..numerics.activations import act_spec
from .fake_quant import nearest_level

_FRACTIONS = torch.linspace(0.25, 1.0, 31)


@torch.no_grad()
def row_mse(w: torch.Tensor, scale: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Per-row mean squared error of quantizing rows ``w [R, K]`` to ``scale[r] * levels``."""
    v = torch.clamp(w / scale[:, None], levels[0].item(), levels[-1].item())
    return ((nearest_level(v, levels) * scale[:, None] - w) ** 2).mean(dim=1)


@torch.no_grad()
def best_row_scales(w: torch.Tensor, levels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row of ``w [R, K]``, the scale (clip = scale * max level) with the least MSE.

    Searches clips from 25% to 100% of the row's max |w|. Returns ``(scales, mse)``.
    """
    top = w.abs().amax(dim=1).clamp_min(1e-12) / levels.abs().max()
    best_s, best_e = top.clone(), torch.full_like(top, float("inf"))
    for frac in _FRACTIONS:
        s = top * frac
        e = row_mse(w, s, levels)
        better = e < best_e
        best_s[better], best_e[better] = s[better], e[better]
    return best_s, best_e


@torch.no_grad()
def best_act_clip(x: torch.Tensor, bits: int, signed: bool) -> float:
    """MSE-optimal PACT clip for a sample of activations ``x``."""
    n = act_spec(bits, signed).hi
    xs = x.detach().flatten().float()
    if xs.numel() > 1 << 20:
        xs = xs[torch.randperm(xs.numel())[:1 << 20]]
    top = xs.abs().max().item() if signed else xs.clamp_min(0).max().item()
    if top <= 0:
        return 1.0
    best, best_e = top, float("inf")
    for frac in _FRACTIONS:
        a = top * frac.item()
        lo = -a if signed else 0.0
        q = torch.round(xs.clamp(lo, a) * (n / a)) * (a / n)
        e = ((q - (xs if signed else xs.clamp_min(0))) ** 2).mean().item()
        if e < best_e:
            best, best_e = a, e
    return best
