"""Accumulator bounds: why int32 never overflows, and when float GEMM is exact.

Accumulators are int32. With activations of at most 8 bits (|a| <= 255),
weights |q| <= 127, reduction length K <= 2^15 and |bias| <= 2^30:
``|acc| <= 2^15 * 255 * 127 + 2^30 < 2^30 + 2^30 = 2^31``.

A float GEMM of integer operands returns the exact integer sum when every
partial sum is exactly representable: a sum of integer products whose absolute
values add up to at most 2^24 (float32) or 2^53 (float64) never rounds, in any
summation order, with or without FMA. The fast emulator checks
``max|a| * max_row sum|q| <= 2^24`` per layer and call to pick float32,
else float64 (always exact here, as 2^31 < 2^53).
"""
from __future__ import annotations

import numpy as np

MAX_K = 1 << 15
BIAS_MAX = 1 << 30
ACC_MIN, ACC_MAX = -(1 << 31), (1 << 31) - 1
FLOAT32_EXACT = 1 << 24
FLOAT64_EXACT = 1 << 53


def accumulator_bound(k: int, act_max_abs: int, weight_max_abs: int, bias_max_abs: int) -> int:
    """Largest |acc| a row can reach."""
    return k * act_max_abs * weight_max_abs + bias_max_abs


def gemm_dtype(act_max_abs: int, row_l1_max: int) -> type[np.floating]:
    """The cheapest float type whose GEMM is provably exact for this layer call."""
    bound = act_max_abs * row_l1_max
    if bound <= FLOAT32_EXACT:
        return np.float32
    assert bound <= FLOAT64_EXACT, "int32 contract bound exceeded"
    return np.float64


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for integers (``b > 0``), exactly.

    >>> ceil_div(7, 2), ceil_div(8, 2), ceil_div(0, 3)
    (4, 4, 0)
    """
    return -(-a // b)
