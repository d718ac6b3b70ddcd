"""The device lifecycle every driver shares: settings from a URL, open, use, close.

Outputs, passage sensors and frame sources are all devices (gpiozero's ``Device``,
python-can's ``BusABC``). What they share lives here once:

- ``settings(url)`` reads the URL's path and options into the constructor's keyword
  arguments. It opens nothing and imports no device library, so a configuration can be
  checked on a laptop without the Pi's libraries (``gate config check``).
- ``from_url(url)`` opens: ``cls(url=..., **settings, **kwargs)``; the constructor
  imports the heavy library and takes the device.
- ``close()`` releases it and is safe twice; a device is a context manager.
- Using a device after ``close()`` raises ``DeviceClosed`` (a bug in the caller), which
  is kept apart from ``DeviceUnavailable`` (a device unplugged or failing): the lane
  retries the second and must never retry the first.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, ClassVar, Self

from errors import DeviceClosed

from .url import DriverURL


class Device:
    """Base of every opened driver. Subclasses implement ``settings`` and ``_close``."""

    #: the word used in messages: "output", "sensor", "source"
    noun: ClassVar[str] = "device"

    def __init__(self, url: str) -> None:
        self.url = url
        self._closed = False
        self._close_lock = threading.Lock()

    @classmethod
    def settings(cls, url: DriverURL) -> dict[str, Any]:
        """The constructor's keyword arguments read from ``url``; raises ``BadDriverURL``.

        Must not open anything nor import a device library: it is the whole of
        validation for ``gate config check``.
        """
        raise NotImplementedError(f"{cls.__name__} does not read URLs")

    @classmethod
    def from_url(cls, url: DriverURL, **kwargs: Any) -> Self:
        """Open the device ``url`` names (``kwargs``: test hooks such as ``open_capture``)."""
        return cls(url=url.text, **cls.settings(url), **kwargs)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release the device; safe to call twice, and from another thread."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._close()

    def _close(self) -> None:
        """Let go of the device. Called once, after ``closed`` became True."""

    def _check_open(self) -> None:
        if self._closed:
            raise DeviceClosed(f"{self.url}: {self.noun} is closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}{' closed' if self._closed else ''}>"
