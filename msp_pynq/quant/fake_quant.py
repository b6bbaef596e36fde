"""Fake quantization with straight-through estimators (the training-time view of the contract).

Weights: ``w_q = s * L(clamp(w / s))`` per row, ``L`` the nearest level of the row's scheme,
``s`` a learned per-row scale with the LSQ gradient (Esser et al. 2020) scaled by
``1 / sqrt(K * max_level)``. Activations: PACT-style (Choi et al. 2018) learned clip ``alpha``,
``y = (alpha / n) * round(clamp(x, 0, alpha) * n / alpha)``, ``n = 2^b - 1`` (unsigned) or
127 (signed 8-bit, clamp to ``[-alpha, alpha]``). Rounding passes gradients straight through.
"""
from __future__ import annotations

import torch

from ..numerics.activations import act_spec


def grad_scale(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` in the forward pass, gradient multiplied by ``scale`` in the backward pass."""
    return (x - x * scale).detach() + x * scale


def nearest_level(v: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Each entry of ``v`` replaced by the nearest of the sorted ``levels`` (ties go down)."""
    mids = (levels[1:] + levels[:-1]) / 2
    return levels[torch.bucketize(v, mids)]


def levels_ste(v: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Clamp to the level range, snap to the nearest level; gradient 1 inside the range."""
    vc = torch.clamp(v, levels[0].item(), levels[-1].item())
    return vc + (nearest_level(vc.detach(), levels) - vc).detach()


def fake_quant_rows(w: torch.Tensor, scale: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Rows of ``w`` (first axis) quantized to ``scale[r] * levels``, LSQ gradients for ``scale``."""
    k = w[0].numel()
    g = 1.0 / (k * levels.abs().max().item()) ** 0.5
    s = grad_scale(scale, g).view(-1, *([1] * (w.dim() - 1)))
    return levels_ste(w / s, levels) * s


class _ActFakeQuant(torch.autograd.Function):
    """PACT forward and backward in a handful of fused passes (QAT spends most of its time
    here: activations are large, weights small)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: torch.Tensor, n: int, signed: bool) -> torch.Tensor:
        a = alpha.detach().abs().clamp_min(1e-8)
        xc = torch.clamp(x, -a if signed else torch.zeros_like(a), a)
        step = a / n
        y = torch.round(xc / step).mul_(step)
        inside = xc == x
        ctx.save_for_backward(x, y, inside, alpha)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, y, inside, alpha = ctx.saved_tensors
        gx = grad * inside
        # dy/dalpha: (y - x) / alpha inside the clip range (LSQ-like), y / alpha (= +-1) outside
        ga = ((grad * y).sum() - (gx * x).sum()) / alpha.detach().abs().clamp_min(1e-8)
        return gx, (ga * torch.sign(alpha.detach())).reshape(alpha.shape), None, None


def fake_quant_act(x: torch.Tensor, alpha: torch.Tensor, bits: int, signed: bool) -> torch.Tensor:
    """PACT: clip to ``[0, alpha]`` (or ``[-alpha, alpha]``) and round to ``bits``."""
    return _ActFakeQuant.apply(x, alpha, act_spec(bits, signed).hi, signed)
