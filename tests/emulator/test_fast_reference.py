"""Hypothesis properties and deterministic edge cases: the fast emulator path equals the
int64 reference bit for bit, and the reference equals direct loops.

Expected values come from explicit Python loops and the big-int requant model in
conftest (``requant_model``), never from the package itself.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msp_pynq.emulator import fast, reference
from msp_pynq.emulator.layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d
from msp_pynq.emulator.network import Network
from msp_pynq.errors import LayerError, MSPError
from msp_pynq.numerics.activations import S8, U4, U8
from msp_pynq.numerics.bounds import gemm_dtype

from conftest import ALL_SPECS, random_acts, random_weights, requant_model, spec_dtype
from .emulator_helpers import (OUT_SPECS, BIAS_LIMIT, out_dtype, run_both, pad_quad, stride_pair,
                              build_weight_layer, direct_conv, requant_all, direct_maxpool)


in_specs = st.sampled_from(ALL_SPECS)
out_specs = st.sampled_from(OUT_SPECS)
seeds = st.integers(0, 2 ** 32 - 1)
wmodes = st.sampled_from(["uniform", "uniform", "max", "min", "zero_rows"])
xmodes = st.sampled_from(["uniform", "uniform", "max", "min", "zero"])
bias_kinds = st.sampled_from(["zero", "small", "limits", "any"])
m_kinds = st.sampled_from(["any", "any", "max", "one", "zero"])
s_kinds = st.sampled_from(["calibrated", "calibrated", "any", "zero"])


@st.composite
def conv_params(draw, cins=(1, 2, 3, 4, 5, 7), max_extra=6, big=False):
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    kind = draw(st.sampled_from(["int", "pair", "quad"]))
    if kind == "int":
        padding = draw(st.integers(0, 2))
    elif kind == "pair":
        padding = draw(st.tuples(st.integers(0, 2), st.integers(0, 2)))
    else:
        padding = draw(st.tuples(*[st.integers(0, 2)] * 4))
    pt, pl, pb, pr = pad_quad(padding)
    hmin, wmin = max(1, kh - pt - pb), max(1, kw - pl - pr)
    h = draw(st.integers(hmin, hmin + max_extra))
    w = draw(st.integers(wmin, wmin + max_extra))
    n = draw(st.integers(1, 2))
    cin = draw(st.sampled_from(cins))
    cout = draw(st.integers(1, 6))
    return dict(rows=cout, k_shape=(kh, kw, cin), x_shape=(n, h, w, cin), stride=stride,
                padding=padding, **_value_params(draw, big, [None] * 4 + [0, 1, 2]))


def _value_params(draw, big: bool, small_schemes: list) -> dict:
    """Activation types, schemes, value modes and requant kinds shared by conv and linear."""
    extreme = st.sampled_from(["max", "min", "uniform"])
    return dict(in_spec=draw(st.sampled_from((U8, S8)) if big else in_specs),
                out_spec=draw(out_specs),
                scheme=draw(st.sampled_from([None, 1] if big else small_schemes)),
                wmode=draw(extreme if big else wmodes), xmode=draw(extreme if big else xmodes),
                bias=draw(bias_kinds), m_kind=draw(m_kinds), s_kind=draw(s_kinds),
                seed=draw(seeds))


@settings(max_examples=250)
@given(conv_params())
def test_conv_fast_equals_reference(p):
    layer, x = build_weight_layer(Conv2d, p)
    run_both(layer, x, dtype=out_dtype(p["out_spec"]))


@settings(max_examples=40)
@given(conv_params(cins=(21, 33, 64), max_extra=2, big=True))
def test_conv_fast_equals_reference_large_k(p):
    """K >= 21 * kh * kw with 8-bit inputs: often beyond 2^24, the float64 GEMM path."""
    layer, x = build_weight_layer(Conv2d, p)
    run_both(layer, x, dtype=out_dtype(p["out_spec"]))


@settings(max_examples=60)
@given(conv_params(cins=(1, 2, 3), max_extra=3))
def test_reference_conv_equals_direct_loops(p):
    layer, x = build_weight_layer(Conv2d, p)
    acc = direct_conv(x, layer.weights, layer.bias, p["stride"], p["padding"])
    expected = requant_all(acc, layer.multiplier, layer.shift, p["out_spec"])
    got = reference.run_layer(layer, x)
    assert got.dtype == out_dtype(p["out_spec"])
    np.testing.assert_array_equal(got.astype(np.int64), expected)


@st.composite
def linear_params(draw, big=False):
    n = draw(st.integers(1, 3))
    if big:
        k = draw(st.integers(519, 4096))
        x_shape = (n, k)
    elif draw(st.booleans()):
        k = draw(st.one_of(st.just(1), st.integers(1, 40)))
        x_shape = (n, k)
    else:
        hwc = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 5)))
        x_shape, k = (n,) + hwc, int(np.prod(hwc))
    return dict(rows=draw(st.integers(1, 8)), k_shape=(k,), x_shape=x_shape,
                **_value_params(draw, big, [None, None, 0, 1, 2]))


@settings(max_examples=200)
@given(linear_params())
def test_linear_fast_equals_reference(p):
    layer, x = build_weight_layer(Linear, p)
    got = run_both(layer, x, dtype=out_dtype(p["out_spec"]))
    assert got.shape == (x.shape[0], p["rows"])
    # independent: flatten in NHWC order and multiply with Python ints
    flat = x.reshape(x.shape[0], -1).astype(np.int64)
    acc = flat @ layer.weights.astype(np.int64).T + layer.bias.astype(np.int64)
    np.testing.assert_array_equal(
        got.astype(np.int64), requant_all(acc, layer.multiplier, layer.shift, p["out_spec"]))


@settings(max_examples=60)
@given(linear_params(big=True))
def test_linear_fast_equals_reference_large_k(p):
    layer, x = build_weight_layer(Linear, p)
    run_both(layer, x, dtype=out_dtype(p["out_spec"]))


@st.composite
def add_case(draw):
    shape = draw(st.one_of(
        st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(1, 4), st.integers(1, 5)),
        st.tuples(st.integers(1, 3), st.integers(1, 7))))
    spec_a, spec_b, out = draw(in_specs), draw(in_specs), draw(in_specs)
    rng = np.random.default_rng(draw(seeds))
    a = random_acts(rng, shape, spec_a, draw(xmodes))
    b = random_acts(rng, shape, spec_b, draw(xmodes))
    ma, mb = draw(st.one_of(st.integers(0, 65535), st.sampled_from([0, 1, 65535]))), \
        draw(st.one_of(st.integers(0, 65535), st.sampled_from([0, 1, 65535])))
    bound = 255 * (ma + mb)
    if draw(st.booleans()):
        shift = draw(st.integers(0, 47))
    else:
        shift = max(0, min(47, bound.bit_length() - out.bits + draw(st.integers(-1, 2))))
    layer = Add(name="add", inputs=("a", "b"), in_specs=(spec_a, spec_b), multipliers=(ma, mb),
                shift=shift, out_spec=out)
    return layer, a, b


@settings(max_examples=200)
@given(add_case())
def test_add_fast_equals_reference(case):
    layer, a, b = case
    got = run_both(layer, a, b, dtype=spec_dtype(layer.out_spec))
    ma, mb = layer.multipliers
    expected = [requant_model(int(x) * ma + int(y) * mb, 1, layer.shift, layer.out_spec)
                for x, y in zip(a.ravel().tolist(), b.ravel().tolist())]
    assert got.ravel().tolist() == expected


@st.composite
def maxpool_case(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)),
               draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    pt, pl, pb, pr = padding
    h = draw(st.integers(max(1, kh - pt - pb), 7))
    w = draw(st.integers(max(1, kw - pl - pr), 7))
    spec = draw(in_specs)
    rng = np.random.default_rng(draw(seeds))
    x = random_acts(rng, (draw(st.integers(1, 2)), h, w, draw(st.integers(1, 4))), spec, draw(xmodes))
    layer = MaxPool2d(name="pool", kernel=(kh, kw), stride=stride, padding=padding, spec=spec)
    return layer, x, (kh, kw), stride_pair(stride) if stride is not None else (kh, kw), padding


@settings(max_examples=200)
@given(maxpool_case())
def test_maxpool_fast_equals_reference_and_direct(case):
    layer, x, kernel, stride, padding = case
    got = run_both(layer, x, dtype=x.dtype)
    np.testing.assert_array_equal(got.astype(np.int64), direct_maxpool(x, kernel, stride, padding))


@settings(max_examples=150)
@given(spec=in_specs, out=in_specs, n=st.integers(1, 3), h=st.integers(1, 6), w=st.integers(1, 6),
       c=st.integers(1, 5), m=st.integers(0, 65535), s_any=st.integers(0, 47), calibrate=st.booleans(),
       xmode=xmodes, seed=seeds)
def test_gap_fast_equals_reference(spec, out, n, h, w, c, m, s_any, calibrate, xmode, seed):
    x = random_acts(np.random.default_rng(seed), (n, h, w, c), spec, xmode)
    s = max(0, min(47, (m * 255 * h * w).bit_length() - out.bits)) if calibrate else s_any
    layer = GlobalAvgPool(name="gap", multiplier=m, shift=s, in_spec=spec, out_spec=out)
    got = run_both(layer, x, dtype=spec_dtype(out))
    assert got.shape == (n, c)
    sums = x.astype(np.int64).sum(axis=(1, 2))
    assert got.tolist() == [[requant_model(int(v), m, s, out) for v in row] for row in sums.tolist()]


# --- deterministic edge cases of fast == reference --------------------------------------

@pytest.mark.parametrize("scheme", [0, 1, 2])
@pytest.mark.parametrize("in_spec", ALL_SPECS)
def test_k1_conv_and_linear(scheme, in_spec):
    """K = 1: a 1x1 conv on one channel, and a one-input linear layer."""
    rng = np.random.default_rng(scheme * 10 + in_spec.bits)
    levels = {0: [-7, 7, 3], 1: [-127, 127, 5], 2: [-8, 8, 5]}[scheme]
    w = np.array(levels).reshape(3, 1, 1, 1)
    x = random_acts(rng, (2, 3, 4, 1), in_spec)
    conv = Conv2d(name="k1", weights=w, schemes=[scheme] * 3, bias=[1, -1, 0], multiplier=1,
                  shift=0, in_spec=in_spec, out_spec=None)
    got = run_both(conv, x, dtype=np.int32)
    for o in range(3):
        np.testing.assert_array_equal(got[..., o], x[..., 0].astype(np.int64) * levels[o] + [1, -1, 0][o])
    lin = Linear(name="k1lin", weights=w.reshape(3, 1), schemes=[scheme] * 3, in_spec=in_spec,
                 out_spec=None)
    got = run_both(lin, x[:, 0, 0, :], dtype=np.int32)
    np.testing.assert_array_equal(got, x[:, 0, 0, :].astype(np.int64) * np.array(levels))


@pytest.mark.parametrize("out_spec", OUT_SPECS)
def test_largest_codes_force_float64(out_spec):
    """All weights 127 (fixed8), input all 255, K = 3*3*64: bound 255*127*576 > 2^24."""
    k_shape = (3, 3, 64)
    w = np.full((4,) + k_shape, 127)
    w[1] = -127
    x = np.full((1, 3, 3, 64), 255, np.uint8)
    assert 255 * 127 * 576 > 2 ** 24
    assert gemm_dtype(255, 127 * 576) is np.float64
    bias = np.array([BIAS_LIMIT, -BIAS_LIMIT, 0, 7])
    conv = Conv2d(name="big", weights=w, schemes=[1] * 4, bias=bias, multiplier=[65535, 65535, 1, 3],
                  shift=[47, 30, 0, 20], in_spec=U8, out_spec=out_spec, padding=1)
    got = run_both(conv, x, dtype=out_dtype(out_spec))
    acc = direct_conv(x, w, bias, 1, 1)
    np.testing.assert_array_equal(got.astype(np.int64),
                                  requant_all(acc, [65535, 65535, 1, 3], [47, 30, 0, 20], out_spec))
    # the centre tap sees all 9 inputs: 255 * 127 * 576 + 2^30
    if out_spec is None:
        assert int(got[0, 1, 1, 0]) == 255 * 127 * 576 + BIAS_LIMIT
        assert int(got[0, 1, 1, 1]) == -255 * 127 * 576 - BIAS_LIMIT


def test_int32_contract_corner_k_max():
    """K = 2^15, |a| = 255, |q| = 127, |bias| = 2^30: the largest legal accumulator."""
    k = 1 << 15
    w = np.full((2, k), 127)
    w[1] = -127
    x = np.full((1, k), 255, np.uint8)
    layer = Linear(name="corner", weights=w, schemes=[1, 1], bias=[BIAS_LIMIT, -BIAS_LIMIT],
                   in_spec=U8, out_spec=None)
    got = run_both(layer, x, dtype=np.int32)
    big = 255 * 127 * k + BIAS_LIMIT
    assert big < 2 ** 31
    assert got.tolist() == [[big, -big]]


def test_s8_min_input_times_min_weight():
    x = np.full((1, 2, 2, 3), -128, np.int8)
    w = np.full((2, 2, 2, 3), -127)
    w[1] = 127
    conv = Conv2d(name="neg", weights=w, schemes=[1, 1], in_spec=S8, out_spec=None)
    got = run_both(conv, x, dtype=np.int32)
    assert got.tolist() == [[[[128 * 127 * 12, -128 * 127 * 12]]]]


def test_all_zero_rows_and_zero_multiplier():
    w = np.zeros((3, 3, 3, 2), np.int64)
    w[1, 1, 1, 0] = 5
    x = np.full((1, 4, 4, 2), 9, np.uint8)
    conv = Conv2d(name="z", weights=w, schemes=[2, 2, 0], bias=[-3, 0, 3], multiplier=[1, 1, 0],
                  shift=[0, 0, 5], in_spec=U4, out_spec=S8, padding=1)
    got = run_both(conv, x, dtype=np.int8)
    assert (got[..., 0] == -3).all() and (got[..., 1] == 45).all() and (got[..., 2] == 0).all()


def test_batch_split_into_chunks():
    """Batches bigger than the fast path's GEMM chunk give the same result as one by one."""
    rng = np.random.default_rng(7)
    schemes = rng.integers(0, 3, 16).astype(np.uint8)
    w = random_weights(rng, schemes, (3, 3, 16))
    x = random_acts(rng, (5, 32, 32, 16), U4)
    conv = Conv2d(name="chunk", weights=w, schemes=schemes, bias=rng.integers(-50, 50, 16),
                  multiplier=rng.integers(1, 65536, 16), shift=22, in_spec=U4, out_spec=U4,
                  stride=(1, 2), padding=(1, 0, 2, 1))
    whole = run_both(conv, x, dtype=np.uint8)
    for i in range(5):
        np.testing.assert_array_equal(fast.run_layer(conv, x[i:i + 1]), whole[i:i + 1])
    pw = Conv2d(name="pw", weights=w[:, 1:2, 1:2, :], schemes=schemes, multiplier=1, shift=4,
                in_spec=U4, out_spec=S8, stride=2)
    run_both(pw, np.repeat(x, 40, axis=0), dtype=np.int8)


