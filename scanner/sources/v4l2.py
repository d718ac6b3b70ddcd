"""``v4l2:/dev/video0`` — a USB/UVC camera, or the Pi camera through its V4L2 driver.

URL form::

    v4l2:/dev/video0?width=1280&height=720&fps=30
    v4l2:/dev/v4l/by-id/usb-046d_HD_Webcam-video-index0    (a stable name: prefer it)
    v4l2:0                                                  (an OpenCV camera index)

Options:

``width``, ``height``  frame size asked of the camera (default 1280x720); the camera
                       may give another (logged when it does)
``fps``                frame rate asked of the camera (default 30)
``fourcc``             pixel format, four letters, e.g. ``MJPG`` (many USB cameras give
                       1280x720 at 30 fps only as MJPG); default: the camera's own
``retry``              longest pause between reconnection attempts, seconds (default 5)

Frames are read by OpenCV (``cv2.VideoCapture`` with the V4L2 backend) on a capture
thread that keeps only the newest frame (scanner/sources/live.py). A camera that is
missing at start or unplugged later raises the alarm and is reopened when it returns.
OpenCV is imported when the source is opened, not to check its URL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from drivers import DriverURL, Options
from errors import DeviceUnavailable

from .live import LiveCameraSource

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("scanner.source")


def open_v4l2(device: str | int) -> Any:
    """OpenCV's capture on ``device`` through the V4L2 backend."""
    import cv2

    return cv2.VideoCapture(device, cv2.CAP_V4L2)


class V4L2Source(LiveCameraSource):
    """A V4L2 camera read by OpenCV on a capture thread."""

    def __init__(
        self,
        device: str | int = "/dev/video0",
        *,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        fourcc: str | None = None,
        retry: float = 5.0,
        retry_first: float = 0.2,
        open_capture: Callable[[str | int], Any] | None = None,
        url: str | None = None,
        on_alarm: Callable[[str | None], None] | None = None,
        start: bool = True,
    ) -> None:
        super().__init__(
            url or f"v4l2:{device}", retry=retry, retry_first=retry_first, on_alarm=on_alarm
        )
        self.device = int(device) if isinstance(device, str) and device.isdigit() else device
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self._open_capture = open_capture or open_v4l2
        import cv2  # opening needs OpenCV even with a test's capture (its constants)

        self._cv2 = cv2
        if start:
            self.start()

    @classmethod
    def settings(cls, url: DriverURL) -> dict[str, Any]:
        device = url.require_path("device", "/dev/video0")
        opts = Options(url)
        width = opts.integer("width", 1280, 16, 8192)
        height = opts.integer("height", 720, 16, 8192)
        fps = opts.number("fps", 30.0, 1, 240)
        fourcc = opts.text("fourcc")
        if fourcc is not None and (len(fourcc) != 4 or not fourcc.isprintable()):
            raise url.error(
                f"option fourcc={fourcc!r} is invalid; expected four letters such as MJPG or YUYV"
            )
        retry = opts.number("retry", 5.0, 0.1, 300)
        opts.done()
        return {
            "device": device,
            "width": width,
            "height": height,
            "fps": fps,
            "fourcc": fourcc,
            "retry": retry,
        }

    def _describe(self) -> str:
        return str(self.device)

    def _open(self) -> Any:
        cv2 = self._cv2
        cap = self._open_capture(self.device)
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            raise DeviceUnavailable(
                f"{self.device} cannot be opened: unplugged, no "
                "permission (group video), or in use by another program"
            )
        if self.fourcc:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*self.fourcc))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the driver's own queue: as short as it goes
        got = (
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
        )
        if got != (0, 0) and got != (self.width, self.height):
            log.warning(
                "%s: asked for %dx%d, the camera gives %dx%d",
                self.url,
                self.width,
                self.height,
                *got,
            )
        return cap

    def _grab(self, device: Any) -> np.ndarray | None:
        ok, image = device.read()
        return image if ok else None

    def _release(self, device: Any) -> None:
        device.release()
