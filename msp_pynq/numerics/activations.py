"""Activation types of the contract: unsigned b-bit (ReLU fused) or signed 8-bit.

Activations have a per-tensor scale and zero point 0, so only their integer
range matters here. Each activation travels as one byte (``uint8`` or
``int8``) in NHWC order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ContractError

ACT_BITS = (4, 5, 8)


@dataclass(frozen=True)
class ActSpec:
    """Integer type of an activation tensor.

    >>> U4.lo, U4.hi, S8.lo, S8.hi
    (0, 15, -128, 127)
    """

    bits: int
    signed: bool = False

    def __post_init__(self) -> None:
        if self.signed and self.bits != 8:
            raise ContractError(f"signed activations are 8-bit only, not {self.bits}-bit")
        if not self.signed and self.bits not in ACT_BITS:
            raise ContractError(
                f"unsigned activations are {', '.join(map(str, ACT_BITS))}-bit, not {self.bits}-bit")

    @property
    def lo(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def dtype(self) -> type[np.integer]:
        return np.int8 if self.signed else np.uint8

    @property
    def max_abs(self) -> int:
        return max(-self.lo, self.hi)

    def __str__(self) -> str:
        return f"{'s' if self.signed else 'u'}{self.bits}"

    def check(self, x: np.ndarray, what: str) -> None:
        """Raise ContractError unless ``x`` has this type's dtype and range."""
        if not isinstance(x, np.ndarray):
            raise ContractError(f"{what}: expected a numpy array, found {type(x).__name__}")
        if x.dtype != self.dtype:
            raise ContractError(
                f"{what}: dtype {x.dtype}, expected {np.dtype(self.dtype)} ({self} activations)")
        if x.size and self.bits < 8:
            top = int(x.max())
            if top > self.hi:
                raise ContractError(f"{what}: value {top} exceeds the {self} maximum {self.hi}")


U4 = ActSpec(4)
U5 = ActSpec(5)
U8 = ActSpec(8)
S8 = ActSpec(8, signed=True)


def act_spec(bits: int, signed: bool) -> ActSpec:
    """The type of a quantizer's activations: ``s8`` when ``signed`` (signed activations are
    8-bit only, whatever ``bits`` says), else unsigned ``bits``. Its ``hi`` is the quantizer's
    level count (the scale is ``clip / hi``).

    >>> act_spec(4, False).hi, act_spec(8, True).hi
    (15, 127)
    """
    return S8 if signed else ActSpec(bits)


def parse_act(text: str | ActSpec) -> ActSpec:
    """``'u4'``, ``'u5'``, ``'u8'`` or ``'s8'`` to an :class:`ActSpec`."""
    if isinstance(text, ActSpec):
        return text
    table = {"u4": U4, "u5": U5, "u8": U8, "s8": S8}
    try:
        return table[str(text).lower()]
    except KeyError:
        raise ContractError(f"unknown activation type {text!r}; expected one of {sorted(table)}") from None
