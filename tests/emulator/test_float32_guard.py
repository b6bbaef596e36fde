"""The float32 exactness guard matters: float32 GEMMs would be wrong beyond 2^24."""
from __future__ import annotations

import numpy as np

from msp_pynq.emulator.layers import Conv2d, Linear
from msp_pynq.numerics.activations import S8, U8
from msp_pynq.numerics.bounds import gemm_dtype

from .emulator_helpers import run_both, row_l1, direct_conv


def test_gemm_dtype_threshold():
    assert gemm_dtype(1, 2 ** 24) is np.float32
    assert gemm_dtype(1, 2 ** 24 + 1) is np.float64
    assert gemm_dtype(128, 2 ** 17) is np.float32
    assert gemm_dtype(255, 127 * 519) is np.float64
    assert gemm_dtype(255, 127 * 518) is np.float32
    assert gemm_dtype(0, 10 ** 9) is np.float32


def test_float32_would_be_wrong_beyond_2_24():
    """An odd accumulator above 2^24 has no float32 representation: a naive float32 GEMM
    must get it wrong, while the fast path (guarded, float64) matches the reference."""
    k = 1023
    w = np.full((1, k), 127)
    x = np.full((2, k), 255, np.uint8)
    exact = 255 * 127 * k
    assert exact > 2 ** 24 and exact % 2 == 1
    naive = (x.astype(np.float32) @ w.T.astype(np.float32)).astype(np.int64)
    assert (naive != exact).all()
    layer = Linear(name="guard", weights=w, schemes=[1], in_spec=U8, out_spec=None)
    got = run_both(layer, x, dtype=np.int32)
    assert got.tolist() == [[exact], [exact]]


def test_float32_would_be_wrong_conv_random_rows():
    rng = np.random.default_rng(99)
    cin, rows = 256, 12
    w = rng.integers(100, 128, (rows, 3, 3, cin))
    x = rng.integers(200, 256, (1, 3, 3, cin)).astype(np.uint8)
    exact = direct_conv(x, w, np.zeros(rows, np.int64), 1, 0)[0, 0, 0]
    assert (exact > 2 ** 24).all()
    odd = exact % 2 == 1
    assert odd.sum() >= 2
    patches = x.reshape(1, -1).astype(np.float32)
    naive = (patches @ w.reshape(rows, -1).T.astype(np.float32))[0].astype(np.int64)
    assert (naive[odd] != exact[odd]).all()
    layer = Conv2d(name="guard_conv", weights=w, schemes=[1] * rows, in_spec=U8, out_spec=None)
    got = run_both(layer, x, dtype=np.int32)
    np.testing.assert_array_equal(got[0, 0, 0].astype(np.int64), exact)


def test_exactly_at_float32_bound():
    """max|a| * row L1 == 2^24 exactly: float32 is still exact (S8 -128, L1 = 2^17)."""
    w = np.full((2, 1033), 127)
    w[:, -1] = 8
    w[1] *= -1
    assert row_l1(w) == 2 ** 17
    x = np.full((1, 1033), -128, np.int8)
    assert gemm_dtype(128, 2 ** 17) is np.float32
    layer = Linear(name="edge", weights=w, schemes=[1, 1], in_spec=S8, out_spec=None)
    assert run_both(layer, x, dtype=np.int32).tolist() == [[-(2 ** 24), 2 ** 24]]
    # one unit above the bound, with an odd total: float64 path, still exact
    w2 = np.full((1, 1033), 127)
    w2[0, -1] = 9
    layer2 = Linear(name="edge2", weights=w2, schemes=[1], in_spec=S8, out_spec=None)
    assert gemm_dtype(128, row_l1(w2)) is np.float64
    x2 = x.copy()
    x2[0, -1] = -127
    assert run_both(layer2, x2, dtype=np.int32).tolist() == [[-(128 * 127 * 1032 + 127 * 9)]]
