"""``picamera2:`` — the Raspberry Pi camera through libcamera's picamera2.

URL form::

    picamera2:?width=1280&height=720&fps=30
    picamera2:1                       (the second camera on a Pi 5 / CM4)

Options:

``width``, ``height``  frame size (default 1280x720)
``fps``                frame rate (default 30)
``retry``              longest pause between reconnection attempts, seconds (default 5)

picamera2 is not on PyPI in a usable form for the Pi's libcamera; on Raspberry Pi OS it
comes from apt: ``sudo apt-get install python3-picamera2`` (and the gate's virtualenv
made with ``--system-site-packages``). Elsewhere choosing this source is a
DriverUnavailable error naming the package. Frames are taken in YUV420 and only the Y
plane is kept: it is the gray image the decoders want, so no conversion is done at all.
The Pi camera also works through ``v4l2:`` on the older camera stack.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from drivers import DriverURL
from errors import BadDriverURL, DriverUnavailable

from .live import LiveCameraSource

OPTIONS = ("width", "height", "fps", "retry")

try:
    from picamera2 import Picamera2
except ImportError as exc:
    raise DriverUnavailable(
        "the picamera2: source needs the picamera2 package, which is only available on a "
        "Raspberry Pi: sudo apt-get install python3-picamera2 (Raspberry Pi OS), with the "
        f"virtualenv made with --system-site-packages; or use v4l2:/dev/video0 ({exc})"
    ) from exc


class PiCamera2Source(LiveCameraSource):
    """The Pi camera via picamera2 on a capture thread, gray frames (the Y plane)."""

    def __init__(self, camera: int = 0, *, width: int = 1280, height: int = 720,
                 fps: float = 30.0, retry: float = 5.0, retry_first: float = 0.2,
                 url: str | None = None, on_alarm: Any = None, start: bool = True) -> None:
        super().__init__(url or f"picamera2:{camera}", retry=retry, retry_first=retry_first,
                         on_alarm=on_alarm)
        self.camera, self.width, self.height, self.fps = camera, width, height, fps
        if start:
            self.start()

    @classmethod
    def from_url(cls, url: DriverURL, **kwargs: Any) -> PiCamera2Source:
        url.check_options(OPTIONS)
        camera = 0
        if url.path:
            if not url.path.isdigit():
                raise BadDriverURL(f"{url.text!r}: the path is a camera number (0, 1)")
            camera = int(url.path)
        return cls(camera, width=url.get_int("width", 1280, low=16, high=8192),
                   height=url.get_int("height", 720, low=16, high=8192),
                   fps=url.get_float("fps", 30.0, low=1, high=240),
                   retry=url.get_float("retry", 5.0, low=0.1, high=300), url=url.text,
                   **kwargs)

    def _describe(self) -> str:
        return f"picamera2 #{self.camera}"

    def _open(self) -> Any:
        cam = Picamera2(self.camera)
        try:
            config = cam.create_video_configuration(
                main={"size": (self.width, self.height), "format": "YUV420"},
                controls={"FrameRate": self.fps}, buffer_count=2)
            cam.configure(config)
            cam.start()
        except Exception:
            cam.close()
            raise
        return cam

    def _grab(self, device: Any) -> np.ndarray | None:
        yuv = device.capture_array("main")
        if yuv is None:
            return None
        return yuv[:self.height, :self.width]

    def _release(self, device: Any) -> None:
        try:
            device.stop()
        finally:
            device.close()
