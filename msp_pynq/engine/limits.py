"""The largest layer the engine can be given: each size's register field, at its widest.

>>> engine_limits().padding, engine_limits().size
(255, 65535)
"""
from __future__ import annotations

import functools
from typing import NamedTuple

from .registers import DESCRIPTOR_MASKS, Descriptor


class EngineLimits(NamedTuple):
    """The largest value of each layer size the engine's descriptor registers hold."""

    size: int          # input height and width (IN_H, IN_W)
    channels: int      # input channels (IN_C)
    rows: int          # output rows of a conv2d / linear (OUT_C)
    kernel: int        # each kernel axis (KERNEL)
    stride: int        # each stride axis (STRIDE)
    padding: int       # each padding side (PADDING)


@functools.lru_cache(maxsize=None)
def engine_limits() -> EngineLimits:
    """The engine's limits, read from its descriptor: a layer the engine cannot be given is
    refused at construction (emulator, compiler, bundle) instead of running only in the emulator."""
    full = Descriptor.from_registers({int(reg): mask for reg, mask in DESCRIPTOR_MASKS.items()})
    return EngineLimits(size=min(full.in_h, full.in_w), channels=full.in_c, rows=full.out_c,
                        kernel=min(full.kernel), stride=min(full.stride), padding=min(full.padding))
