"""Softmax of float logits: the score shown next to a predicted class (numpy only, no plotting).

>>> import numpy as np
>>> softmax(np.array([[0.0, 1.0], [2.0, 0.0]])).round(2).tolist()
[[0.27, 0.73], [0.88, 0.12]]
"""
from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of float logits (numerically stable)."""
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)
