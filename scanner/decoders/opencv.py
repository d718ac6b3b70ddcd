"""``opencv``: OpenCV's own QR detector (pip package ``opencv-python-headless``).

Needs nothing beyond OpenCV, which the camera sources use anyway, so it is the decoder
of last resort on a unit where neither zxing-cpp nor libzbar0 can be installed. Its
multi-code call reports codes it located but could not read as empty strings; those
are dropped (finding no readable code is not an error). Dark-mode screens are light
modules on dark ground, which this detector does not try by itself: when nothing is
found, the inverted frame is tried; then both again after a light blur
(``base.looks``), as every decoder here does.
"""

from __future__ import annotations

import cv2  # missing: the registry (scanner/decoders/__init__.py) names the package
import numpy as np

from errors import DecodeError

from .base import looks, to_gray, unique


class OpenCVDecoder:
    """QR codes through ``cv2.QRCodeDetector``; the detector is not thread-safe, so
    each lane thread makes its own decoder."""

    name = "opencv"

    def __init__(self) -> None:
        self._detector = cv2.QRCodeDetector()

    def _read(self, gray: np.ndarray) -> list[str]:
        ok, texts, _points, _straight = self._detector.detectAndDecodeMulti(gray)
        return [t for t in texts if t] if ok else []

    def _read_both(self, gray: np.ndarray) -> list[str]:
        return self._read(gray) or self._read(cv2.bitwise_not(gray))

    def decode(self, frame: np.ndarray) -> list[str]:
        gray = to_gray(frame)
        try:
            texts = looks(self._read_both, gray)
        except cv2.error as exc:
            raise DecodeError(
                f"OpenCV's QR detector failed on a {gray.shape[1]}x{gray.shape[0]} frame: {exc}"
            ) from exc
        return unique(texts)
