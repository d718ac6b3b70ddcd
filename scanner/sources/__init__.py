"""Frame sources chosen by URL, one module per scheme, imported only when chosen.

``source_for_url("v4l2:/dev/video0?width=1280")`` is the whole interface (pyserial's
``serial_for_url``): the scheme picks the module (a laptop never imports picamera2, a
Pi with a USB camera never imports pyserial), the module's header documents its URL
form and options, and an unknown scheme or option is an error naming it.
``check_source_url`` validates a URL the same way without opening anything or loading
OpenCV (``gate config check``).
"""

from __future__ import annotations

from typing import Any

from drivers import Backend, DriverURL, Registry

from .base import AlarmCallback, Backoff, BaseSource, Source

_OPENCV = "the Python packages opencv-python-headless and numpy (pip install 'gatehouse[scanner]')"

SOURCES = Registry(
    "source",
    {
        "v4l2": Backend("scanner.sources.v4l2", "V4L2Source", _OPENCV),
        "picamera2": Backend(
            "scanner.sources.pi_camera",
            "PiCamera2Source",
            "picamera2 (sudo apt-get install python3-picamera2)",
        ),
        "file": Backend("scanner.sources.video_file", "VideoFileSource", _OPENCV),
        "images": Backend("scanner.sources.images", "ImageFolderSource", _OPENCV),
        "synthetic": Backend(
            "scanner.sources.synthetic",
            "SyntheticSource",
            "the Python packages opencv-python-headless, numpy and segno "
            "(pip install 'gatehouse[scanner]')",
        ),
        "serial": Backend(
            "scanner.sources.serial_scanner",
            "SerialScannerSource",
            "the Python package pyserial (pip install pyserial)",
        ),
    },
)


def check_source_url(url: str) -> DriverURL:
    """``url`` parsed and validated as a frame source, opening nothing.

    Raises ``UnknownScheme`` (listing the known schemes) or ``BadDriverURL`` (naming the
    bad part and what is allowed).
    """
    return SOURCES.check(url)


def source_for_url(url: str, *, on_alarm: AlarmCallback | None = None, **kwargs: Any) -> BaseSource:
    """Open the source ``url`` names. ``on_alarm(text | None)`` hears of a lost or
    recovered device; other keyword arguments go to the source's class (tests pass
    ``open_capture`` or ``retry_first`` this way)."""
    source: BaseSource = SOURCES.open(url, on_alarm=on_alarm, **kwargs)
    return source


__all__ = [
    "SOURCES",
    "AlarmCallback",
    "Backoff",
    "BaseSource",
    "Source",
    "check_source_url",
    "source_for_url",
]
