"""Weight schemes: level sets, SP2-4 bit layout, encode/decode, shift-add terms, parsing."""
from __future__ import annotations

import numpy as np
import pytest

from msp_pynq.errors import ContractError, MSPError
from msp_pynq.numerics.schemes import (Scheme, decode, encode, invalid_values, parse_scheme,
                                       parse_schemes, sp2_terms)

from conftest import FIXED4_LEVELS, FIXED8_LEVELS, SP2_LEVELS


def sp2_value(code: int) -> int:
    """SP2-4 formula, written independently: sign bit 3, i1 bits 2..1, i2 bit 0."""
    sign = (code >> 3) & 1
    i1 = (code >> 1) & 0b11
    i2 = code & 1
    term1 = 0 if i1 == 0 else 8 >> i1
    term2 = 4 if i2 else 0
    mag = term1 + term2
    return -mag if sign else mag


def twos_complement(code: int, bits: int) -> int:
    return code - (1 << bits) if code >= 1 << (bits - 1) else code


# --- level sets ----------------------------------------------------------------------------

def test_sp2_level_set_is_the_13_values():
    assert Scheme.SP2_4.levels.tolist() == [-8, -6, -5, -4, -2, -1, 0, 1, 2, 4, 5, 6, 8]
    assert len(set(Scheme.SP2_4.levels.tolist())) == 13
    # and that set is exactly what the 16 codes of the formula produce
    assert sorted({sp2_value(c) for c in range(16)}) == list(SP2_LEVELS)


def test_fixed4_level_set():
    assert Scheme.FIXED4.levels.tolist() == list(range(-7, 8))
    assert len(Scheme.FIXED4.levels) == 15


def test_fixed8_level_set():
    assert Scheme.FIXED8.levels.tolist() == list(range(-127, 128))
    assert len(Scheme.FIXED8.levels) == 255


def test_scheme_properties():
    assert [s.value for s in Scheme] == [0, 1, 2]
    assert (Scheme.FIXED4.label, Scheme.FIXED8.label, Scheme.SP2_4.label) == ("fixed4", "fixed8", "sp2_4")
    assert (Scheme.FIXED4.code_bits, Scheme.FIXED8.code_bits, Scheme.SP2_4.code_bits) == (4, 8, 4)
    assert (Scheme.FIXED4.qmax, Scheme.FIXED8.qmax, Scheme.SP2_4.qmax) == (7, 127, 8)
    assert (Scheme.FIXED4.core, Scheme.FIXED8.core, Scheme.SP2_4.core) == ("dsp", "dsp", "lut")
    for s in Scheme:
        assert int(np.abs(s.levels).max()) == s.qmax


# --- decoding ------------------------------------------------------------------------------

def test_decode_all_16_sp2_codes_against_formula():
    codes = np.arange(16, dtype=np.uint8)
    got = decode(codes, Scheme.SP2_4)
    assert got.dtype == np.int8
    assert got.tolist() == [sp2_value(c) for c in range(16)]
    # spot-check the formula itself on hand-worked codes
    assert sp2_value(0b0111) == 5      # i1=3 -> 1, i2 -> 4
    assert sp2_value(0b1011) == -8     # sign, i1=1 -> 4, i2 -> 4
    assert sp2_value(0b0100) == 2
    assert sp2_value(0b1000) == 0      # "minus zero" is zero


def test_decode_fixed4_all_codes():
    codes = np.array([c for c in range(16) if c != 8], dtype=np.uint8)
    got = decode(codes, "fixed4")
    assert got.dtype == np.int8
    assert got.tolist() == [twos_complement(int(c), 4) for c in codes]


def test_decode_fixed8_all_codes():
    codes = np.array([c for c in range(256) if c != 0x80], dtype=np.uint8)
    got = decode(codes, Scheme.FIXED8)
    assert got.dtype == np.int8
    assert got.tolist() == [twos_complement(int(c), 8) for c in codes]


def test_decode_preserves_shape():
    codes = np.array([[1, 2], [3, 15]], dtype=np.uint8)
    assert decode(codes, "fixed4").tolist() == [[1, 2], [3, -1]]
    assert decode(codes, "sp2_4").tolist() == [[sp2_value(1), sp2_value(2)], [sp2_value(3), sp2_value(15)]]


