"""Integer level sets of the weight quantizers (the contract's, plus baselines for experiments).

A quantized weight is ``scale * level`` with ``level`` drawn from one of these sets. The sets
of the schemes the engine runs are exactly the contract's (``numerics.schemes``).

>>> sp2_levels(2, 1).int().tolist()
[-8, -6, -5, -4, -2, -1, 0, 1, 2, 4, 5, 6, 8]
>>> pow2_levels(4).int().tolist()[7:]
[0, 1, 2, 4, 8, 16, 32, 64]
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..errors import MSPError
from ..numerics.schemes import Scheme


def fixed_levels(bits: int) -> torch.Tensor:
    """Symmetric fixed-point: ``-(2^(b-1)-1) .. 2^(b-1)-1``."""
    if not 2 <= bits <= 8:
        raise MSPError(f"fixed-point weights are 2..8 bits, not {bits}")
    q = (1 << (bits - 1)) - 1
    return torch.arange(-q, q + 1, dtype=torch.float32)


def sp2_levels(m1: int, m2: int) -> torch.Tensor:
    """Sum of two powers of two, ``±(q1 + q2)``, ``q1 ∈ {0, 2^-1..2^-(2^m1-1)}``, ``q2`` likewise
    with m2, scaled by ``2^(2^m1 - 1)`` so that every level is an integer (m1 >= m2 >= 1)."""
    if not (1 <= m2 <= m1 <= 3):
        raise MSPError(f"SP2 needs 1 <= m2 <= m1 <= 3, got m1={m1}, m2={m2}")
    top = (1 << m1) - 1
    t1 = [0] + [1 << (top - i) for i in range(1, (1 << m1))]
    t2 = [0] + [1 << (top - i) for i in range(1, (1 << m2))]
    mags = sorted({a + b for a in t1 for b in t2})
    return torch.tensor(sorted({-m for m in mags} | set(mags)), dtype=torch.float32)


def pow2_levels(bits: int) -> torch.Tensor:
    """Power of two (one term): sign and a (b-1)-bit exponent, 0 included, scaled to integers."""
    if not 2 <= bits <= 5:
        raise MSPError(f"power-of-two weights are 2..5 bits, not {bits}")
    n = (1 << (bits - 1)) - 1                       # non-zero magnitudes 2^0 .. 2^-(n-1)
    mags = [0] + [1 << i for i in range(n)]
    return torch.tensor(sorted({-m for m in mags} | set(mags)), dtype=torch.float32)


class WeightScheme(NamedTuple):
    name: str
    levels: torch.Tensor
    contract: "Scheme | None"      # the engine scheme, or None for experiment-only schemes
    bits: int


WEIGHT_SCHEMES = {
    "fixed4": WeightScheme("fixed4", fixed_levels(4), Scheme.FIXED4, 4),
    "fixed8": WeightScheme("fixed8", fixed_levels(8), Scheme.FIXED8, 8),
    "sp2_4": WeightScheme("sp2_4", sp2_levels(2, 1), Scheme.SP2_4, 4),
    "pow2_4": WeightScheme("pow2_4", pow2_levels(4), None, 4),
}
SCHEME_IDS = {name: i for i, name in enumerate(WEIGHT_SCHEMES)}     # buffer encoding in modules

