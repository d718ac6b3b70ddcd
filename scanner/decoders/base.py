"""What every decoder shares: checking a frame and making it gray exactly once.

Every decoder works on one 8-bit gray plane. A BGR frame is converted here, once, with
OpenCV (the cheapest conversion available, a few hundred microseconds at 1280x720); a
gray frame that is already C-contiguous is passed through without a copy, because on
a Pi every megabyte copied per frame is time taken from the decision.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from errors import InvalidArgument


def to_gray(frame: np.ndarray) -> np.ndarray:
    """A C-contiguous ``uint8`` HxW view or conversion of ``frame`` (gray, BGR or BGRA)."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise InvalidArgument(
            f"a frame is a numpy uint8 array, got "
            f"{type(frame).__name__} {getattr(frame, 'dtype', '')}".rstrip()
        )
    if frame.ndim == 2:
        gray = frame
    elif frame.ndim == 3 and frame.shape[2] == 3:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    elif frame.ndim == 3 and frame.shape[2] == 4:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    elif frame.ndim == 3 and frame.shape[2] == 1:
        gray = frame[:, :, 0]
    else:
        raise InvalidArgument(f"a frame is HxW gray or HxWx3 BGR, got shape {frame.shape}")
    if gray.shape[0] == 0 or gray.shape[1] == 0:
        raise InvalidArgument(f"an empty frame (shape {frame.shape})")
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


#: Frames at most this wide get a third look at twice the size when the first two found
#: nothing: on a 640x480 camera a code held far away has modules of 3-4 pixels, too few
#: for the binarizers, and a cubic upscale recovered 11 of the 21 frames (of 800) that
#: zxing's first two looks missed, at about 7 ms each. Wider frames skip it: a code
#: that small there is better read from the next frame than with a 4x larger decode.
THIRD_LOOK_MAX_WIDTH = 960


def looks(read: Callable[[np.ndarray], list[str]], gray: np.ndarray) -> list[str]:
    """``read`` the frame as it is, then lightly blurred, then (small frames) upscaled;
    stop at the first look that finds anything. Only hard frames pay for more looks."""
    texts = read(gray) or read(second_look(gray))
    if texts or gray.shape[1] > THIRD_LOOK_MAX_WIDTH:
        return texts
    return read(cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))


def unique(texts: list[str]) -> list[str]:
    """``texts`` without repeats, in the order found (a code seen twice is one code)."""
    return list(dict.fromkeys(texts))
