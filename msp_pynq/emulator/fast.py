"""Fast exact layers: im2col + float BLAS GEMM, only where the sum is provably exact.

``numerics.bounds.gemm_dtype`` picks float32 when ``max|a| * max_row sum|q|
<= 2^24`` and float64 otherwise, so the float GEMM returns the same integers
as :mod:`.reference`; ``numerics.requant.FloatRequant`` applies the contract's
rounding exactly in float64. Large batches are processed a few images at a time
so that the patch matrix, the GEMM output and the requantization stay in cache.
"""
from __future__ import annotations

import numpy as np

from ..errors import LayerError
from ..numerics.bounds import gemm_dtype
from ..numerics.requant import FloatRequant
from . import reference
from .layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d, WeightLayer, check_input, output_size

CHUNK_BYTES = 1 << 20   # patch-matrix bytes per GEMM call: about an L2 cache


def _max_abs(x: np.ndarray) -> int:
    if not x.size:
        return 0
    return max(int(x.max()), -int(x.min())) if x.dtype.kind == "i" else int(x.max())


def _requant(layer: WeightLayer) -> FloatRequant:
    if "requant" not in layer.cache:
        layer.cache["requant"] = FloatRequant(layer.multiplier, layer.shift, layer.bias, layer.out_spec)
    return layer.cache["requant"]


def _out_dtype(layer: WeightLayer):
    return np.int32 if layer.out_spec is None else layer.out_spec.dtype


def _im2col(xp: np.ndarray, kernel, stride, ho: int, wo: int, cols: np.ndarray) -> np.ndarray:
    """Fill ``cols`` with ``[n*ho*wo, kh*kw*C]`` patches in (kh, kw, C) order, a copy per tap."""
    n, _, _, c = xp.shape
    (kh, kw), (sh, sw) = kernel, stride
    view = cols.reshape(n, ho, wo, kh, kw, c)
    for i in range(kh):
        for j in range(kw):
            view[:, :, :, i, j, :] = xp[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw, :]
    return cols


def conv2d(layer: Conv2d, x: np.ndarray) -> np.ndarray:
    check_input(layer.name, x, layer.in_spec, 4, layer.in_channels)
    n, h, w, c = x.shape
    (kh, kw), (pt, pl, pb, pr) = layer.kernel, layer.padding
    ho = output_size(h, kh, layer.stride[0], pt, pb, layer.name)
    wo = output_size(w, kw, layer.stride[1], pl, pr, layer.name)
    dtype = gemm_dtype(_max_abs(x), layer.row_l1_max)
    wmat, requant = layer.matrix(dtype), _requant(layer)
    out = np.empty((n, ho, wo, layer.rows), _out_dtype(layer))
    flat_out = out.reshape(n * ho * wo, layer.rows)
    pointwise = (kh, kw) == (1, 1) and (pt, pl, pb, pr) == (0, 0, 0, 0)
    if not pointwise:
        xp = np.zeros((n, h + pt + pb, w + pl + pr, c), dtype)
        xp[:, pt:pt + h, pl:pl + w, :] = x
    per_image = ho * wo * layer.k * np.dtype(dtype).itemsize
    step = max(1, CHUNK_BYTES // per_image)
    cols = None
    for n0 in range(0, n, step):
        n1 = min(n, n0 + step)
        if pointwise:
            sub = x[n0:n1, ::layer.stride[0], ::layer.stride[1], :]
            patches = sub.reshape(-1, c).astype(dtype)
        else:
            if cols is None or cols.shape[0] != (n1 - n0) * ho * wo:
                cols = np.empty(((n1 - n0) * ho * wo, layer.k), dtype)
            patches = _im2col(xp[n0:n1], layer.kernel, layer.stride, ho, wo, cols)
        requant(patches @ wmat, flat_out[n0 * ho * wo:n1 * ho * wo])
    return out


def linear(layer: Linear, x: np.ndarray) -> np.ndarray:
    check_input(layer.name, x, layer.in_spec, None)
    if x.ndim < 2 or int(np.prod(x.shape[1:], dtype=np.int64)) != layer.k:
        raise LayerError(layer.name, f"input has shape {x.shape}, expected (N, {layer.k}) or NHWC "
                                     f"with H*W*C = {layer.k}")
    dtype = gemm_dtype(_max_abs(x), layer.row_l1_max)
    return _requant(layer)(x.reshape(x.shape[0], layer.k).astype(dtype) @ layer.matrix(dtype))


def max_pool(layer: MaxPool2d, x: np.ndarray) -> np.ndarray:
    check_input(layer.name, x, layer.spec, 4)
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = layer.kernel, layer.stride, layer.padding
    ho = output_size(h, kh, sh, pt, pb, layer.name)
    wo = output_size(w, kw, sw, pl, pr, layer.name)
    if (pt, pl, pb, pr) != (0, 0, 0, 0):
        # Padding never wins: fill it with the type's minimum (padding <= kernel // 2, so
        # every window holds at least one real value).
        xp = np.full((n, h + pt + pb, w + pl + pr, c), layer.spec.lo, x.dtype)
        xp[:, pt:pt + h, pl:pl + w, :] = x
        x = xp
    out = None
    for i in range(kh):
        for j in range(kw):
            tap = x[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw, :]
            out = tap.copy() if out is None else np.maximum(out, tap, out=out)
    return out


def add(layer: Add, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a * m_a + b * m_b`` with |a|, |b| <= 255 and m < 2^16 is below 2^25: exact in float64."""
    check_input(layer.name, a, layer.in_specs[0], None, what="input a")
    check_input(layer.name, b, layer.in_specs[1], None, what="input b")
    if a.shape != b.shape:
        raise LayerError(layer.name, f"inputs have shapes {a.shape} and {b.shape}, expected equal")
    if "requant" not in layer.cache:
        layer.cache["requant"] = FloatRequant(1, layer.shift, 0, layer.out_spec)
    total = np.multiply(a, float(layer.multipliers[0]), dtype=np.float64)
    total += np.multiply(b, float(layer.multipliers[1]), dtype=np.float64)
    return layer.cache["requant"](total)


def global_avg_pool(layer: GlobalAvgPool, x: np.ndarray) -> np.ndarray:
    return reference.global_avg_pool(layer, x)


RUNNERS = {Conv2d: conv2d, Linear: linear, Add: add, MaxPool2d: max_pool,
           GlobalAvgPool: global_avg_pool}


def run_layer(layer, *inputs: np.ndarray) -> np.ndarray:
    """Run one layer on its input tensor(s) with the fast exact arithmetic."""
    return RUNNERS[type(layer)](layer, *inputs)
