"""Which rows of a layer get which scheme.

Given a layer's float weights and the counts its board dictates (``boards.row_split``):

1. **8-bit rows** go to the most *sensitive* rows: those whose best 4-bit quantization (fixed-4
   or SP2-4, each at its MSE-optimal scale) loses the largest share of the row's energy,
   ``min(mse_fixed4, mse_sp2) / mean(w^2)``.
2. **SP2 rows**, among the rest, go to the rows whose *shape* suits SP2 best: the smallest
   ratio ``mse_sp2 / mse_fixed4``. SP2's levels crowd near zero, so peaked, Gaussian-like rows
   score low and uniform-like rows high (the papers' observation, measured per row directly).
3. The remaining rows are fixed-4.

The assignment is made once from the float weights when the model is quantized and is frozen
for training (a ``scheme_ids`` buffer in each module, saved with every checkpoint); only the
scales and weights keep learning.
"""
from __future__ import annotations

import torch

from .levels import WEIGHT_SCHEMES
from .observers import best_row_scales


@torch.no_grad()
def row_scores(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(sensitivity, shape)`` per row of a weight tensor (rows on the first axis)."""
    w = weight.detach().reshape(weight.shape[0], -1).float()
    _, e_fixed = best_row_scales(w, WEIGHT_SCHEMES["fixed4"].levels)
    _, e_sp2 = best_row_scales(w, WEIGHT_SCHEMES["sp2_4"].levels)
    energy = (w ** 2).mean(dim=1).clamp_min(1e-20)
    return torch.minimum(e_fixed, e_sp2) / energy, e_sp2 / e_fixed.clamp_min(1e-20)


def assign_rows(weight: torch.Tensor, n_sp2: int, n_fixed8: int) -> "list[str]":
    """Scheme name per row: ``n_fixed8`` fixed-8, ``n_sp2`` SP2-4, the rest fixed-4."""
    rows = weight.shape[0]
    if n_sp2 < 0 or n_fixed8 < 0 or n_sp2 + n_fixed8 > rows:
        raise ValueError(f"cannot give {n_sp2} SP2 and {n_fixed8} 8-bit rows to {rows} rows")
    sensitivity, shape = row_scores(weight)
    schemes = ["fixed4"] * rows
    order8 = torch.argsort(sensitivity, descending=True, stable=True)[:n_fixed8].tolist()
    for r in order8:
        schemes[r] = "fixed8"
    rest = [r for r in torch.argsort(shape, stable=True).tolist() if r not in set(order8)]
    for r in rest[:n_sp2]:
        schemes[r] = "sp2_4"
    return schemes
