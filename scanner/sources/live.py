"""A live camera read on its own thread, keeping only the newest frame.

The decoder may take longer than a frame interval now and then; a queue of frames
would then grow and every decision would be made on an ever older picture. So the
capture thread overwrites one slot, and ``read`` returns the newest frame not yet
returned (``dropped`` counts frames nobody read, which is fine: they were stale).

When the device cannot be opened, or stops delivering, the thread releases it, raises
the alarm, and tries again after 0.2 s, 0.4 s, ... up to ``retry`` seconds, until the
device is back; then the alarm clears. Nothing outside needs restarting.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

from ..frame import Frame
from .base import AlarmCallback, Backoff, BaseSource

if TYPE_CHECKING:
    import numpy as np


class LiveCameraSource(BaseSource):
    """Subclasses implement ``_open`` (return a device, or raise with the reason),
    ``_grab`` (an image, or None when the device failed) and ``_release``."""

    def __init__(
        self,
        url: str,
        *,
        retry: float = 5.0,
        retry_first: float = 0.2,
        on_alarm: AlarmCallback | None = None,
    ) -> None:
        super().__init__(url, on_alarm=on_alarm)
        self._backoff = Backoff(retry_first, retry)
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._taken = -1
        self._stop = threading.Event()
        self.dropped = 0
        self.opened = 0  # times the device was opened (1 + recoveries)
        self._thread = threading.Thread(target=self._run, name=f"capture {url}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _open(self) -> Any:
        raise NotImplementedError

    def _grab(self, device: Any) -> np.ndarray | None:
        raise NotImplementedError

    def _release(self, device: Any) -> None:
        raise NotImplementedError

    def _describe(self) -> str:
        return self.url

    def _run(self) -> None:
        device = None
        index = 0
        try:
            while not self._stop.is_set():
                if device is None:
                    try:
                        device = self._open()
                    except Exception as exc:
                        self._raise_alarm(
                            f"camera {self._describe()} cannot be opened ({exc}); retrying"
                        )
                        self._stop.wait(self._backoff.next())
                        continue
                    self.opened += 1
                try:
                    image = self._grab(device)
                    error = "it stopped delivering frames"
                except Exception as exc:
                    image, error = None, str(exc)
                if image is None:
                    self._safe_release(device)
                    device = None
                    self._raise_alarm(f"camera {self._describe()} lost ({error}); retrying")
                    self._stop.wait(self._backoff.next())
                    continue
                self._backoff.reset()
                self._clear_alarm()
                frame = Frame(image=image, timestamp=time.monotonic(), index=index)
                index += 1
                with self._cond:
                    if self._latest is not None and self._latest.index > self._taken:
                        self.dropped += 1
                    self._latest = frame
                    self._cond.notify_all()
        finally:
            if device is not None:
                self._safe_release(device)

    def _safe_release(self, device: Any) -> None:
        with contextlib.suppress(Exception):  # the device is gone either way
            self._release(device)

    def _fresh(self) -> bool:
        return self._latest is not None and self._latest.index > self._taken

    def _read(self, timeout: float | None) -> Frame | None:
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._fresh(), timeout)
            if self._closed or not self._fresh():
                return None
            frame = self._latest
            assert frame is not None
            self._taken = frame.index
            return frame

    def _close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
