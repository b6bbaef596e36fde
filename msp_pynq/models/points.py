"""Marks where the integer pipeline quantizes a tensor that no ReLU precedes."""
from __future__ import annotations

from torch import nn


class QuantPoint(nn.Identity):
    """Identity in float; ``msp_pynq.quant.quantize`` turns it into an activation quantizer.

    ``signed=True``: the contract's s8 (a residual branch before the add); else unsigned ``bits``.
    """

    def __init__(self, signed: bool = True, bits: int = 8) -> None:
        super().__init__()
        self.signed, self.bits = signed, bits

    def extra_repr(self) -> str:
        return f"{'s' if self.signed else 'u'}{self.bits}"
