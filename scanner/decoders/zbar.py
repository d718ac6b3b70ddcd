"""``zbar``: ZBar through pyzbar (pip package ``pyzbar``; Debian package ``libzbar0``).

pyzbar is a ctypes binding: the Python package installs without the C library, and the
import then fails with "Unable to find zbar shared library". That is the one error a
technician will meet on a fresh Pi, so it is turned into a message that names the
Debian package to install. ZBar needs its own copy of the pixels (``tobytes``), which is
part of why it is the slowest of the three at 1280x720. ZBar does not try light-on-dark
codes (dark-mode wallet screens) by itself; when a frame holds none, the inverted frame
is tried, as an integrator would have to; then both again after a light blur
(``base.looks``), as every decoder here does.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from errors import DecodeError, DriverUnavailable

from .base import looks, to_gray, unique

MISSING_LIBRARY = (
    "the zbar decoder needs the system library libzbar0, which is not "
    "installed: sudo apt-get install libzbar0 (Debian, Raspberry Pi OS, "
    "Ubuntu), or choose decoder zxing"
)


def load_pyzbar() -> Any:
    """Import pyzbar, translating its two failure modes into DriverUnavailable."""
    try:
        from pyzbar import pyzbar
    except ImportError as exc:
        if "zbar" in str(exc).lower() and "shared library" in str(exc).lower():
            raise DriverUnavailable(f"{MISSING_LIBRARY} ({exc})") from exc
        raise DriverUnavailable(
            f"the zbar decoder needs the Python package pyzbar "
            f"(pip install pyzbar) and the system library libzbar0: "
            f"{exc}"
        ) from exc
    except OSError as exc:  # the library exists but cannot be loaded (wrong arch, damaged)
        raise DriverUnavailable(f"{MISSING_LIBRARY} (loading it failed: {exc})") from exc
    return pyzbar


class ZBarDecoder:
    """QR codes through ``pyzbar.decode``, restricted to the QR symbology."""

    name = "zbar"

    def __init__(self) -> None:
        self._pyzbar = load_pyzbar()
        self._symbols = [self._pyzbar.ZBarSymbol.QRCODE]

    def decode(self, frame: np.ndarray) -> list[str]:
        gray = to_gray(frame)
        height, width = gray.shape
        try:
            found = looks(self._read_both, gray)
        except Exception as exc:
            raise DecodeError(f"zbar failed on a {width}x{height} frame: {exc}") from exc
        return unique(found)

    def _read_both(self, gray: np.ndarray) -> list[str]:
        return self._read(gray) or self._read(cv2.bitwise_not(gray))

    def _read(self, gray: np.ndarray) -> list[str]:
        height, width = gray.shape
        found = self._pyzbar.decode((gray.tobytes(), width, height), symbols=self._symbols)
        return [code.data.decode("utf-8", errors="replace") for code in found]
