"""Requantization: int32 accumulator -> b-bit activation by a 16-bit multiplier and a shift.

``y = clamp((acc * m + 2^(s-1)) >> s, lo, hi)`` with ``>>`` an arithmetic
(floor) shift, which rounds ties towards +infinity ("round half up"); for
``s = 0`` there is no rounding term. ``m`` is an unsigned integer below 2^16 and
``s`` lies in 0..47. This is the only implementation of the rule: the emulator's
reference and fast paths both call :func:`requantize`.

>>> m, s = quantize_multiplier(0.25)
>>> (m, s)
(32768, 17)
>>> requantize(np.array([-6, -5, 5, 6, 1000]), m, s, U4).tolist()
[0, 0, 1, 2, 15]
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ContractError
from .activations import ActSpec, U4  # noqa: F401  (U4 used by the doctest)

MULT_BITS = 16
MULT_MAX = (1 << MULT_BITS) - 1
SHIFT_MAX = 47


def quantize_multiplier(real: float) -> tuple[int, int]:
    """A real multiplier ``M >= 0`` as ``(m, s)`` with ``m / 2^s`` closest to M.

    ``m`` is normalised to ``[2^15, 2^16)`` when M >= 2^-32 (relative error at
    most 2^-16); smaller M use ``s = 47`` and a smaller ``m`` (possibly 0).
    Raises ContractError for M >= 2^16 - 0.5, negative, NaN or infinite M.
    """
    if not math.isfinite(real) or real < 0:
        raise ContractError(f"requant multiplier {real!r} must be a finite number >= 0")
    if real == 0:
        return 0, 0
    frac, exp = math.frexp(real)          # real = frac * 2^exp, frac in [0.5, 1)
    shift = MULT_BITS - exp
    if shift > SHIFT_MAX:
        shift = SHIFT_MAX
    if shift < 0:
        raise ContractError(f"requant multiplier {real!r} needs more than {MULT_BITS} bits; "
                            f"the output scale is too small for this layer")
    m = _round_half_up(math.ldexp(real, shift))
    if m > MULT_MAX:                      # frac rounded up to 1.0
        if shift == 0:
            raise ContractError(f"requant multiplier {real!r} needs more than {MULT_BITS} bits")
        m, shift = _round_half_up(math.ldexp(real, shift - 1)), shift - 1
    return m, shift


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def quantize_multipliers(reals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vector form of :func:`quantize_multiplier`: ``(m int32[...], s int32[...])``."""
    pairs = [quantize_multiplier(float(r)) for r in np.ravel(reals)]
    shape = np.shape(reals)
    m = np.array([p[0] for p in pairs], dtype=np.int32).reshape(shape)
    s = np.array([p[1] for p in pairs], dtype=np.int32).reshape(shape)
    return m, s


def check_requant_params(m: np.ndarray, s: np.ndarray, what: str) -> None:
    """Raise ContractError unless every ``m`` is in 0..2^16-1 and every ``s`` in 0..47."""
    m, s = np.asarray(m), np.asarray(s)
    if m.size and (m.min() < 0 or m.max() > MULT_MAX):
        raise ContractError(f"{what}: multiplier {int(m.max() if m.max() > MULT_MAX else m.min())} "
                            f"outside 0..{MULT_MAX} (16 bits unsigned)")
    if s.size and (s.min() < 0 or s.max() > SHIFT_MAX):
        raise ContractError(f"{what}: shift {int(s.max() if s.max() > SHIFT_MAX else s.min())} "
                            f"outside 0..{SHIFT_MAX}")


def requantize(acc: np.ndarray, m: "np.ndarray | int", s: "np.ndarray | int",
               out: "ActSpec | None") -> np.ndarray:
    """Apply the contract's rounding, shift and saturation; returns ``out.dtype``.

    ``m`` and ``s`` broadcast against ``acc`` (per-row values go on the last,
    channel axis). ``out=None`` returns ``acc * m`` rounded and shifted, as int64,
    without saturation.
    """
    x = np.asarray(acc, dtype=np.int64) * np.asarray(m, dtype=np.int64)
    s = np.asarray(s, dtype=np.int64)
    # (1 << s) >> 1 is 2^(s-1) for s >= 1 and 0 for s = 0: no rounding term without a shift.
    x += (np.int64(1) << s) >> 1
    x >>= s
    if out is None:
        return x
    np.clip(x, out.lo, out.hi, out=x)
    return x.astype(out.dtype)


def quantize_multipliers_shared(reals: "list[float] | np.ndarray") -> tuple[list, int]:
    """Several multipliers on one shift (the residual add): ``([m_i], s)``, ``m_i / 2^s ~ M_i``.

    The largest M_i gets a normalised 16-bit multiplier; the others share its shift.

    >>> quantize_multipliers_shared([0.5, 0.125])
    ([32768, 8192], 16)
    """
    reals = [float(r) for r in reals]
    for r in reals:
        quantize_multiplier(r)            # validates each value
    _, shift = quantize_multiplier(max(reals))
    return [_round_half_up(math.ldexp(r, shift)) for r in reals], shift


class FloatRequant:
    """The same rule as :func:`requantize`, evaluated in float64 for speed (fast emulator).

    With ``M = m * 2^-s`` and ``R = (bias * m + 2^(s-1)) * 2^-s`` (both exact float64
    values, since m < 2^16 and |bias * m| < 2^46), ``v = acc * M + R`` equals
    ``(acc * m + bias * m + 2^(s-1)) / 2^s`` exactly for integer |acc| < 2^31: every
    intermediate has a numerator below 2^49 over a power of two, well inside float64's
    53-bit significand. ``floor(v)`` is then the contract's result; for unsigned
    outputs, clipping to [0, hi] first lets the truncating cast act as the floor.
    ``out=None`` is the logits case (section 7.6): ``acc + bias`` as int32, ``m`` and ``s`` unused.
    """

    def __init__(self, m: np.ndarray, s: np.ndarray, bias: np.ndarray, out: "ActSpec | None") -> None:
        m64, s64 = np.asarray(m, np.int64), np.asarray(s, np.int64)
        bias64 = np.asarray(bias, np.int64)
        self.out = out
        if out is None:
            self.bias = bias64.astype(np.float64)
            return
        scale = np.ldexp(1.0, -s64)
        self.mult = m64.astype(np.float64) * scale
        self.offset = (bias64 * m64 + ((np.int64(1) << s64) >> 1)).astype(np.float64) * scale
        if np.abs(bias64 * m64).max(initial=0) >= 1 << 46:
            raise ContractError("bias * multiplier exceeds 2^46")

    def __call__(self, acc: np.ndarray, dest: "np.ndarray | None" = None) -> np.ndarray:
        """Requantize float accumulators ``[..., rows]`` (exact integers) into ``dest``."""
        if self.out is None:
            total = np.add(acc, self.bias, dtype=np.float64)
            return total.astype(np.int32) if dest is None else np.copyto(dest, total, casting="unsafe") or dest
        v = np.multiply(acc, self.mult, dtype=np.float64)
        v += self.offset
        if self.out.signed:
            np.floor(v, out=v)
        np.clip(v, self.out.lo, self.out.hi, out=v)
        if dest is None:
            return v.astype(self.out.dtype)
        np.copyto(dest, v, casting="unsafe")
        return dest