# --- encoding ------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme,levels", [(Scheme.FIXED4, FIXED4_LEVELS),
                                           (Scheme.FIXED8, FIXED8_LEVELS),
                                           (Scheme.SP2_4, SP2_LEVELS)])
def test_round_trip_every_legal_value(scheme, levels):
    values = np.array(levels)
    codes = encode(values, scheme)
    assert codes.dtype == np.uint8
    if scheme.code_bits == 4:
        assert int(codes.max()) < 16
    assert decode(codes, scheme).tolist() == list(levels)
    # the label and the wire number are accepted as well
    assert decode(encode(values, scheme.label), scheme.value).tolist() == list(levels)


def test_fixed_codes_are_twos_complement():
    assert encode(np.arange(-7, 8), "fixed4").tolist() == [v & 0xF for v in range(-7, 8)]
    assert encode(np.arange(-127, 128), "fixed8").tolist() == [v & 0xFF for v in range(-127, 128)]


def test_sp2_encode_codes_decode_by_formula_and_zero_is_code_0():
    codes = encode(np.array(SP2_LEVELS), Scheme.SP2_4)
    for v, c in zip(SP2_LEVELS, codes.tolist()):
        assert sp2_value(c) == v
    assert encode(np.array([0]), Scheme.SP2_4).tolist() == [0]
    # negative values carry the sign bit, positive ones do not
    for v, c in zip(SP2_LEVELS, codes.tolist()):
        assert (c >> 3) == (1 if v < 0 else 0)


def test_docstring_example_encodings():
    assert encode(np.array([5, -8, 0]), Scheme.SP2_4).tolist() == [0b0111, 0b1011, 0]


@pytest.mark.parametrize("scheme,bad", [
    ("sp2_4", [3]), ("sp2_4", [-3]), ("sp2_4", [7]), ("sp2_4", [-7]), ("sp2_4", [9]), ("sp2_4", [-9]),
    ("fixed4", [8]), ("fixed4", [-8]), ("fixed4", [100]),
    ("fixed8", [-128]), ("fixed8", [128]), ("fixed8", [1000]),
])
def test_encode_rejects_illegal_values(scheme, bad):
    with pytest.raises(ContractError, match=rf"value {bad[0]} at index \(0,\) is not a {scheme} level"):
        encode(np.array(bad), scheme)


@pytest.mark.parametrize("scheme,value", [("fixed4", 2.5), ("fixed4", -0.5), ("sp2_4", 4.9),
                                          ("fixed8", 1.5)])
def test_encode_rejects_non_integer_values(scheme, value):
    """Weights are integer levels q: 2.5 is no fixed4 level and must not be truncated to 2."""
    with pytest.raises(ContractError, match=rf"{scheme}"):
        encode(np.array([value]), scheme)


def test_encode_error_names_first_bad_index():
    with pytest.raises(ContractError, match=r"value 3 at index \(1, 0\)"):
        encode(np.array([[1, 2], [3, 4]]), "sp2_4")


def test_invalid_values_mask():
    v = np.array([-9, -8, -7, -3, 0, 3, 5, 7, 8, 9])
    assert invalid_values(v, Scheme.SP2_4).tolist() == [x not in SP2_LEVELS for x in v.tolist()]
    assert invalid_values(v, Scheme.FIXED4).tolist() == [abs(x) > 7 for x in v.tolist()]
    w = np.array([-200, -128, -127, 0, 127, 128])
    assert invalid_values(w, Scheme.FIXED8).tolist() == [True, True, False, False, False, True]


# --- reserved and out-of-range codes ---------------------------------------------------------

def test_fixed4_code_0b1000_is_reserved():
    with pytest.raises(ContractError, match=r"fixed4 code 0b1000 .* at index \(2,\) is reserved"):
        decode(np.array([1, 2, 8], dtype=np.uint8), Scheme.FIXED4)


def test_fixed8_code_0x80_is_reserved():
    with pytest.raises(ContractError, match=r"fixed8 code 0x80 .* at index \(1,\) is reserved"):
        decode(np.array([0, 0x80], dtype=np.uint8), Scheme.FIXED8)


