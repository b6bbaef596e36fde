"""Wire packing of weight rows: round trips, exact byte layout, malformed buffers."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msp_pynq.errors import ContractError
from msp_pynq.numerics.packing import (pack_nibbles, pack_rows, packed_nbytes, row_nbytes,
                                       unpack_nibbles, unpack_rows)
from msp_pynq.numerics.schemes import Scheme

from conftest import LEVELS_BY_NUMBER


def expected_nbytes(schemes, k):
    return sum(k if int(s) == 1 else (k + 1) // 2 for s in schemes)


@st.composite
def weight_matrices(draw):
    rows = draw(st.integers(1, 12))
    k = draw(st.one_of(st.just(1), st.integers(1, 9), st.integers(1, 70)))
    schemes = draw(st.lists(st.integers(0, 2), min_size=rows, max_size=rows))
    values = [[draw(st.sampled_from(LEVELS_BY_NUMBER[s])) for _ in range(k)] for s in schemes]
    return np.array(values, dtype=np.int64), np.array(schemes, dtype=np.uint8), k


@settings(max_examples=200)
@given(weight_matrices())
def test_pack_unpack_round_trip(case):
    values, schemes, k = case
    buf = pack_rows(values, schemes)
    assert buf.dtype == np.uint8 and buf.ndim == 1
    assert buf.size == expected_nbytes(schemes, k) == packed_nbytes(schemes, k)
    out = unpack_rows(buf, schemes, k)
    assert out.dtype == np.int8 and out.shape == values.shape
    np.testing.assert_array_equal(out.astype(np.int64), values)


@settings(max_examples=200)
@given(weight_matrices())
def test_packed_layout_matches_independent_packer(case):
    """Rebuild the buffer byte by byte from the contract and compare."""
    values, schemes, k = case
    expected = []
    for row, s in zip(values.tolist(), schemes.tolist()):
        if s == 1:
            expected += [v & 0xFF for v in row]
            continue
        if s == 0:
            codes = [v & 0xF for v in row]
        else:
            codes = [sp2_code(v) for v in row]
        if k % 2:
            codes.append(0)
        expected += [codes[i] | (codes[i + 1] << 4) for i in range(0, len(codes), 2)]
    assert pack_rows(values, schemes).tolist() == expected


def sp2_code(v: int) -> int:
    """A valid SP2-4 code for v (any code decoding to v would do for unpacking; the
    canonical one has i2 = 0 for |v| = 4 and no minus zero)."""
    mag = abs(v)
    table = {0: 0b000, 1: 0b110, 2: 0b100, 4: 0b010, 5: 0b111, 6: 0b101, 8: 0b011}
    return table[mag] | (0b1000 if v < 0 else 0)


def test_hand_worked_layout():
    # row 0 fixed4 [1, -1, 7]      -> codes 1, F, 7       -> bytes 0xF1, 0x07 (pad nibble 0)
    # row 1 fixed8 [-1, 127, -127] -> bytes 0xFF, 0x7F, 0x81
    # row 2 sp2_4  [5, -8, 0]      -> codes 0x7, 0xB, 0x0 -> bytes 0xB7, 0x00
    # row 3 fixed4 [-7, 0, 2]      -> codes 9, 0, 2       -> bytes 0x09, 0x02
    values = np.array([[1, -1, 7], [-1, 127, -127], [5, -8, 0], [-7, 0, 2]])
    schemes = np.array([0, 1, 2, 0], dtype=np.uint8)
    buf = pack_rows(values, schemes)
    assert buf.tolist() == [0xF1, 0x07, 0xFF, 0x7F, 0x81, 0xB7, 0x00, 0x09, 0x02]
    assert unpack_rows(buf, schemes, 3).tolist() == values.tolist()


def test_hand_worked_layout_even_k_has_no_padding():
    values = np.array([[2, -3, 0, 4]])
    buf = pack_rows(values, np.array(["fixed4"]))
    assert buf.tolist() == [0xD2, 0x40]


def test_k1_rows():
    values = np.array([[-7], [127], [-6]])
    buf = pack_rows(values, np.array([0, 1, 2], np.uint8))
    # fixed4 -7 -> 0x9 (pad 0); fixed8 127 -> 0x7F; sp2 -6 = -(2 + 4) -> sign|i1=2|i2 = 0b1101
    assert buf.tolist() == [0x09, 0x7F, 0x0D]
    assert unpack_rows(buf, np.array([0, 1, 2], np.uint8), 1).tolist() == [[-7], [127], [-6]]


def test_row_nbytes():
    for k in range(1, 20):
        assert row_nbytes(Scheme.FIXED8, k) == k
        assert row_nbytes(Scheme.FIXED4, k) == (k + 1) // 2
        assert row_nbytes(Scheme.SP2_4, k) == (k + 1) // 2


def test_pack_nibbles_and_unpack_nibbles():
    codes = np.array([[1, 2, 3], [15, 0, 9]], dtype=np.uint8)
    packed = pack_nibbles(codes)
    assert packed.tolist() == [[0x21, 0x03], [0x0F, 0x09]]
    assert unpack_nibbles(packed, 3).tolist() == codes.tolist()
    assert unpack_nibbles(packed, 4).tolist() == [[1, 2, 3, 0], [15, 0, 9, 0]]


def test_pack_rows_labels_accepted():
    values = np.array([[1, 2], [4, -4]])
    assert pack_rows(values, ["fixed8", "sp2_4"]).tolist() == [1, 2, 0x2 | (0xA << 4)]


# --- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("delta", [-1, 1, -3])
def test_unpack_wrong_length(delta):
    schemes = np.array([0, 1, 2], np.uint8)
    need = 2 + 3 + 2            # K=3: fixed4 2 bytes, fixed8 3 bytes, sp2 2 bytes
    buf = np.zeros(need + delta, np.uint8)
    with pytest.raises(ContractError, match=rf"buffer holds {need + delta} bytes, .* need {need}"):
        unpack_rows(buf, schemes, 3)


@pytest.mark.parametrize("buf", [np.zeros(4, np.int8), np.zeros(4, np.uint16), np.zeros(4, np.int64),
                                 np.zeros((2, 2), np.uint8)])
def test_unpack_wrong_dtype_or_ndim(buf):
    with pytest.raises(ContractError, match="expected a 1-D uint8 buffer"):
        unpack_rows(buf, np.array([1], np.uint8), 4)


def test_reserved_fixed4_code_in_buffer_names_row():
    schemes = np.array([1, 0, 0], np.uint8)
    buf = pack_rows(np.array([[1, 2, 3], [1, 2, 3], [1, 2, 3]]), schemes)
    buf = buf.copy()
    buf[5] = 0x08                  # row 2 (bytes 5..6), element 0 -> code 0b1000
    with pytest.raises(ContractError, match=r"row 2: fixed4 code 0b1000"):
        unpack_rows(buf, schemes, 3)
    buf[5] = 0x80                  # element 1 of row 2 (high nibble)
    with pytest.raises(ContractError, match=r"row 2: fixed4 code 0b1000 \(-8\) at index \(1,\)"):
        unpack_rows(buf, schemes, 3)


def test_reserved_fixed8_code_in_buffer_names_row():
    schemes = np.array([2, 1], np.uint8)
    buf = pack_rows(np.array([[1, 2], [3, 4]]), schemes).copy()
    buf[2] = 0x80                  # row 1, element 1
    with pytest.raises(ContractError, match=r"row 1: fixed8 code 0x80 .*\(1,\)"):
        unpack_rows(buf, schemes, 2)


def test_pack_illegal_value_names_row():
    with pytest.raises(ContractError, match=r"row 1: value 3 at index \(2,\) is not a sp2_4 level"):
        pack_rows(np.array([[1, 2, 3], [1, 2, 3]]), np.array([0, 2], np.uint8))
    with pytest.raises(ContractError, match=r"row 0: value -128 .* not a fixed8 level"):
        pack_rows(np.array([[-128, 0]]), np.array([1], np.uint8))
    with pytest.raises(ContractError, match=r"row 2: value 8 .* not a fixed4 level"):
        pack_rows(np.array([[0], [0], [8]]), np.array([1, 2, 0], np.uint8))


def test_pack_shape_mismatch():
    with pytest.raises(ContractError, match=r"do not match 3 row schemes"):
        pack_rows(np.zeros((2, 4), np.int64), np.array([0, 0, 0], np.uint8))
    with pytest.raises(ContractError, match=r"expected \[rows, K\]"):
        pack_rows(np.zeros(4, np.int64), np.array([0], np.uint8))


def test_pack_unknown_scheme():
    with pytest.raises(ContractError, match="row 1 has unknown scheme number 3"):
        pack_rows(np.zeros((2, 2), np.int64), np.array([0, 3], np.uint8))
    with pytest.raises(ContractError, match="row 0 has unknown scheme number 9"):
        unpack_rows(np.zeros(2, np.uint8), np.array([9], np.uint8), 2)


def test_unpack_rejects_nonzero_pad_nibble():
    """An odd-K 4-bit row ends in a pad nibble that must be 0 (a corrupted buffer otherwise)."""
    good = pack_rows(np.array([[1, -1, 7]]), np.array([0], np.uint8))
    bad = good.copy()
    bad[-1] |= 0x30
    assert unpack_rows(good, np.array([0], np.uint8), 3).tolist() == [[1, -1, 7]]
    with pytest.raises(ContractError, match="row 0: pad nibble"):
        unpack_rows(bad, np.array([0], np.uint8), 3)
