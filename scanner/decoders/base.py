"""What every decoder shares: checking a frame and making it gray exactly once.

Every decoder works on one 8-bit gray plane. A BGR frame is converted here, once, with
OpenCV (the cheapest conversion available, a few hundred microseconds at 1280x720); a
gray frame that is already C-contiguous is passed through without a copy, because on
a Pi every megabyte copied per frame is time taken from the decision.
"""

from __future__ import annotations

import cv2
import numpy as np


def to_gray(frame: np.ndarray) -> np.ndarray:
    """A C-contiguous ``uint8`` HxW view or conversion of ``frame`` (gray, BGR or BGRA)."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise ValueError(f"a frame is a numpy uint8 array, got "
                         f"{type(frame).__name__} {getattr(frame, 'dtype', '')}".rstrip())
    if frame.ndim == 2:
        gray = frame
    elif frame.ndim == 3 and frame.shape[2] == 3:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    elif frame.ndim == 3 and frame.shape[2] == 4:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    elif frame.ndim == 3 and frame.shape[2] == 1:
        gray = frame[:, :, 0]
    else:
        raise ValueError(f"a frame is HxW gray or HxWx3 BGR, got shape {frame.shape}")
    if gray.shape[0] == 0 or gray.shape[1] == 0:
        raise ValueError(f"an empty frame (shape {frame.shape})")
    return np.ascontiguousarray(gray)


#: Every decoder reads a frame that gave nothing a second time after this light blur
#: (standard deviation in pixels): sensor noise, JPEG blocks and screen moire break up
#: the binarizers of all three libraries on frames that a slightly smoothed picture reads
#: (on a sample of the bench/decode.py corpus it read all 9 of 400 frames zxing's first
#: look missed, and took zbar from 71 to 80 frames of 100).
#: Only frames where the first look found nothing pay for it.
SECOND_LOOK_SIGMA = 0.7


def second_look(gray: np.ndarray) -> np.ndarray:
    """The frame lightly blurred, for a second attempt."""
    return cv2.GaussianBlur(gray, (0, 0), SECOND_LOOK_SIGMA)


def unique(texts: list[str]) -> list[str]:
    """``texts`` without repeats, in the order found (a code seen twice is one code)."""
    return list(dict.fromkeys(texts))
