"""Plain int64 reference of every layer: loops over kernel taps and windows, no floats.

Slow and obviously exact; the tests hold :mod:`.fast` to it bit for bit.
"""
from __future__ import annotations

import numpy as np

from ..errors import LayerError
from ..numerics.requant import requantize
from .layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d, check_input, output_size


def conv2d(layer: Conv2d, x: np.ndarray) -> np.ndarray:
    check_input(layer.name, x, layer.in_spec, 4, layer.in_channels)
    n, h, w, _ = x.shape
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = layer.kernel, layer.stride, layer.padding
    ho = output_size(h, kh, sh, pt, pb, layer.name)
    wo = output_size(w, kw, sw, pl, pr, layer.name)
    xp = np.pad(x.astype(np.int64), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    weights = layer.weights.astype(np.int64)
    acc = np.zeros((n, ho, wo, layer.rows), np.int64)
    for i in range(kh):
        for j in range(kw):
            tap = xp[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw, :]
            acc += tap @ weights[:, i, j, :].T          # integer matmul: exact in int64
    return _finish(layer, acc + layer.bias)


def linear(layer: Linear, x: np.ndarray) -> np.ndarray:
    check_input(layer.name, x, layer.in_spec, None)
    if x.ndim < 2 or int(np.prod(x.shape[1:], dtype=np.int64)) != layer.k:
        raise LayerError(layer.name, f"input has shape {x.shape}, expected (N, {layer.k}) or NHWC "
                                     f"with H*W*C = {layer.k}")
    acc = x.reshape(x.shape[0], layer.k).astype(np.int64) @ layer.weights.astype(np.int64).T
    return _finish(layer, acc + layer.bias)


def _finish(layer, acc: np.ndarray) -> np.ndarray:
    if layer.out_spec is None:
        return acc.astype(np.int32)
    return requantize(acc, layer.multiplier, layer.shift, layer.out_spec)


def add(layer: Add, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    check_input(layer.name, a, layer.in_specs[0], None, what="input a")
    check_input(layer.name, b, layer.in_specs[1], None, what="input b")
    if a.shape != b.shape:
        raise LayerError(layer.name, f"inputs have shapes {a.shape} and {b.shape}, expected equal")
    total = a.astype(np.int64) * layer.multipliers[0] + b.astype(np.int64) * layer.multipliers[1]
    return requantize(total, 1, layer.shift, layer.out_spec)


def max_pool(layer: MaxPool2d, x: np.ndarray) -> np.ndarray:
    check_input(layer.name, x, layer.spec, 4)
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = layer.kernel, layer.stride, layer.padding
    ho = output_size(h, kh, sh, pt, pb, layer.name)
    wo = output_size(w, kw, sw, pl, pr, layer.name)
    out = np.empty((n, ho, wo, c), x.dtype)
    for oy in range(ho):
        for ox in range(wo):
            y0, x0 = oy * sh - pt, ox * sw - pl
            window = x[:, max(y0, 0):min(y0 + kh, h), max(x0, 0):min(x0 + kw, w), :]
            out[:, oy, ox, :] = window.max(axis=(1, 2))
    return out


def global_avg_pool(layer: GlobalAvgPool, x: np.ndarray) -> np.ndarray:
    check_input(layer.name, x, layer.in_spec, 4)
    total = x.astype(np.int64).sum(axis=(1, 2))
    return requantize(total, layer.multiplier, layer.shift, layer.out_spec)


RUNNERS = {Conv2d: conv2d, Linear: linear, Add: add, MaxPool2d: max_pool,
           GlobalAvgPool: global_avg_pool}


def run_layer(layer, *inputs: np.ndarray) -> np.ndarray:
    """Run one layer on its input tensor(s) with the reference arithmetic."""
    return RUNNERS[type(layer)](layer, *inputs)
