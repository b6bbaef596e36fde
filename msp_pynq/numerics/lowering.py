"""Lowering: a layer's float scales and bias to the contract's integers (docs/numerics.md 6-7).

The compiler lowers an exported model with these functions, and the integer-exact QAT mode
(:mod:`msp_pynq.quant.integer_exact`) lowers the live PyTorch model with the same ones, so
both produce the same ``bias``, ``m`` and ``s`` from the same scales.

>>> low = lower_weight_layer(0.5, np.array([0.25]), np.array([1.0]), 0.5)
>>> low.bias.tolist(), low.multiplier.tolist(), low.shift.tolist()
([8], [32768], [17])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .requant import quantize_multipliers, quantize_multipliers_shared


@dataclass
class WeightLowering:
    acc_scale: np.ndarray     # float64 [rows]: the real value of one accumulator unit
    bias: np.ndarray          # int64 [rows], at the accumulator scale (may exceed int32: callers check)
    multiplier: "np.ndarray | None"   # int32 [rows]; None for the logits layer
    shift: "np.ndarray | None"


def lower_weight_layer(in_scale: float, w_scale: np.ndarray, bias: np.ndarray,
                       out_scale: "float | None") -> WeightLowering:
    """Conv/linear: ``acc_scale = S_in * s_r``, bias rounded (half to even) to accumulator units,
    ``M_r = acc_scale / S_out`` quantized per row. ``out_scale=None``: the logits layer."""
    acc_scale = float(in_scale) * np.asarray(w_scale, np.float64)
    bias_int = np.round(np.asarray(bias, np.float64) / acc_scale).astype(np.int64)
    if out_scale is None:
        return WeightLowering(acc_scale, bias_int, None, None)
    m, s = quantize_multipliers(acc_scale / float(out_scale))
    return WeightLowering(acc_scale, bias_int, m, s)


def lower_add(a_scale: float, b_scale: float, out_scale: float) -> "tuple[tuple[int, int], int]":
    """Residual add: ``((m_a, m_b), s)`` on one shared shift (section 7.3)."""
    (ma, mb), s = quantize_multipliers_shared([a_scale / out_scale, b_scale / out_scale])
    return (ma, mb), s


def lower_avg_pool(in_scale: float, count: int, out_scale: float) -> "tuple[int, int]":
    """Global average pool over ``count`` positions: ``(m, s)`` for ``S_in / (S_out * count)``."""
    (m,), (s,) = quantize_multipliers(np.array([in_scale / (out_scale * count)]))
    return int(m), int(s)
