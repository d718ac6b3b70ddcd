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


class ZXingDecoder:
    """QR codes through ``zxingcpp.read_barcodes``; one instance per lane thread."""

    name = "zxing"

    def __init__(self) -> None:
        self._formats = zxingcpp.BarcodeFormat.QRCode
        # Plain: the code's text exactly as encoded (HRI would reformat GS1 content).
        self._text_mode = zxingcpp.TextMode.Plain

    def _read(self, gray: np.ndarray) -> list[str]:
        found = zxingcpp.read_barcodes(
            gray,
            formats=self._formats,
            try_rotate=False,
            try_downscale=True,
            try_invert=True,
            text_mode=self._text_mode,
        )
        return [code.text for code in found if code.valid]

    def decode(self, frame: np.ndarray) -> list[str]:
        gray = to_gray(frame)
        try:
            texts = looks(self._read, gray)
        except Exception as exc:
            raise DecodeError(
                f"zxing-cpp failed on a {gray.shape[1]}x{gray.shape[0]} frame: {exc}"
            ) from exc
        return unique(texts)
