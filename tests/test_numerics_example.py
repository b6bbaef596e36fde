"""The worked example of docs/numerics.md section 9, number for number."""
import numpy as np

from msp_pynq.numerics import S8, U4, encode, pack_rows, quantize_multiplier, requantize
from msp_pynq.numerics.schemes import sp2_terms


def test_worked_example():
    q, a = np.array([5, -2, 8]), np.array([3, 15, 7])
    assert encode(q, "sp2_4").tolist() == [0b0111, 0b1100, 0b0011]
    assert pack_rows(q[None], np.array([2], np.uint8)).tolist() == [0xC7, 0x03]
    assert sp2_terms(0b1100) == (-1, 1, None) and sp2_terms(0b0011) == (1, 2, 2)
    acc = int((a * q).sum()) - 20
    assert acc == 21
    assert quantize_multiplier(0.1) == (52429, 19)
    assert (21 * 52429 + (1 << 18)) == 1363153 and 1363153 >> 19 == 2
    assert requantize(np.array([acc]), 52429, 19, U4).tolist() == [2]


def test_worked_tie_example():
    assert quantize_multiplier(0.25) == (32768, 17)
    assert (-6 * 32768 + (1 << 16)) >> 17 == -1
    assert requantize(np.array([-6, -5, 6]), 32768, 17, S8).tolist() == [-1, -1, 2]
