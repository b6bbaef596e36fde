"""The prediction, its score, the frame rate and the mode drawn on a frame (OpenCV text on
filled boxes, so it reads on any background).

>>> import numpy as np
>>> frame = np.zeros((480, 640, 3), np.uint8)
>>> out = annotate(frame, "cat", 0.93, fps=24.5, mode="emulated")
>>> out.shape, bool(out.any()), bool(frame.any())        # drawn on a copy
((480, 640, 3), True, False)
"""
from __future__ import annotations

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
TEXT = (255, 255, 255)
LABEL_BOX = (40, 120, 0)          # BGR: green for the prediction
INFO_BOX = (40, 40, 40)           # dark grey for the status line


def put_label(img: np.ndarray, text: str, org: "tuple[int, int]", scale: float,
              box: "tuple[int, int, int]", color: "tuple[int, int, int]" = TEXT) -> "tuple[int, int]":
    """Draw ``text`` with its top-left corner at ``org`` on a filled ``box``-coloured rectangle;
    returns the rectangle's bottom-right corner."""
    thickness = max(1, round(2 * scale))
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    pad = max(2, round(6 * scale))
    x, y = org
    end = (x + tw + 2 * pad, y + th + base + 2 * pad)
    cv2.rectangle(img, (x, y), end, box, -1)
    cv2.putText(img, text, (x + pad, y + pad + th), FONT, scale, color, thickness, cv2.LINE_AA)
    return end


def annotate(frame: np.ndarray, label: str, score: float, fps: "float | None" = None, mode: str = "",
             detail: str = "") -> np.ndarray:
    """A copy of ``frame`` with ``label score`` at the top left and ``fps | mode | detail`` at the bottom."""
    img = frame.copy()
    h = img.shape[0]
    scale = max(0.35, h / 480 * 0.9)           # the same look on a 240-line and a 1080-line frame
    margin = max(2, round(10 * scale))
    put_label(img, f"{label} {score:.2f}", (margin, margin), scale, LABEL_BOX)
    parts = ([f"{fps:.1f} fps"] if fps else []) + [p for p in (mode, detail) if p]
    if parts:
        small = scale * 0.7
        (_, th), base = cv2.getTextSize("Ag", FONT, small, max(1, round(2 * small)))
        y = h - margin - th - base - 2 * max(2, round(6 * small))
        put_label(img, " | ".join(parts), (margin, max(0, y)), small, INFO_BOX)
    return img
