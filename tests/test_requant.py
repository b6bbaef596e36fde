"""Requantization against an independent big-int model; multipliers; FloatRequant."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msp_pynq.errors import ContractError
from msp_pynq.numerics.activations import S8, U4, U5, U8, ActSpec, parse_act
from msp_pynq.numerics.requant import (FloatRequant, check_requant_params, quantize_multiplier,
                                       quantize_multipliers, quantize_multipliers_shared,
                                       requantize)

from conftest import ALL_SPECS, requant_model, spec_range

INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1


model = requant_model


specs_or_none = st.sampled_from(ALL_SPECS + (None,))
accs = st.one_of(st.integers(INT32_MIN, INT32_MAX), st.integers(-4096, 4096))
mults = st.one_of(st.integers(0, 65535), st.sampled_from([0, 1, 32768, 65535]))
shifts = st.integers(0, 47)


# --- requantize vs the big-int model ---------------------------------------------------------

@settings(max_examples=300)
@given(acc=accs, m=mults, s=shifts, spec=specs_or_none)
def test_requantize_scalar_matches_model(acc, m, s, spec):
    got = requantize(np.array([acc], np.int64), m, s, spec)
    assert got.dtype == (np.int64 if spec is None else (np.int8 if spec is S8 else np.uint8))
    assert int(got[0]) == model(acc, m, s, spec)


@settings(max_examples=150)
@given(data=st.data(), spec=specs_or_none, n=st.integers(1, 6), rows=st.integers(1, 5))
def test_requantize_per_row_broadcast_matches_model(data, spec, n, rows):
    acc = np.array(data.draw(st.lists(accs, min_size=n * rows, max_size=n * rows)),
                   np.int64).reshape(n, rows)
    m = data.draw(st.lists(mults, min_size=rows, max_size=rows))
    s = data.draw(st.lists(shifts, min_size=rows, max_size=rows))
    got = requantize(acc.astype(np.int32), np.array(m, np.int32), np.array(s, np.int32), spec)
    assert got.shape == (n, rows)
    expected = [[model(int(acc[i, r]), m[r], s[r], spec) for r in range(rows)] for i in range(n)]
    assert got.tolist() == expected


def test_requantize_exhaustive_small_grid():
    acc = np.arange(-300, 301, dtype=np.int64)
    for spec in ALL_SPECS + (None,):
        for m in (0, 1, 3, 7, 255, 32768, 65535):
            for s in (0, 1, 2, 5, 16, 17, 30, 47):
                got = requantize(acc, m, s, spec).tolist()
                assert got == [model(a, m, s, spec) for a in acc.tolist()], (spec, m, s)


# --- ties and negatives --------------------------------------------------------------------

@pytest.mark.parametrize("m,s", [(1, 1), (2, 2), (32768, 16), (1 << 15, 16), (8, 4)])
def test_ties_round_toward_plus_infinity(m, s):
    """m / 2^s = 1/2: x.5 rounds up, also for negatives (-0.5 -> 0, -1.5 -> -1)."""
    assert m / 2 ** s == 0.5
    acc = np.array([-5, -3, -1, 1, 3, 5], np.int64)
    assert requantize(acc, m, s, None).tolist() == [-2, -1, 0, 1, 2, 3]
    assert requantize(acc, m, s, S8).tolist() == [-2, -1, 0, 1, 2, 3]
    assert requantize(acc, m, s, U4).tolist() == [0, 0, 0, 1, 2, 3]


def test_quarter_ties_and_non_ties():
    # m/2^s = 1/4: -2 * 0.25 = -0.5 -> 0; -6 * 0.25 = -1.5 -> -1; -3 * 0.25 = -0.75 -> -1
    acc = np.array([-6, -3, -2, -1, 1, 2, 3, 6], np.int64)
    assert requantize(acc, 1, 2, S8).tolist() == [-1, -1, 0, 0, 0, 1, 1, 2]
    # m/2^s = 3/4 (m=3, s=2): -2 -> -1.5 -> -1; -1 -> -0.75 -> -1; 2 -> 1.5 -> 2
    assert requantize(np.array([-2, -1, 2]), 3, 2, S8).tolist() == [-1, -1, 2]


def test_shift_zero_has_no_rounding_term():
    acc = np.array([-7, -1, 0, 1, 7], np.int64)
    assert requantize(acc, 3, 0, None).tolist() == [-21, -3, 0, 3, 21]
    assert requantize(acc, 1, 0, S8).tolist() == [-7, -1, 0, 1, 7]
    assert requantize(np.array([1, -1]), 1, 1, None).tolist() == [1, 0]    # +-0.5 -> 1, 0
    assert requantize(np.array([1, -1]), 1, 0, None).tolist() == [1, -1]


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_saturation_both_ends(spec):
    lo, hi = spec_range(spec)
    acc = np.array([INT32_MIN, -1000, lo - 1, lo, hi, hi + 1, 1000, INT32_MAX], np.int64)
    got = requantize(acc, 1, 0, spec).tolist()
    assert got == [lo, lo, lo, lo, hi, hi, hi, hi]
    # with the largest multiplier and no shift: products near 2^47 still saturate correctly
    got = requantize(np.array([INT32_MIN, INT32_MAX]), 65535, 0, spec).tolist()
    assert got == [lo, hi]
    # and with the largest shift, everything in int32 collapses near zero
    got = requantize(np.array([INT32_MIN, -1, 0, INT32_MAX]), 65535, 47, spec).tolist()
    assert got == [max(lo, model(INT32_MIN, 65535, 47, None)), max(lo, 0), 0, min(hi, 1)]


def test_extreme_products_without_saturation():
    assert requantize(np.array([INT32_MAX]), 65535, 47, None).tolist() == [(INT32_MAX * 65535 + (1 << 46)) >> 47]
    assert requantize(np.array([INT32_MIN]), 65535, 0, None).tolist() == [INT32_MIN * 65535]


def test_docstring_example():
    m, s = quantize_multiplier(0.25)
    assert requantize(np.array([-6, -5, 5, 6, 1000]), m, s, U4).tolist() == [0, 0, 1, 2, 15]


# --- FloatRequant --------------------------------------------------------------------------

@settings(max_examples=200)
@given(data=st.data(), spec=st.sampled_from(ALL_SPECS), rows=st.integers(1, 6),
       f32=st.booleans())
def test_float_requant_matches_requantize(data, spec, rows, f32):
    n = data.draw(st.integers(1, 5))
    lim = (1 << 24) - 1 if f32 else (1 << 30)
    acc_i = np.array(data.draw(st.lists(st.integers(-lim, lim), min_size=n * rows, max_size=n * rows)),
                     np.int64).reshape(n, rows)
    bias = np.array(data.draw(st.lists(st.integers(-(1 << 30), 1 << 30), min_size=rows, max_size=rows)),
                    np.int64)
    m = np.array(data.draw(st.lists(mults, min_size=rows, max_size=rows)), np.int64)
    s = np.array(data.draw(st.lists(shifts, min_size=rows, max_size=rows)), np.int64)
    fr = FloatRequant(m, s, bias, spec)
    acc_f = acc_i.astype(np.float32 if f32 else np.float64)
    assert np.array_equal(acc_f.astype(np.int64), acc_i)        # exact operands
    got = fr(acc_f)
    expected = [[model(int(acc_i[i, r]) + int(bias[r]), int(m[r]), int(s[r]), spec)
                 for r in range(rows)] for i in range(n)]
    assert got.dtype == np.dtype(spec.dtype)
    assert got.tolist() == expected
    dest = np.empty((n, rows), spec.dtype)
    assert fr(acc_f, dest) is dest
    assert dest.tolist() == expected
    # and the integer rule gives the same
    assert requantize(acc_i + bias, m, s, spec).tolist() == expected


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_float_requant_ties_and_tiny_negatives(spec):
    # acc * m / 2^s lands exactly on .5 and just below / above it
    acc = np.array([-3, -1, 1, 3, -2 ** 24 + 1, 2 ** 24 - 1], np.float64)
    for m, s in [(1, 1), (32768, 16), (3, 2), (65535, 47), (65535, 1), (1, 0)]:
        for bias in (0, 1, -1, 1 << 30, -(1 << 30)):
            got = FloatRequant(np.array([m]), np.array([s]), np.array([bias]), spec)(acc[:, None])
            want = [[model(int(a) + bias, m, s, spec)] for a in acc]
            assert got.tolist() == want, (m, s, bias)


def test_float_requant_raw_output_adds_bias():
    """out=None (logits): layers ignore m and s; FloatRequant returns acc + bias as int32."""
    fr = FloatRequant(np.array([3, 5]), np.array([1, 2]), np.array([7, -(1 << 30)]), None)
    acc = np.array([[1.0, -2.0], [2.0 ** 30, 2.0 ** 30 - 1]])
    got = fr(acc)
    assert got.dtype == np.int32
    assert got.tolist() == [[8, -(1 << 30) - 2], [(1 << 30) + 7, -1]]
    dest = np.empty((2, 2), np.int32)
    assert fr(acc, dest) is dest and dest.tolist() == got.tolist()


# --- quantize_multiplier --------------------------------------------------------------------

@settings(max_examples=300)
@given(e=st.floats(-32, 15), frac=st.floats(1.0, 2.0, exclude_max=True))
def test_quantize_multiplier_relative_error(e, frac):
    real = min(max(math.ldexp(frac, 0) * 2.0 ** e, 2.0 ** -32), 2.0 ** 15)
    m, s = quantize_multiplier(real)
    assert isinstance(m, int) and isinstance(s, int)
    assert 0 <= m < 2 ** 16 and 0 <= s <= 47
    assert 2 ** 15 <= m                       # normalised in this range
    assert abs(m / 2 ** s - real) <= real * 2.0 ** -16


@settings(max_examples=200)
@given(real=st.floats(0, 65535.49, allow_nan=False, allow_infinity=False))
def test_quantize_multiplier_is_closest_on_its_shift(real):
    m, s = quantize_multiplier(real)
    assert 0 <= m <= 65535 and 0 <= s <= 47
    if real == 0:
        assert (m, s) == (0, 0)
        return
    # m is the round-half-up of real * 2^s (exact rational arithmetic); below 2^-40 a
    # float-rounding slack of 2^-50 LSB is tolerated (irrelevant for such tiny multipliers)
    from fractions import Fraction
    x = Fraction(real) * 2 ** s
    if real >= 2.0 ** -40:
        assert m == math.floor(x + Fraction(1, 2))
    else:
        assert abs(x - m) <= Fraction(1, 2) + Fraction(1, 2 ** 50)
    if real >= 2.0 ** -32:
        assert m >= 2 ** 15
    else:
        assert s == 47


@pytest.mark.parametrize("k", range(-47, 16))
def test_quantize_multiplier_exact_powers_of_two(k):
    m, s = quantize_multiplier(2.0 ** k)
    assert m * 2.0 ** -s == 2.0 ** k
    if k >= -32:
        assert m == 32768 and s == 15 - k
    else:
        assert s == 47 and m == 2 ** (k + 47)


def test_quantize_multiplier_zero_and_tiny():
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(1e-300) == (0, 47)
    assert quantize_multiplier(2.0 ** -48) == (1, 47)       # 0.5 rounds half up
    assert quantize_multiplier(2.0 ** -49) == (0, 47)


def test_quantize_multiplier_round_up_renormalises():
    # 1 - 2^-20 rounds to 65536 on shift 16; must become 32768 on shift 15
    assert quantize_multiplier(1 - 2.0 ** -20) == (32768, 15)
    below = math.nextafter(65535.5, 0)
    assert quantize_multiplier(below) == (65535, 0)
    assert quantize_multiplier(65535.0) == (65535, 0)
    assert quantize_multiplier(40000.3) == (40000, 0)


@pytest.mark.parametrize("bad", [-1.0, -1e-30, float("nan"), float("inf"), float("-inf"),
                                 65535.5, 65536.0, 1e9])
def test_quantize_multiplier_rejects(bad):
    with pytest.raises(ContractError, match="requant multiplier"):
        quantize_multiplier(bad)


def test_quantize_multipliers_vector():
    reals = np.array([[0.25, 1.0], [0.0, 3.0]])
    m, s = quantize_multipliers(reals)
    assert m.shape == s.shape == (2, 2) and m.dtype == s.dtype == np.int32
    assert m.tolist() == [[32768, 32768], [0, 49152]]
    assert s.tolist() == [[17, 15], [0, 14]]
    with pytest.raises(ContractError):
        quantize_multipliers(np.array([0.5, -0.5]))


@settings(max_examples=150)
@given(st.lists(st.floats(2.0 ** -20, 60000.0), min_size=1, max_size=5))
def test_quantize_multipliers_shared(reals):
    ms, s = quantize_multipliers_shared(reals)
    m_max, s_max = quantize_multiplier(max(reals))
    assert s == s_max
    assert len(ms) == len(reals)
    assert ms[reals.index(max(reals))] == m_max
    for r, m in zip(reals, ms):
        assert isinstance(m, int) and 0 <= m <= 65535
        assert abs(m / 2 ** s - r) <= 2.0 ** -(s + 1) * (1 + 2.0 ** -40)   # nearest on the shift


def test_quantize_multipliers_shared_examples_and_errors():
    assert quantize_multipliers_shared([0.5, 0.125]) == ([32768, 8192], 16)
    assert quantize_multipliers_shared([0.125, 0.5]) == ([8192, 32768], 16)
    assert quantize_multipliers_shared([3.0, 3.0]) == ([49152, 49152], 14)
    with pytest.raises(ContractError):
        quantize_multipliers_shared([0.5, -0.1])
    with pytest.raises(ContractError):
        quantize_multipliers_shared([0.5, 70000.0])


# --- parameter checks ----------------------------------------------------------------------

def test_check_requant_params_accepts_limits():
    check_requant_params(np.array([0, 65535]), np.array([0, 47]), "x")
    check_requant_params(np.array([], np.int64), np.array([], np.int64), "x")


@pytest.mark.parametrize("m,s,msg", [
    ([65536], [0], r"lay: multiplier 65536 outside 0\.\.65535"),
    ([1, -1], [0, 0], r"lay: multiplier -1 outside 0\.\.65535"),
    ([1], [48], r"lay: shift 48 outside 0\.\.47"),
    ([1], [-1], r"lay: shift -1 outside 0\.\.47"),
    ([1 << 20], [3], r"multiplier 1048576"),
])
def test_check_requant_params_errors(m, s, msg):
    with pytest.raises(ContractError, match=msg):
        check_requant_params(np.array(m), np.array(s), "lay")


# --- activation types ----------------------------------------------------------------------

def test_act_spec_ranges_and_dtypes():
    assert [(a.lo, a.hi) for a in (U4, U5, U8, S8)] == [(0, 15), (0, 31), (0, 255), (-128, 127)]
    assert [np.dtype(a.dtype) for a in (U4, U5, U8, S8)] == [np.uint8] * 3 + [np.int8]
    assert [a.max_abs for a in (U4, U5, U8, S8)] == [15, 31, 255, 128]
    assert parse_act("U5") is U5 and parse_act("s8") is S8 and parse_act(U4) is U4


@pytest.mark.parametrize("bits,signed", [(3, False), (6, False), (16, False), (4, True), (5, True)])
def test_act_spec_rejects_widths(bits, signed):
    with pytest.raises(ContractError, match=f"not {bits}-bit"):
        ActSpec(bits, signed)


def test_act_spec_check():
    U4.check(np.array([0, 15], np.uint8), "t")
    with pytest.raises(ContractError, match="t: value 16 exceeds the u4 maximum 15"):
        U4.check(np.array([0, 16], np.uint8), "t")
    with pytest.raises(ContractError, match="t: value 32 exceeds the u5 maximum 31"):
        U5.check(np.array([32], np.uint8), "t")
    with pytest.raises(ContractError, match="dtype int8, expected uint8"):
        U8.check(np.array([1], np.int8), "t")
    with pytest.raises(ContractError, match="expected a numpy array"):
        S8.check([1, 2], "t")
    with pytest.raises(ContractError, match="unknown activation type 'u7'"):
        parse_act("u7")
