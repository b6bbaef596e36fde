"""The reference on hand-computed examples (explicit loops, values worked out by hand)."""
from __future__ import annotations

import numpy as np

from msp_pynq.emulator import fast, reference
from msp_pynq.emulator.layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d
from msp_pynq.numerics.activations import S8, U4, U5, U8

from .emulator_helpers import run_both


def test_hand_1x1_conv():
    # x[0, 0, 0] = (1, 2, 3), x[0, 0, 1] = (4, 5, 6); rows (1, 0, -1) and (2, 2, 2)
    x = np.array([[[[1, 2, 3], [4, 5, 6]]]], np.uint8)
    w = np.array([[1, 0, -1], [2, 2, 2]]).reshape(2, 1, 1, 3)
    conv = Conv2d(name="c", weights=w, schemes=["fixed4", "sp2_4"], bias=[10, -1],
                  in_spec=U4, out_spec=None)
    assert reference.run_layer(conv, x).tolist() == [[[[1 - 3 + 10, 12 - 1], [4 - 6 + 10, 30 - 1]]]]
    # with requantization: m/2^s = 1/4, S8 output: 8/4=2, 11/4=2.75->3, 8/4=2, 29/4=7.25->7
    conv = Conv2d(name="c", weights=w, schemes=["fixed4", "sp2_4"], bias=[10, -1],
                  multiplier=1, shift=2, in_spec=U4, out_spec=S8)
    assert reference.run_layer(conv, x).tolist() == [[[[2, 3], [2, 7]]]]


def test_hand_3x3_conv_with_padding():
    # x = [[1, 2], [3, 4]], weights = [[0, 1, 0], [1, 2, 1], [0, 1, 0]], padding 1:
    #   (0,0): 2*1 + 2 + 3 = 7; (0,1): 2*2 + 1 + 4 = 9; (1,0): 2*3 + 1 + 4 = 11; (1,1): 2*4 + 2 + 3 = 13
    x = np.array([1, 2, 3, 4], np.uint8).reshape(1, 2, 2, 1)
    w = np.array([[0, 1, 0], [1, 2, 1], [0, 1, 0]]).reshape(1, 3, 3, 1)
    conv = Conv2d(name="c3", weights=w, schemes=[0], bias=1, multiplier=1, shift=1,
                  in_spec=U4, out_spec=U4, padding=1)
    # (7+1)/2 = 4, (9+1)/2 = 5, (11+1)/2 = 6, (13+1)/2 = 7
    assert reference.run_layer(conv, x)[0, :, :, 0].tolist() == [[4, 5], [6, 7]]
    assert fast.run_layer(conv, x)[0, :, :, 0].tolist() == [[4, 5], [6, 7]]


def test_hand_3x3_conv_explicit_loops_two_channels_stride():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 32, (2, 5, 6, 2)).astype(np.uint8)
    w = rng.choice([-8, -6, -5, -4, -2, -1, 0, 1, 2, 4, 5, 6, 8], (3, 3, 3, 2))
    conv = Conv2d(name="loops", weights=w, schemes=[2, 2, 2], bias=[0, 5, -5], in_spec=U5,
                  out_spec=None, stride=(2, 1), padding=(1, 0, 0, 2))
    ho, wo = (5 + 1 - 3) // 2 + 1, (6 + 2 - 3) // 1 + 1
    expected = np.zeros((2, ho, wo, 3), np.int64)
    for b in range(2):
        for oy in range(ho):
            for ox in range(wo):
                for o in range(3):
                    total = [0, 5, -5][o]
                    for i in range(3):
                        for j in range(3):
                            for c in range(2):
                                y, xx = oy * 2 - 1 + i, ox - 0 + j
                                if 0 <= y < 5 and 0 <= xx < 6:
                                    total += int(x[b, y, xx, c]) * int(w[o, i, j, c])
                    expected[b, oy, ox, o] = total
    got = reference.run_layer(conv, x)
    assert got.shape == (2, ho, wo, 3)
    np.testing.assert_array_equal(got, expected)


def test_hand_maxpool():
    x = np.array([[1, 5, 2, 0],
                  [3, 4, 9, 1],
                  [0, 2, 6, 8],
                  [7, 1, 3, 2]], np.uint8).reshape(1, 4, 4, 1)
    pool = MaxPool2d(name="mp", kernel=2, spec=U4)
    assert reference.run_layer(pool, x)[0, :, :, 0].tolist() == [[5, 9], [7, 8]]
    # 3x3 stride 2 padding 1: windows rows/cols {-1,0,1}, {1,2,3}
    pool = MaxPool2d(name="mp3", kernel=3, stride=2, padding=1, spec=U4)
    assert reference.run_layer(pool, x)[0, :, :, 0].tolist() == [[5, 9], [7, 9]]
    # signed values: padding never wins even when all values are negative
    xs = -(x.astype(np.int16) + 1).astype(np.int8)
    pool = MaxPool2d(name="mps", kernel=3, stride=2, padding=1, spec=S8)
    # window minima of x: {1,5,3,4} -> 1, {5,2,0,4,9,1} -> 0, {3,4,0,2,7,1} -> 0, {4,9,1,...} -> 1
    assert reference.run_layer(pool, xs)[0, :, :, 0].tolist() == [[-2, -1], [-1, -2]]
    assert fast.run_layer(pool, xs)[0, :, :, 0].tolist() == [[-2, -1], [-1, -2]]


def test_hand_add():
    a = np.array([[1, 2, 15]], np.uint8)
    b = np.array([[3, 4, 15]], np.uint8)
    layer = Add(name="add", inputs=("a", "b"), multipliers=(3, 5), shift=2)
    # (3 + 15 + 2) >> 2 = 5; (6 + 20 + 2) >> 2 = 7; (45 + 75 + 2) >> 2 = 30 -> 15 (u4)
    assert reference.run_layer(layer, a, b).tolist() == [[5, 7, 15]]


def test_hand_gap():
    x = np.array([[1, 2], [3, 4], [5, 6], [7, 9]], np.uint8).reshape(1, 2, 2, 2)
    # sums: 1+3+5+7 = 16, 2+4+6+9 = 21; m=1, s=2: (16+2)>>2 = 4, (21+2)>>2 = 5
    gap = GlobalAvgPool(name="gap", multiplier=1, shift=2, in_spec=U4, out_spec=U8)
    assert reference.run_layer(gap, x).tolist() == [[4, 5]]
    gap = GlobalAvgPool(name="gap", multiplier=3, shift=0, in_spec=U4, out_spec=U5)
    assert reference.run_layer(gap, x).tolist() == [[31, 31]]


def test_hand_linear_nhwc_flatten_order():
    x = np.array([1, 2, 3, 4, 5, 6], np.uint8).reshape(1, 1, 2, 3)   # NHWC, flattened 1..6
    w = np.array([[1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1], [1, -1, 2, -2, 4, -4]])
    lin = Linear(name="fc", weights=w, schemes=["sp2_4"] * 3, in_spec=U4, out_spec=None)
    assert run_both(lin, x).tolist() == [[1, 6, 1 - 2 + 6 - 8 + 20 - 24]]
