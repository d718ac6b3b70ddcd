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

from typing import TYPE_CHECKING, Any

from drivers import DriverURL, Options
from errors import DriverUnavailable

from .live import LiveCameraSource

if TYPE_CHECKING:
    import numpy as np


def import_picamera2() -> Any:
    """picamera2's camera class, imported when the source opens (not to check a URL)."""
    try:
        from picamera2 import Picamera2
    except ImportError as exc:
        raise DriverUnavailable(
            "the picamera2: source needs the picamera2 package, which is only available on "
            "a Raspberry Pi: sudo apt-get install python3-picamera2 (Raspberry Pi OS), with "
            "the virtualenv made with --system-site-packages; or use v4l2:/dev/video0 "
            f"({exc})"
        ) from exc
    return Picamera2


class PiCamera2Source(LiveCameraSource):
    """The Pi camera via picamera2 on a capture thread, gray frames (the Y plane)."""

    def __init__(
        self,
        camera: int = 0,
        *,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        retry: float = 5.0,
        retry_first: float = 0.2,
        url: str | None = None,
        on_alarm: Any = None,
        start: bool = True,
    ) -> None:
        super().__init__(
            url or f"picamera2:{camera}", retry=retry, retry_first=retry_first, on_alarm=on_alarm
        )
        self.camera, self.width, self.height, self.fps = camera, width, height, fps
        self._picamera2 = import_picamera2()
        if start:
            self.start()

    @classmethod
    def settings(cls, url: DriverURL) -> dict[str, Any]:
        camera = 0
        if url.path:
            if not url.path.isdigit():
                raise url.error("the path is a camera number (0, 1)")
            camera = int(url.path)
        opts = Options(url)
        width = opts.integer("width", 1280, 16, 8192)
        height = opts.integer("height", 720, 16, 8192)
        fps = opts.number("fps", 30.0, 1, 240)
        retry = opts.number("retry", 5.0, 0.1, 300)
        opts.done()
        return {"camera": camera, "width": width, "height": height, "fps": fps, "retry": retry}

    def _describe(self) -> str:
        return f"picamera2 #{self.camera}"

    def _open(self) -> Any:
        cam = self._picamera2(self.camera)
        try:
            config = cam.create_video_configuration(
                main={"size": (self.width, self.height), "format": "YUV420"},
                controls={"FrameRate": self.fps},
                buffer_count=2,
            )
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
        return yuv[: self.height, : self.width]

    def _release(self, device: Any) -> None:
        try:
            device.stop()
        finally:
            device.close()
