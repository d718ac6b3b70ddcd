"""``zxing``: zxing-cpp (pip package ``zxing-cpp``), the default decoder.

zxing-cpp is a C++ port of ZXing with its own Python binding. It reads the numpy gray
plane in place (no copy), finds several codes per frame, and tries the inverted image
itself, which is what dark-mode wallet screens need. A frame where nothing is found is
read once more after a light blur, and a small frame once more at twice the size
(``base.looks``). It is the fastest of the three on
this project's corpus and reads the most (bench/decode.py; figures in
scanner/decoders/__init__.py and docs/scanner.md).
"""

from __future__ import annotations

import numpy as np
import zxingcpp  # missing: the registry (scanner/decoders/__init__.py) names the package

from errors import DecodeError

from .base import looks, to_gray, unique


def read_qr(gray: np.ndarray, *, return_errors: bool = False, downscale: bool = True) -> list:
    """One ``zxingcpp.read_barcodes`` call as every zxing decoder here makes it: QR only,
    no rotation (QR finds its own), downscaling and the inverted image (dark-mode
    screens) tried, and Plain text mode (the code's text exactly as encoded; HRI would
    reformat GS1 content). ``return_errors`` also gives symbols found but not read
    (passed only when asked: the plain decoder's call stays what it always was).
    ``downscale=False`` skips zxing-cpp's downscaled passes, which cannot help a code
    whose modules are already only a few pixels (the cascade's looks)."""
    extra = {"return_errors": True} if return_errors else {}
    return zxingcpp.read_barcodes(
        gray,
        formats=zxingcpp.BarcodeFormat.QRCode,
        try_rotate=False,
        try_downscale=downscale,
        try_invert=True,
        text_mode=zxingcpp.TextMode.Plain,
        **extra,
    )


class ZXingDecoder:
    """QR codes through ``zxingcpp.read_barcodes``; one instance per lane thread."""

    name = "zxing"

    def _read(self, gray: np.ndarray) -> list[str]:
        return [code.text for code in read_qr(gray) if code.valid]

    def decode(self, frame: np.ndarray) -> list[str]:
        gray = to_gray(frame)
        try:
            texts = looks(self._read, gray)
        except Exception as exc:
            raise DecodeError(
                f"zxing-cpp failed on a {gray.shape[1]}x{gray.shape[0]} frame: {exc}"
            ) from exc
        return unique(texts)
