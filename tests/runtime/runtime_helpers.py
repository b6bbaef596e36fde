"""Builders of the runtime tests' inputs: random legal weights, small networks, bundles, images.

Kept out of conftest.py so that the test modules can import them.
"""
from __future__ import annotations

import numpy as np

from msp_pynq.bundle.io import save_bundle
from msp_pynq.emulator import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d, Network
from msp_pynq.numerics.activations import S8, U4, U5, U8
from msp_pynq.numerics.requant import quantize_multipliers

# Legal weight values per scheme number, written out by hand.
LEVELS = {0: tuple(range(-7, 8)), 1: tuple(range(-127, 128)),
          2: (-8, -6, -5, -4, -2, -1, 0, 1, 2, 4, 5, 6, 8)}


def random_weights(rng: np.random.Generator, schemes, k_shape) -> np.ndarray:
    """``[rows, *k_shape]`` weights, each row from its scheme's levels."""
    k = int(np.prod(k_shape))
    return np.stack([rng.choice(LEVELS[int(s)], k).reshape(k_shape) for s in schemes]).astype(np.int8)


def calibrated(layer_cls, x: np.ndarray, out_spec, target: float, **kw):
    """A weight layer whose requantization maps its accumulators' spread on ``x`` to ``target``."""
    raw = layer_cls(out_spec=None, multiplier=0, shift=0, **kw)
    acc = Network([raw], input_name=kw["inputs"][0], input_spec=kw["in_spec"]).run(x).astype(np.float64)
    spread = np.maximum(acc.reshape(-1, raw.rows).std(axis=0), 1.0)
    m, s = quantize_multipliers(target / spread)
    return layer_cls(out_spec=out_spec, multiplier=m, shift=s, **kw)


def tiny_network(seed: int = 0, size: int = 6) -> Network:
    """Every engine op: conv2d (u8 -> u4, u4 -> s8, stride 2 with asymmetric padding -> u5),
    add (u4 + s8), max_pool, global_avg_pool and a raw-int32 linear; mixed schemes."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (8, size, size, 3), dtype=np.uint8)
    s1 = np.array([2, 2, 0, 1, 2, 0, 2, 1], np.uint8)
    conv1 = calibrated(Conv2d, x, U4, 4.0, name="conv1", inputs=("input",), in_spec=U8, padding=1,
                       weights=random_weights(rng, s1, (3, 3, 3)), schemes=s1,
                       bias=rng.integers(-300, 300, 8))
    h1 = Network([conv1]).run(x)
    s2 = np.array([0, 2, 2, 1, 2, 2, 0, 2], np.uint8)
    conv2 = calibrated(Conv2d, h1, S8, 30.0, name="conv2", inputs=("conv1",), in_spec=U4, padding=1,
                       weights=random_weights(rng, s2, (3, 3, 8)), schemes=s2, bias=rng.integers(-50, 50, 8))
    add = Add(name="add", inputs=("conv1", "conv2"), in_specs=(U4, S8), multipliers=(40000, 9000),
              shift=16, out_spec=U4)
    pool = MaxPool2d(name="pool", inputs=("add",), kernel=2, spec=U4)
    h3 = Network([conv1, conv2, add, pool]).run(x)
    s3 = np.array([2, 0, 2, 2, 1, 2, 0, 2], np.uint8)
    conv3 = calibrated(Conv2d, h3, U5, 8.0, name="conv3", inputs=("pool",), in_spec=U4, stride=2,
                       padding=(1, 0, 1, 1), weights=random_weights(rng, s3, (3, 3, 8)), schemes=s3,
                       bias=rng.integers(-20, 20, 8))
    gap = GlobalAvgPool(name="gap", inputs=("conv3",), multiplier=50000, shift=16, in_spec=U5, out_spec=U8)
    s4 = np.array([1, 2, 0, 2, 1], np.uint8)
    fc = Linear(name="fc", inputs=("gap",), weights=random_weights(rng, s4, (8,)), schemes=s4,
                bias=rng.integers(-500, 500, 5), in_spec=U8, out_spec=None)
    return Network([conv1, conv2, add, pool, conv3, gap, fc])


def pool_fc_network(seed: int = 0) -> Network:
    """Two layers (global_avg_pool, raw linear): the cheapest program for long loops."""
    rng = np.random.default_rng(seed)
    s = np.array([1, 2, 0, 2], np.uint8)
    return Network([GlobalAvgPool(name="gap", multiplier=40000, shift=17, in_spec=U8, out_spec=U8),
                    Linear(name="fc", inputs=("gap",), weights=random_weights(rng, s, (3,)), schemes=s,
                           bias=rng.integers(-100, 100, 4), in_spec=U8, out_spec=None)])


def write_bundle(path, network: Network, board: str, input_shape, seed: int = 0) -> str:
    """Save ``network`` as a bundle for ``board`` with random positive logit scales."""
    rng = np.random.default_rng(seed)
    out_rows = network.layers[-1].rows
    save_bundle(path, network, rng.uniform(0.01, 0.1, out_rows), board, tuple(input_shape),
                [f"class{i}" for i in range(out_rows)], {"onnx": "none", "sha256": "", "config": {}})
    return str(path)


def images(n: int, shape, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n,) + tuple(shape), dtype=np.uint8)


def wide_network(seed: int = 0) -> Network:
    """A conv of 400 mixed rows (K = 576: about 17 DSP passes of 36 bank words on the PYNQ-Z2
    engine, more than its 512-word banks hold, so the runtime splits it into row tiles), a global
    average pool over its 400 channels and a raw linear (K = 400)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (4, 6, 6, 64), dtype=np.uint8)
    s1 = rng.choice(np.array([0, 1, 2], np.uint8), 400)
    conv = calibrated(Conv2d, x, U4, 4.0, name="conv", inputs=("input",), in_spec=U8, padding=1,
                      weights=random_weights(rng, s1, (3, 3, 64)), schemes=s1, bias=rng.integers(-300, 300, 400))
    gap = GlobalAvgPool(name="gap", inputs=("conv",), multiplier=36000, shift=17, in_spec=U4, out_spec=U8)
    s2 = rng.choice(np.array([0, 1, 2], np.uint8), 20)
    fc = Linear(name="fc", inputs=("gap",), weights=random_weights(rng, s2, (400,)), schemes=s2,
                bias=rng.integers(-500, 500, 20), in_spec=U8, out_spec=None)
    return Network([conv, gap, fc])


