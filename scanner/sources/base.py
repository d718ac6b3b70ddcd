"""The source Protocol and what every source shares: lifecycle, alarms, retry backoff.

A source is read one item at a time: ``read(timeout)`` returns the next :class:`Frame`
(or :class:`TextLine`, for a hardware scanner), or ``None`` when nothing arrived within
``timeout`` seconds or the source has ended; ``ended`` tells the two apart. Live sources
never end; recorded ones end after their last item.

Alarms: a camera that is unplugged or a clip that is cut off must not stop the lane or
need a restart. The source keeps trying, with growing pauses, and says so: ``alarm``
holds the current problem as text (``None`` when healthy), and the ``on_alarm`` callback
is called with the text when a problem starts and with ``None`` when it is over.

Every source is a ``drivers.Device``: ``settings(url)`` checks its URL without opening
anything (or importing OpenCV), ``close()`` is safe twice, and ``read()`` on a source
already closed raises ``DeviceClosed`` (a read under way when another thread closes
the source returns ``None``, as at the end of a clip).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import ClassVar, Protocol, runtime_checkable

from drivers import Device

from ..frame import Item

log = logging.getLogger("scanner.source")

AlarmCallback = Callable[[str | None], None]


@runtime_checkable
class Source(Protocol):
    """What the lane pipeline needs from a source."""

    url: str
    yields: str  # "frames" (decode them) or "texts" (already decoded)

    @property
    def ended(self) -> bool: ...

    @property
    def alarm(self) -> str | None: ...

    def read(self, timeout: float | None = None) -> Item | None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Source: ...

    def __exit__(self, *exc: object) -> None: ...


class Backoff:
    """Pauses between reconnection attempts: ``first`` doubling up to ``limit`` seconds."""

    def __init__(self, first: float = 0.2, limit: float = 5.0) -> None:
        self.first, self.limit = first, limit
        self._next = first

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self.limit)
        return delay

    def reset(self) -> None:
        self._next = self.first


class Pacer:
    """Lets recorded or rendered frames out at ``fps`` a second, as a camera would
    (``fps`` 0: as fast as they are read)."""

    def __init__(self, fps: float) -> None:
        self.interval = 1.0 / fps if fps > 0 else 0.0
        self._due = time.monotonic()

    def wait(self, timeout: float | None) -> bool:
        """Sleep until the next frame is due; False when ``timeout`` ran out first."""
        if not self.interval:
            return True
        now = time.monotonic()
        wait = self._due - now
        if timeout is not None and wait > timeout:
            time.sleep(max(0.0, timeout))
            return False
        if wait > 0:
            time.sleep(wait)
        self._due = max(self._due + self.interval, time.monotonic())
        return True


class BaseSource(Device):
    """Alarm state and reading on top of ``Device``'s lifecycle; subclasses implement
    ``settings``, ``_read`` and ``_close``."""

    yields: ClassVar[str] = "frames"
    noun = "source"

    def __init__(self, url: str, *, on_alarm: AlarmCallback | None = None) -> None:
        super().__init__(url)
        self._on_alarm = on_alarm
        self._alarm: str | None = None
        self._alarm_lock = threading.Lock()
        self._ended = False
        self.alarms: list[tuple[float, str | None]] = []  # (monotonic time, text) history

    # -- alarms ------------------------------------------------------------------------

    @property
    def alarm(self) -> str | None:
        return self._alarm

    def _raise_alarm(self, text: str) -> None:
        with self._alarm_lock:
            if self._alarm == text:
                return
            self._alarm = text
            self.alarms.append((time.monotonic(), text))
        log.warning("%s: %s", self.url, text)
        self._notify(text)

    def _clear_alarm(self) -> None:
        with self._alarm_lock:
            if self._alarm is None:
                return
            self._alarm = None
            self.alarms.append((time.monotonic(), None))
        log.warning("%s: recovered", self.url)
        self._notify(None)

    def _notify(self, text: str | None) -> None:
        if self._on_alarm is None:
            return
        try:
            self._on_alarm(text)
        except Exception:  # a broken alarm handler must not stop the camera
            log.exception("%s: alarm callback failed", self.url)

    # -- reading -----------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        return self._ended or self._closed

    def read(self, timeout: float | None = None) -> Item | None:
        """The next item, or None (nothing within ``timeout`` s, or ``ended``);
        ``DeviceClosed`` once the source is closed."""
        self._check_open()
        if self.ended:
            return None
        return self._read(timeout)

    def _read(self, timeout: float | None) -> Item | None:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Item]:
        """Every item until the source ends (a live source: until closed)."""
        while not self.ended:
            item = self.read(timeout=0.5)
            if item is not None:
                yield item

    # -- lifecycle (the rest is Device's) ----------------------------------------------

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: nothing left to tell
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("ended" if self._ended else "open")
        return f"<{type(self).__name__} {self.url} {state}>"
