"""Shared hypothesis profile and small helpers for the integer-core tests.

The helpers here build *inputs* (random legal weights, activations, layer
parameters); every expected value in the tests is computed independently of
the package (plain Python ints or explicit loops), never copied from it.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from msp_pynq.numerics.activations import S8, U4, U5, U8, ActSpec

settings.register_profile(
    "msp",
    deadline=None,
    print_blob=True,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("msp")

# Host tests: small torch models run best on one thread, and one thread per process avoids
# oversubscribing a 2-core CI machine. The environment variable reaches the processes the tests
# start too (notebook kernels, torchrun workers): with a second test worker busy, a kernel's
# two-thread torch spent most of notebook 02's training waiting for a core (75 s against 18 s).
os.environ.setdefault("OMP_NUM_THREADS", "1")
try:
    import torch
    torch.set_num_threads(1)
except ImportError:         # pragma: no cover - torch is a host extra
    pass

ALL_SPECS = (U4, U5, U8, S8)

# Legal weight values per scheme, written out by hand (not read from the package).
SP2_LEVELS = (-8, -6, -5, -4, -2, -1, 0, 1, 2, 4, 5, 6, 8)
FIXED4_LEVELS = tuple(range(-7, 8))
FIXED8_LEVELS = tuple(range(-127, 128))
LEVELS_BY_NUMBER = {0: FIXED4_LEVELS, 1: FIXED8_LEVELS, 2: SP2_LEVELS}
LABEL_BY_NUMBER = {0: "fixed4", 1: "fixed8", 2: "sp2_4"}


def spec_range(spec: ActSpec) -> tuple[int, int]:
    """(lo, hi) of an activation type, computed from its bit width by hand."""
    if spec.signed:
        return -(2 ** (spec.bits - 1)), 2 ** (spec.bits - 1) - 1
    return 0, 2 ** spec.bits - 1


def requant_model(acc: int, m: int, s: int, spec: "ActSpec | None") -> int:
    """The contract in plain Python ints: ``clamp((acc*m + 2^(s-1)) >> s)``, no term for s=0."""
    y = (acc * m + ((1 << (s - 1)) if s else 0)) >> s      # Python >> is a floor shift
    if spec is None:
        return y
    lo, hi = spec_range(spec)
    return min(max(y, lo), hi)


def spec_dtype(spec: ActSpec):
    return np.int8 if spec.signed else np.uint8


def random_acts(rng: np.random.Generator, shape, spec: ActSpec, mode: str = "uniform") -> np.ndarray:
    """Random activations of ``spec``; mode 'max' fills with the type's extreme value(s)."""
    lo, hi = spec_range(spec)
    if mode == "max":
        return np.full(shape, hi, spec_dtype(spec))
    if mode == "min":
        return np.full(shape, lo, spec_dtype(spec))
    if mode == "zero":
        return np.zeros(shape, spec_dtype(spec))
    return rng.integers(lo, hi + 1, shape).astype(spec_dtype(spec))


def random_schemes(rng: np.random.Generator, rows: int) -> np.ndarray:
    return rng.integers(0, 3, rows).astype(np.uint8)


def random_weights(rng: np.random.Generator, schemes: np.ndarray, k_shape: tuple,
                   mode: str = "uniform") -> np.ndarray:
    """``[rows, *k_shape]`` int64 weights, each row drawn from its scheme's legal levels.

    mode 'max': every weight the scheme's largest level; 'zero_rows': some rows all zero.
    """
    rows = len(schemes)
    w = np.empty((rows,) + tuple(k_shape), np.int64)
    k = int(np.prod(k_shape))
    for r, s in enumerate(schemes):
        levels = np.array(LEVELS_BY_NUMBER[int(s)])
        if mode == "max":
            vals = np.full(k, levels.max())
        elif mode == "min":
            vals = np.full(k, levels.min())
        else:
            vals = rng.choice(levels, k)
        w[r] = vals.reshape(k_shape)
    if mode == "zero_rows":
        w[rng.random(rows) < 0.5] = 0
    return w


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)
