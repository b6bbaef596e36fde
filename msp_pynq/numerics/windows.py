"""Output size of a window operation (convolution, max pooling) along one axis, computed once.

Each user keeps its own error convention by wrapping :func:`window_out_len`: 0 means the
window does not fit (the emulator's layers raise ``LayerError``, the bundle planner
``BundleError``, the descriptor's size helpers return 0).

>>> window_out_len(32, 3, 1, 1, 1), window_out_len(5, 3, 2, 1, 0), window_out_len(2, 5, 1, 1, 1)
(32, 2, 0)
"""
from __future__ import annotations


def window_out_len(size: int, kernel: int, stride: int, pad_a: int = 0, pad_b: int = 0) -> int:
    """Output length of a ``kernel``-wide window moved by ``stride`` over ``size`` inputs padded
    by ``pad_a`` before and ``pad_b`` after: ``(size + pad_a + pad_b - kernel) // stride + 1``,
    or 0 when the kernel is larger than the padded input (or ``stride < 1``)."""
    span = size + pad_a + pad_b - kernel
    return span // stride + 1 if span >= 0 and stride >= 1 else 0