def test_add_shapes_2d_and_broadcast_free():
    a = np.array([[-128, 127, 0, -1]], np.int8)
    b = np.array([[15, 0, 15, 1]], np.uint8)
    layer = Add(name="mix", inputs=("a", "b"), in_specs=(S8, U4), multipliers=(65535, 65535),
                shift=16, out_spec=S8)
    got = run_both(layer, a, b, dtype=np.int8)
    assert got.tolist() == [[requant_model(int(p) * 65535 + int(q) * 65535, 1, 16, S8)
                             for p, q in zip(a[0].tolist(), b[0].tolist())]]


def test_add_requires_an_activation_output():
    """An add always requantizes to an activation type; None (raw accumulators) is refused."""
    with pytest.raises(LayerError, match="rawadd.*ActSpec"):
        Add(name="rawadd", inputs=("a", "b"), in_specs=(U4, U4), multipliers=(3, 5),
            shift=2, out_spec=None)


def test_linear_empty_batch_gives_empty_output():
    layer = Linear(name="fc", weights=np.ones((3, 4), np.int8), schemes=[0, 1, 2], out_spec=U4)
    x = np.zeros((0, 4), np.uint8)
    for path in (reference, fast):
        out = path.run_layer(layer, x)
        assert out.shape == (0, 3) and out.dtype == np.uint8


def test_network_keep_unknown_tensor_is_an_msp_error():
    net = Network([GlobalAvgPool(name="gap", in_spec=U4)])
    with pytest.raises(MSPError, match="nope"):
        net.run(np.zeros((1, 2, 2, 3), np.uint8), keep=["nope"])