def tall_network(seed: int = 0) -> Network:
    """A 40x40x96 input (153,600 bytes, over the PYNQ-Z2 engine's 128 KiB activation buffer) read
    by a conv, a padded max pool and an add (and the add's output by a max pool), so each runs in
    band tiles; then smaller layers."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (2, 40, 40, 96), dtype=np.uint8)
    s1 = rng.choice(np.array([0, 1, 2], np.uint8), 8)
    conv1 = calibrated(Conv2d, x, U4, 4.0, name="conv1", inputs=("input",), in_spec=U8, padding=1,
                       weights=random_weights(rng, s1, (3, 3, 96)), schemes=s1, bias=rng.integers(-300, 300, 8))
    h1 = Network([conv1]).run(x)
    s2 = rng.choice(np.array([0, 1, 2], np.uint8), 96)
    conv2 = calibrated(Conv2d, h1, S8, 30.0, name="conv2", inputs=("conv1",), in_spec=U4, stride=2, padding=1,
                       weights=random_weights(rng, s2, (3, 3, 8)), schemes=s2, bias=rng.integers(-50, 50, 96))
    return Network([
        conv1, conv2,
        MaxPool2d(name="pool1", inputs=("input",), kernel=3, stride=2, padding=1, spec=U8),
        Add(name="add1", inputs=("input", "input"), in_specs=(U8, U8), multipliers=(30000, 20000),
            shift=16, out_spec=U8),
        MaxPool2d(name="pool2", inputs=("add1",), kernel=2, spec=U8),
        Add(name="add2", inputs=("pool1", "conv2"), in_specs=(U8, S8), multipliers=(20000, 40000),
            shift=16, out_spec=U8),
        Add(name="add3", inputs=("add2", "pool2"), in_specs=(U8, U8), multipliers=(30000, 30000),
            shift=16, out_spec=U8),
        GlobalAvgPool(name="gap", inputs=("add3",), multiplier=40000, shift=16, in_spec=U8, out_spec=U8),
        Linear(name="fc", inputs=("gap",), weights=random_weights(rng, s2[:10], (96,)), schemes=s2[:10],
               bias=rng.integers(-500, 500, 10), in_spec=U8, out_spec=None)])
