"""Weight schemes of the contract: fixed-point 4/8-bit and SP2-4, per output row.

Every scheme's weight is an integer ``q`` (``w = row_scale * q``); this module
holds the legal values of ``q`` for each scheme and the bit codes that carry
them on the wire. See docs/numerics.md, section "Weights".

>>> encode(np.array([5, -8, 0]), Scheme.SP2_4).tolist()
[7, 11, 0]
>>> decode(np.array([7, 11, 0], dtype=np.uint8), Scheme.SP2_4).tolist()
[5, -8, 0]
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np

from ..errors import ContractError


class Scheme(IntEnum):
    """Row scheme. The integer values are the wire encoding of a row's scheme."""

    FIXED4 = 0  # DSP core, symmetric 4-bit, q in -7..7
    FIXED8 = 1  # DSP core, symmetric 8-bit, q in -127..127
    SP2_4 = 2   # LUT core, sign + 2-bit + 1-bit power-of-two indices, q in {0,±1,±2,±4,±5,±6,±8}

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def code_bits(self) -> int:
        return 8 if self is Scheme.FIXED8 else 4

    @property
    def qmax(self) -> int:
        """Largest |q| of the scheme."""
        return {Scheme.FIXED4: 7, Scheme.FIXED8: 127, Scheme.SP2_4: 8}[self]

    @property
    def levels(self) -> np.ndarray:
        """All legal values of q, ascending."""
        return _LEVELS[self]

    @property
    def core(self) -> str:
        """Which engine core computes rows of this scheme."""
        return "lut" if self is Scheme.SP2_4 else "dsp"


_LABELS = {Scheme.FIXED4: "fixed4", Scheme.FIXED8: "fixed8", Scheme.SP2_4: "sp2_4"}


def parse_scheme(value: "str | int | Scheme") -> Scheme:
    """Accept a Scheme, its wire number or its label (``'fixed4'``, ``'fixed8'``, ``'sp2_4'``)."""
    if isinstance(value, Scheme):
        return value
    if isinstance(value, str):
        for scheme, label in _LABELS.items():
            if value.lower() == label:
                return scheme
    elif isinstance(value, (int, np.integer)) and int(value) in {s.value for s in Scheme}:
        return Scheme(int(value))
    raise ContractError(
        f"unknown weight scheme {value!r}; expected one of {', '.join(_LABELS.values())} or 0..2")


def parse_schemes(values: "np.ndarray | list", what: str = "schemes") -> np.ndarray:
    """A per-row scheme vector (labels or wire numbers) as validated ``uint8`` wire numbers."""
    arr = np.asarray(values)
    if arr.dtype.kind in "UO":
        arr = np.array([parse_scheme(v).value for v in arr.ravel()], dtype=np.int64).reshape(arr.shape)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ContractError(f"{what}: expected a 1-D array of schemes, found {arr.dtype} "
                            f"with shape {arr.shape}")
    bad = ~np.isin(arr, [s.value for s in Scheme])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ContractError(f"{what}: row {row} has unknown scheme number {int(arr[row])} "
                            f"(known: 0=fixed4, 1=fixed8, 2=sp2_4)")
    return arr.astype(np.uint8)


# --- SP2-4 code: bit 3 sign, bits 2..1 index i1, bit 0 index i2 --------------------------
# term1 = 0 if i1 == 0 else 8 >> i1   (i.e. 2^-i1 in units of alpha/8: 4, 2, 1)
# term2 = 0 if i2 == 0 else 4         (2^-1 in units of alpha/8)
# q = (-1)^sign * (term1 + term2)

def _sp2_decode_table() -> np.ndarray:
    table = np.zeros(16, dtype=np.int8)
    for code in range(16):
        sign, i1, i2 = code >> 3, (code >> 1) & 3, code & 1
        mag = (0 if i1 == 0 else 8 >> i1) + (4 if i2 else 0)
        table[code] = -mag if sign else mag
    return table


SP2_DECODE = _sp2_decode_table()
# Canonical code of each value (index value + 8). The value 4 has two codes (i1=1 or i2=1);
# the canonical one uses term1. Zero is always code 0 (no "minus zero").
SP2_ENCODE = np.full(17, 255, dtype=np.uint8)
for _code in range(15, -1, -1):
    SP2_ENCODE[SP2_DECODE[_code] + 8] = _code
