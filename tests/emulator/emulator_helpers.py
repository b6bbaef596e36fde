"""Helpers of the emulator tests: running both paths, random parameters, and independent direct
implementations (explicit loops) that the expected values come from."""
from __future__ import annotations

import numpy as np

from msp_pynq.emulator import fast, reference
from msp_pynq.emulator.layers import Conv2d
from msp_pynq.numerics.activations import U4

from conftest import ALL_SPECS, random_acts, random_weights, requant_model, spec_dtype

OUT_SPECS = ALL_SPECS + (None,)
BIAS_LIMIT = 1 << 30


# =========================================================================================
# helpers
# =========================================================================================

def out_dtype(spec):
    return np.dtype(np.int32) if spec is None else np.dtype(spec_dtype(spec))


def run_both(layer, *inputs, dtype=None):
    """Run fast and reference; assert identical dtype, shape and values; return the result."""
    f = fast.run_layer(layer, *inputs)
    r = reference.run_layer(layer, *inputs)
    assert isinstance(f, np.ndarray) and isinstance(r, np.ndarray)
    assert f.dtype == r.dtype, (f.dtype, r.dtype)
    if dtype is not None:
        assert r.dtype == np.dtype(dtype)
    assert f.shape == r.shape, (f.shape, r.shape)
    np.testing.assert_array_equal(f, r)
    return r


def max_abs(x: np.ndarray) -> int:
    return int(np.abs(x.astype(np.int64)).max()) if x.size else 0


def row_l1(weights: np.ndarray) -> int:
    w = np.asarray(weights, np.int64).reshape(len(weights), -1)
    return int(np.abs(w).sum(axis=1).max())


def pad_quad(padding):
    if isinstance(padding, int):
        return (padding,) * 4
    if len(padding) == 2:
        return (padding[0], padding[1], padding[0], padding[1])
    return tuple(padding)


def stride_pair(stride):
    return (stride, stride) if isinstance(stride, int) else tuple(stride)


def pick_bias(rng, kind, rows):
    if kind == "zero":
        return np.zeros(rows, np.int64)
    if kind == "small":
        return rng.integers(-300, 301, rows)
    if kind == "limits":
        return rng.choice(np.array([-BIAS_LIMIT, BIAS_LIMIT]), rows)
    return rng.integers(-BIAS_LIMIT, BIAS_LIMIT + 1, rows)


def pick_requant(rng, m_kind, s_kind, rows, bound, out_spec):
    if m_kind == "max":
        m = np.full(rows, 65535)
    elif m_kind == "zero":
        m = np.zeros(rows, np.int64)
    elif m_kind == "one":
        m = np.ones(rows, np.int64)
    else:
        m = rng.integers(0, 65536, rows)
    if s_kind == "any":
        s = rng.integers(0, 48, rows)
    elif s_kind == "zero":
        s = np.zeros(rows, np.int64)
    else:   # "calibrated": output spans roughly the whole activation range
        bits = 8 if out_spec is None else out_spec.bits
        s = np.array([min(47, max(0, (int(mi) * max(bound, 1)).bit_length() - bits
                                  + int(rng.integers(-1, 3)))) for mi in m], np.int64)
    return m, s


def build_weight_layer(cls, p):
    """A Conv2d or Linear plus its input, from a parameter dict (see the strategies below)."""
    rng = np.random.default_rng(p["seed"])
    rows = p["rows"]
    schemes = (np.full(rows, p["scheme"], np.uint8) if p.get("scheme") is not None
               else rng.integers(0, 3, rows).astype(np.uint8))
    weights = random_weights(rng, schemes, p["k_shape"], p["wmode"])
    x = random_acts(rng, p["x_shape"], p["in_spec"], p["xmode"])
    bias = pick_bias(rng, p["bias"], rows)
    bound = max_abs(x) * row_l1(weights) + int(np.abs(bias).max())
    m, s = pick_requant(rng, p["m_kind"], p["s_kind"], rows, bound, p["out_spec"])
    kw = dict(name=p.get("name", "layer"), weights=weights, schemes=schemes, bias=bias,
              multiplier=m, shift=s, in_spec=p["in_spec"], out_spec=p["out_spec"])
    if cls is Conv2d:
        kw.update(stride=p["stride"], padding=p["padding"])
    return cls(**kw), x


def conv(name="bad", **kw):
    """A small valid conv layer named ``name``, with fields overridden by ``kw``."""
    args = dict(name=name, weights=np.ones((2, 3, 3, 4), np.int64), schemes=[0, 2], bias=0,
                multiplier=1, shift=0, in_spec=U4, out_spec=U4, padding=1)
    args.update(kw)
    return Conv2d(**args)


# --- independent direct implementations ------------------------------------------------

def direct_conv(x, w, bias, stride, padding):
    """Accumulators of a zero-padded NHWC conv by explicit loops over outputs and taps."""
    n, h, wd, _ = x.shape
    cout, kh, kw, _ = w.shape
    sh, sw = stride_pair(stride)
    pt, pl, pb, pr = pad_quad(padding)
    ho, wo = (h + pt + pb - kh) // sh + 1, (wd + pl + pr - kw) // sw + 1
    acc = np.zeros((n, ho, wo, cout), np.int64)
    xi, wi = x.astype(np.int64), np.asarray(w, np.int64)
    for b in range(n):
        for oy in range(ho):
            for ox in range(wo):
                for o in range(cout):
                    total = int(bias[o])
                    for i in range(kh):
                        y = oy * sh - pt + i
                        if not 0 <= y < h:
                            continue
                        for j in range(kw):
                            xx = ox * sw - pl + j
                            if 0 <= xx < wd:
                                total += int(xi[b, y, xx] @ wi[o, i, j])
                    acc[b, oy, ox, o] = total
    return acc


def requant_all(acc, m, s, spec):
    """Apply the big-int model elementwise, per-row m/s on the last axis."""
    m = np.broadcast_to(np.asarray(m), acc.shape[-1:])
    s = np.broadcast_to(np.asarray(s), acc.shape[-1:])
    flat = acc.reshape(-1, acc.shape[-1])
    out = [[requant_model(int(a), int(m[r]), int(s[r]), spec) if spec is not None else int(a)
            for r, a in enumerate(row)] for row in flat.tolist()]
    return np.array(out, np.int64).reshape(acc.shape)


def direct_maxpool(x, kernel, stride, padding):
    n, h, w, c = x.shape
    kh, kw = kernel
    sh, sw = stride
    pt, pl, pb, pr = pad_quad(padding)
    ho, wo = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
    out = np.zeros((n, ho, wo, c), np.int64)
    for b in range(n):
        for oy in range(ho):
            for ox in range(wo):
                for ch in range(c):
                    vals = [int(x[b, y, xx, ch])
                            for y in range(oy * sh - pt, oy * sh - pt + kh) if 0 <= y < h
                            for xx in range(ox * sw - pl, ox * sw - pl + kw) if 0 <= xx < w]
                    out[b, oy, ox, ch] = max(vals)
    return out