@pytest.mark.parametrize("scheme", ["fixed4", "sp2_4"])
def test_4bit_codes_above_15_rejected(scheme):
    with pytest.raises(ContractError, match=rf"{scheme} code 16 at index \(0,\) does not fit 4 bits"):
        decode(np.array([16], dtype=np.uint8), scheme)


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint16])
def test_decode_requires_uint8(dtype):
    with pytest.raises(ContractError, match="expected uint8"):
        decode(np.array([1], dtype=dtype), "fixed4")


# --- SP2 shift-add form --------------------------------------------------------------------

def test_sp2_terms_reproduce_q_times_a_for_all_codes():
    a = np.arange(256, dtype=np.int64)
    for code in range(16):
        sign, s1, s2 = sp2_terms(code)
        assert sign in (1, -1)
        assert s1 is None or 0 <= s1 <= 2
        assert s2 is None or s2 == 2
        t1 = (a << s1) if s1 is not None else 0
        t2 = (a << s2) if s2 is not None else 0
        np.testing.assert_array_equal(sign * (t1 + t2), sp2_value(code) * a)


def test_sp2_terms_docstring_example():
    assert sp2_terms(0b0111) == (1, 0, 2)
    assert sp2_terms(0) == (1, None, None)
    assert sp2_terms(0b1010) == (-1, 2, None)


@pytest.mark.parametrize("code", [-1, 16, 255])
def test_sp2_terms_rejects_non_4bit(code):
    with pytest.raises(ContractError, match=rf"SP2-4 code {code} is not a 4-bit value"):
        sp2_terms(code)


# --- parsing -------------------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("fixed4", Scheme.FIXED4), ("fixed8", Scheme.FIXED8), ("sp2_4", Scheme.SP2_4),
    ("FIXED8", Scheme.FIXED8), (0, Scheme.FIXED4), (1, Scheme.FIXED8), (2, Scheme.SP2_4),
    (np.uint8(2), Scheme.SP2_4), (np.int64(0), Scheme.FIXED4), (Scheme.SP2_4, Scheme.SP2_4),
])
def test_parse_scheme_accepts(value, expected):
    assert parse_scheme(value) is expected


@pytest.mark.parametrize("value,shown", [
    ("fixed16", "'fixed16'"), ("sp2", "'sp2'"), ("", "''"), (3, "3"), (-1, "-1"),
    (np.int64(7), "7"), (1.0, "1.0"), (None, "None"),
])
def test_parse_scheme_rejects_naming_value(value, shown):
    with pytest.raises(ContractError, match=rf"unknown weight scheme {shown};"):
        parse_scheme(value)


def test_contract_error_is_msp_error_and_value_error():
    assert issubclass(ContractError, MSPError) and issubclass(MSPError, ValueError)


def test_parse_schemes_labels_and_numbers():
    out = parse_schemes(["sp2_4", "fixed4", "fixed8", "SP2_4"])
    assert out.dtype == np.uint8 and out.tolist() == [2, 0, 1, 2]
    out = parse_schemes(np.array([0, 2, 1, 1], dtype=np.int64))
    assert out.dtype == np.uint8 and out.tolist() == [0, 2, 1, 1]
    assert parse_schemes([Scheme.FIXED8, Scheme.SP2_4]).tolist() == [1, 2]


def test_parse_schemes_unknown_number_names_row_and_value():
    with pytest.raises(ContractError, match=r"w: row 2 has unknown scheme number 5"):
        parse_schemes(np.array([0, 1, 5, 7]), what="w")
    with pytest.raises(ContractError, match=r"row 0 has unknown scheme number -1"):
        parse_schemes([-1, 0])


def test_parse_schemes_unknown_label():
    with pytest.raises(ContractError, match=r"unknown weight scheme 'fixed2'"):
        parse_schemes(["fixed4", "fixed2"])


@pytest.mark.parametrize("bad", [np.zeros((2, 2), np.uint8), np.array([0.0, 1.0]), np.uint8(1)])
def test_parse_schemes_rejects_shape_and_dtype(bad):
    with pytest.raises(ContractError, match="expected a 1-D array of schemes"):
        parse_schemes(bad)
