"""The engine's row order: which output channel each row unit computes.

The LUT core takes the SP2 rows, the DSP core the fixed-4 rows and then the fixed-8 rows; a
bundle stores its rows in this order (``row_order`` maps it back to output channels) and the
descriptor gives only the three counts.

>>> import numpy as np
>>> engine_row_order(np.array([Scheme.FIXED4, Scheme.SP2_4, Scheme.FIXED8, Scheme.SP2_4], np.uint8))
array([1, 3, 0, 2], dtype=int32)
"""
from __future__ import annotations

import numpy as np

from ..numerics.schemes import Scheme
from .registers import Descriptor

ENGINE_SCHEME_ORDER = (Scheme.SP2_4, Scheme.FIXED4, Scheme.FIXED8)


def engine_row_order(schemes: np.ndarray) -> np.ndarray:
    """Output channels in engine order: SP2 rows (LUT core), then fixed-4, then fixed-8 (DSP core)."""
    order = [np.flatnonzero(schemes == s) for s in ENGINE_SCHEME_ORDER]
    return np.concatenate(order).astype(np.int32)


def engine_schemes(desc: Descriptor) -> np.ndarray:
    """The scheme of each row in engine order, as a descriptor's three row counts give it."""
    return np.repeat(np.array(ENGINE_SCHEME_ORDER, np.uint8),
                     [desc.rows_sp2, desc.rows_fixed4, desc.rows_fixed8])
