"""A thousand random layers: fast == reference on each."""
from __future__ import annotations

import numpy as np

from msp_pynq.emulator.layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d
from msp_pynq.numerics.activations import S8, U8
from msp_pynq.numerics.bounds import gemm_dtype

from conftest import ALL_SPECS, random_acts
from .emulator_helpers import OUT_SPECS, run_both, max_abs, row_l1, pad_quad, build_weight_layer


def random_layer(rng, index):
    """One random layer of a random kind with its inputs; ``big`` ones go past 2^24."""
    kind = rng.choice(["conv", "conv", "conv", "linear", "linear", "add", "pool", "gap"])
    if kind in ("conv", "linear"):
        big = rng.random() < 0.2
        in_spec = ALL_SPECS[rng.integers(4)] if not big else (U8, S8)[rng.integers(2)]
        common = dict(
            rows=int(rng.integers(1, 9)), in_spec=in_spec, out_spec=OUT_SPECS[rng.integers(5)],
            scheme=(None, 1)[rng.integers(2)] if big else (None, None, 0, 1, 2)[rng.integers(5)],
            wmode=str(rng.choice(["max", "min", "uniform"] if big else
                                 ["uniform", "uniform", "max", "min", "zero_rows"])),
            xmode=str(rng.choice(["max", "min", "uniform"] if big else
                                 ["uniform", "uniform", "max", "min", "zero"])),
            bias=str(rng.choice(["zero", "small", "limits", "any"])),
            m_kind=str(rng.choice(["any", "max", "one", "zero"])),
            s_kind=str(rng.choice(["calibrated", "calibrated", "any", "zero"])),
            seed=int(rng.integers(2 ** 32)), name=f"{kind}{index}")
        if kind == "conv":
            kh, kw = (int(v) for v in rng.integers(3 if big else 1, 6, 2))
            cin = int(rng.integers(30, 65)) if big else int(rng.integers(1, 8))
            quad = tuple(int(v) for v in rng.integers(0, 3, 4))
            padding = quad if rng.random() < 0.5 else quad[0]
            pt, pl, pb, pr = pad_quad(padding)
            h = max(1, kh - pt - pb) + int(rng.integers(0, 3 if big else 6))
            w = max(1, kw - pl - pr) + int(rng.integers(0, 3 if big else 6))
            stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
            p = dict(common, k_shape=(kh, kw, cin), x_shape=(int(rng.integers(1, 3)), h, w, cin),
                     stride=stride, padding=padding)
            layer, x = build_weight_layer(Conv2d, p)
        else:
            if big:
                k = int(rng.integers(519, 3000))
                x_shape = (int(rng.integers(1, 4)), k)
            else:
                x_shape = (int(rng.integers(1, 4)),) + tuple(int(v) for v in rng.integers(1, 4, 3))
                if rng.random() < 0.5:
                    x_shape = (x_shape[0], int(np.prod(x_shape[1:])))
                k = int(np.prod(x_shape[1:]))
            layer, x = build_weight_layer(Linear, dict(common, k_shape=(k,), x_shape=x_shape))
        return layer, (x,), gemm_dtype(max_abs(x), row_l1(layer.weights))
    if kind == "add":
        shape = tuple(int(v) for v in rng.integers(1, 5, 4))
        sa, sb, so = (ALL_SPECS[i] for i in rng.integers(0, 4, 3))
        ma, mb = (int(v) for v in rng.integers(0, 65536, 2))
        shift = max(0, min(47, (255 * (ma + mb)).bit_length() - so.bits + int(rng.integers(-1, 2))))
        layer = Add(name=f"add{index}", inputs=("a", "b"), in_specs=(sa, sb), multipliers=(ma, mb),
                    shift=shift, out_spec=so)
        return layer, (random_acts(rng, shape, sa), random_acts(rng, shape, sb)), None
    spec = ALL_SPECS[rng.integers(4)]
    if kind == "pool":
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        padding = (int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1)),
                   int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1)))
        stride = None if rng.random() < 0.3 else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        h = max(1, kh - padding[0] - padding[2]) + int(rng.integers(0, 6))
        w = max(1, kw - padding[1] - padding[3]) + int(rng.integers(0, 6))
        layer = MaxPool2d(name=f"pool{index}", kernel=(kh, kw), stride=stride, padding=padding, spec=spec)
        return layer, (random_acts(rng, (int(rng.integers(1, 3)), h, w, int(rng.integers(1, 5))), spec),), None
    out = ALL_SPECS[rng.integers(4)]
    h, w = int(rng.integers(1, 7)), int(rng.integers(1, 7))
    m = int(rng.integers(0, 65536))
    s = max(0, min(47, (m * 255 * h * w).bit_length() - out.bits))
    layer = GlobalAvgPool(name=f"gap{index}", multiplier=m, shift=s, in_spec=spec, out_spec=out)
    return layer, (random_acts(rng, (int(rng.integers(1, 3)), h, w, int(rng.integers(1, 6))), spec),), None


def test_thousand_random_layers():
    rng = np.random.default_rng(1234567)
    counts = {"float32": 0, "float64": 0}
    kinds = {}
    for index in range(1000):
        layer, inputs, gemm = random_layer(rng, index)
        try:
            run_both(layer, *inputs)
        except AssertionError as exc:
            raise AssertionError(f"layer {index} ({layer!r}) disagrees: {exc}") from None
        kinds[type(layer).__name__] = kinds.get(type(layer).__name__, 0) + 1
        if gemm is not None:
            counts[np.dtype(gemm).name] += 1
    print(f"\n1000 random layers, fast == int64 reference: {kinds}; GEMM paths {counts}")
    assert sum(kinds.values()) == 1000
    assert set(kinds) == {"Conv2d", "Linear", "Add", "MaxPool2d", "GlobalAvgPool"}
    assert counts["float32"] >= 100, counts
    assert counts["float64"] >= 30, counts