SP2_ENCODE[4 + 8], SP2_ENCODE[-4 + 8], SP2_ENCODE[8] = 0b0010, 0b1010, 0

FIXED4_DECODE = np.array([c if c < 8 else c - 16 for c in range(16)], dtype=np.int8)

_LEVELS = {
    Scheme.FIXED4: np.arange(-7, 8, dtype=np.int16),
    Scheme.FIXED8: np.arange(-127, 128, dtype=np.int16),
    Scheme.SP2_4: np.unique(SP2_DECODE).astype(np.int16),
}


def sp2_terms(code: int) -> tuple[int, "int | None", "int | None"]:
    """The shift-add form of one SP2-4 code: ``(sign, shift1, shift2)``.

    ``q * a == sign * ((a << shift1) + (a << shift2))``, a missing term is None.

    >>> sp2_terms(0b0111)   # q = 5 = 1 + 4
    (1, 0, 2)
    """
    if not 0 <= code < 16:
        raise ContractError(f"SP2-4 code {code} is not a 4-bit value")
    i1, i2 = (code >> 1) & 3, code & 1
    return (-1 if code >> 3 else 1, None if i1 == 0 else 3 - i1, 2 if i2 else None)


def invalid_values(values: np.ndarray, scheme: Scheme) -> np.ndarray:
    """Boolean mask of the entries of ``values`` that are not legal levels of ``scheme``.

    Non-integer values (2.5) are never legal; neither are NaN or infinities.
    """
    raw = np.asarray(values)
    if raw.dtype.kind not in "iub":
        with np.errstate(invalid="ignore"):
            integral = np.isfinite(raw) & (np.floor(raw) == raw) & (np.abs(raw) <= 1 << 20)
        v = np.where(integral, raw, 1 << 20).astype(np.int64)
    else:
        v = raw.astype(np.int64, copy=False)
    if scheme is Scheme.SP2_4:
        inside = (v >= -8) & (v <= 8)
        ok = np.zeros(v.shape, dtype=bool)
        ok[inside] = SP2_ENCODE[v[inside] + 8] != 255
        return ~ok
    return np.abs(v) > scheme.qmax


def encode(values: np.ndarray, scheme: "Scheme | str") -> np.ndarray:
    """Integer weight values to their ``uint8`` codes (4-bit codes use the low nibble)."""
    scheme = parse_scheme(scheme)
    v = np.asarray(values)
    bad = invalid_values(v, scheme)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ContractError(f"value {int(v[idx])} at index {idx} is not a {scheme.label} level "
                            f"(legal: {scheme.levels.min()}..{scheme.levels.max()}"
                            f"{', ' + str(scheme.levels.tolist()) if scheme is Scheme.SP2_4 else ''})")
    v = v.astype(np.int64)
    if scheme is Scheme.SP2_4:
        return SP2_ENCODE[v + 8]
    if scheme is Scheme.FIXED4:
        return (v & 0xF).astype(np.uint8)
    return (v & 0xFF).astype(np.uint8)


def decode(codes: np.ndarray, scheme: "Scheme | str") -> np.ndarray:
    """``uint8`` codes to ``int8`` weight values; codes the scheme does not define raise."""
    scheme = parse_scheme(scheme)
    c = np.asarray(codes)
    if c.dtype != np.uint8:
        raise ContractError(f"{scheme.label} codes: dtype {c.dtype}, expected uint8")
    if scheme is Scheme.FIXED8:
        if (c == 0x80).any():
            raise ContractError(f"fixed8 code 0x80 (-128) at index "
                                f"{tuple(int(i) for i in np.argwhere(c == 0x80)[0])} is reserved")
        return c.view(np.int8).copy()
    if (c > 15).any():
        idx = tuple(int(i) for i in np.argwhere(c > 15)[0])
        raise ContractError(f"{scheme.label} code {int(c[idx])} at index {idx} does not fit 4 bits")
    if scheme is Scheme.SP2_4:
        return SP2_DECODE[c]
    if (c == 8).any():
        raise ContractError(f"fixed4 code 0b1000 (-8) at index "
                            f"{tuple(int(i) for i in np.argwhere(c == 8)[0])} is reserved")
    return FIXED4_DECODE[c]
