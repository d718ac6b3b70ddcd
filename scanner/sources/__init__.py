"""Frame sources chosen by URL, one module per scheme, imported only when chosen.

``source_for_url("v4l2:/dev/video0?width=1280")`` is the whole interface (pyserial's
``serial_for_url``): the scheme picks the module (a laptop never imports picamera2, a
Pi with a USB camera never imports pyserial), the module's header documents its URL
form and options, and an unknown scheme or option is an error naming it.
"""

from __future__ import annotations

import importlib
from typing import Any

from drivers import parse_driver_url

from .base import AlarmCallback, Backoff, BaseSource, Source

#: scheme -> (module, class)
SOURCES: dict[str, tuple[str, str]] = {
    "v4l2": ("scanner.sources.v4l2", "V4L2Source"),
    "picamera2": ("scanner.sources.pi_camera", "PiCamera2Source"),
    "file": ("scanner.sources.video_file", "VideoFileSource"),
    "images": ("scanner.sources.images", "ImageFolderSource"),
    "synthetic": ("scanner.sources.synthetic", "SyntheticSource"),
    "serial": ("scanner.sources.serial_scanner", "SerialScannerSource"),
}


def source_for_url(url: str, *, on_alarm: AlarmCallback | None = None,
                   **kwargs: Any) -> BaseSource:
    """Open the source ``url`` names. ``on_alarm(text | None)`` hears of a lost or
    recovered device; other keyword arguments go to the source's class (tests pass
    ``open_capture`` or ``retry_first`` this way)."""
    parsed = parse_driver_url(url, SOURCES, kind="source")
    module_name, class_name = SOURCES[parsed.scheme]
    module = importlib.import_module(module_name)
    return getattr(module, class_name).from_url(parsed, on_alarm=on_alarm, **kwargs)


__all__ = ["SOURCES", "AlarmCallback", "Backoff", "BaseSource", "Source", "source_for_url"]
