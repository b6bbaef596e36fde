"""Error types raised by msp-pynq.

Every error a user can trigger with bad input derives from :class:`MSPError`
(itself a ``ValueError``), so callers can catch the project's errors without
catching numpy's or Python's own.
"""
from __future__ import annotations


class MSPError(ValueError):
    """Base class of every error msp-pynq raises on bad input."""


class ContractError(MSPError):
    """A value lies outside the integer contract (docs/numerics.md).

    Examples: a weight code that no scheme defines, a multiplier wider than
    16 bits, an activation above its bit width.
    """


class LayerError(MSPError):
    """A layer is malformed or was given an input it cannot take.

    The message always starts with the layer's name so that the failing layer
    of a network is found at once.
    """

    def __init__(self, layer: str, message: str) -> None:
        self.layer = layer
        super().__init__(f"layer {layer!r}: {message}")


class BundleError(MSPError):
    """A bundle file is damaged, of an unsupported version, or does not fit this board/engine."""
