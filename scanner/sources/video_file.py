"""``file:clip.mp4`` — replay a recorded clip through OpenCV, then end.

URL form::

    file:clip.mp4                  relative to the working directory
    file:/srv/clips/lane2.avi      absolute (file:///srv/clips/lane2.avi also works)
    file:clip.mp4?fps=30&loop=1

Options:

``fps``    pace the replay at this many frames a second (default 0: as fast as read)
``loop``   start again after the last frame (default 0: end)
``retry``  longest pause between attempts to reopen a clip that was cut off, seconds
           (default 5; the first pause is 0.2 s, doubling)

A clip that cannot be opened at the start is an error (a wrong path in the config).
A clip that stops delivering frames before the frame count its header announced has
been cut off (a USB stick pulled, a file still being copied): the source raises an
alarm, reopens the file with backoff, seeks to the first frame not yet delivered and
carries on once the file is whole again, clearing the alarm. A clip whose header gives
no frame count simply ends at its first unreadable frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers import DriverURL, Options
from errors import DeviceUnavailable

from ..frame import Frame
from .base import AlarmCallback, Backoff, BaseSource, Pacer

#: Makes a capture object with OpenCV's VideoCapture API (isOpened, read, get, set,
#: release); tests pass their own to make a clip fail and come back.
CaptureFactory = Callable[[str], Any]


class VideoFileSource(BaseSource):
    """Frames of a video file in order, recovering from a clip cut off mid-way."""

    def __init__(
        self,
        path: str | Path,
        *,
        fps: float = 0.0,
        loop: bool = False,
        retry: float = 5.0,
        retry_first: float = 0.2,
        open_capture: CaptureFactory | None = None,
        url: str | None = None,
        on_alarm: AlarmCallback | None = None,
    ) -> None:
        super().__init__(url or f"file:{path}", on_alarm=on_alarm)
        import cv2  # here, not at the top: checking a URL must not load OpenCV

        self._cv2 = cv2
        self.path = Path(path)
        self.pacer = Pacer(fps)
        self.loop = loop
        self._open_capture = open_capture or cv2.VideoCapture
        self._backoff = Backoff(retry_first, retry)
        self._retry_at = 0.0
        self._position = 0  # frames delivered from the clip (its next frame's number)
        self._index = 0  # frames delivered in all (counts on across loops)
        if not self.path.is_file():
            raise DeviceUnavailable(f"{self.url}: {self.path} does not exist or is not a file")
        self._cap: Any = self._open()
        if self._cap is None:
            raise DeviceUnavailable(f"{self.url}: OpenCV cannot open {self.path} as a video")
        count = int(self._cap.get(self._cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None

    @classmethod
    def settings(cls, url: DriverURL) -> dict[str, Any]:
        path = url.require_path("video file", "clip.mp4")
        opts = Options(url)
        fps = opts.number("fps", 0.0, 0, 1000)
        loop = opts.boolean("loop", False)
        retry = opts.number("retry", 5.0, 0.1, 300)
        opts.done()
        return {"path": path, "fps": fps, "loop": loop, "retry": retry}

    def _open(self) -> Any:
        try:
            cap = self._open_capture(str(self.path))
        except Exception:
            return None
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            return None
        return cap

    def _lost(self, why: str) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._raise_alarm(f"{why}; retrying")
        self._retry_at = time.monotonic() + self._backoff.next()

    def _read(self, timeout: float | None) -> Frame | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.ended:
            now = time.monotonic()
            if self._cap is None:
                if now < self._retry_at:
                    wake = self._retry_at if deadline is None else min(self._retry_at, deadline)
                    time.sleep(max(0.0, wake - now))
                    if deadline is not None and time.monotonic() >= deadline:
                        return None
                    continue
                self._cap = self._open()
                if self._cap is None:
                    self._lost(f"clip {self.path} cannot be opened at frame {self._position}")
                    continue
                if self._position:
                    self._cap.set(self._cv2.CAP_PROP_POS_FRAMES, self._position)
            if not self.pacer.wait(None if deadline is None else deadline - now):
                return None
            try:
                ok, image = self._cap.read()
            except Exception as exc:
                ok, image = False, None
                self._lost(f"clip {self.path} failed at frame {self._position}: {exc}")
                continue
            if ok and image is not None:
                self._backoff.reset()
                self._clear_alarm()
                frame = Frame(image=image, timestamp=time.monotonic(), index=self._index)
                self._position += 1
                self._index += 1
                return frame
            if self.frame_count is not None and self._position < self.frame_count:
                self._lost(
                    f"clip {self.path} cut off at frame {self._position} of {self.frame_count}"
                )
                continue
            if self.loop and self._position:
                self._position = 0
                self._cap.set(self._cv2.CAP_PROP_POS_FRAMES, 0)
                continue
            self._ended = True
        return None

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
