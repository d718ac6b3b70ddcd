"""Passage sensors: did someone actually walk through after the gate opened?

A photo-electric beam across the lane or the turnstile's rotation contact reports each
passage. The lane pipeline uses it after an admission: if no passage follows within
``passage_timeout``, the admission is voided and the ticket may be used again.

Passages are counted, so none is lost between opening the gate and starting to wait.
Take a ``mark()`` *before* pulsing the relay, then ``wait(timeout, since=mark)``: a
person quick enough to pass before ``wait`` is called still counts::

    mark = sensor.mark()
    relay.pulse()
    passed = sensor.wait(passage_timeout, since=mark)

Callbacks (``add_callback``) run on the driver's own thread (RPi.GPIO's event thread,
or the caller of ``SimSensor.trigger``) with the passage's ``time.monotonic()``; one that
raises is logged and does not stop the others or the sensor.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

from drivers import Device

log = logging.getLogger(__name__)

PassageCallback = Callable[[float], None]


class PassageSensor(Device, ABC):
    """Counts passages; ``wait`` blocks until one after a mark. ``Device`` gives the
    lifecycle (``close()`` safe twice, context manager, ``DeviceClosed`` after close)."""

    noun = "sensor"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._cond = threading.Condition()
        self._count = 0
        self._last: float | None = None
        self._callbacks: list[PassageCallback] = []

    @abstractmethod
    def _release(self) -> None:
        """Let go of the device (stop edge detection, free the pin). Called once."""

    @property
    def count(self) -> int:
        """Passages seen since the sensor was opened."""
        return self._count

    @property
    def last_passage(self) -> float | None:
        """``time.monotonic()`` of the latest passage, or None."""
        return self._last

    def mark(self) -> int:
        """The current count, to pass to ``wait(since=...)`` later."""
        return self._count

    def wait(self, timeout: float, since: int | None = None) -> bool:
        """True once a passage after ``since`` (default: now) is seen; False on timeout.

        Returns False at once if the sensor is closed while waiting; waiting on a sensor
        already closed raises ``DeviceClosed``.
        """
        self._check_open()
        with self._cond:
            start = self._count if since is None else since
            return (
                self._cond.wait_for(lambda: self._count > start or self._closed, timeout)
                and self._count > start
            )

    def add_callback(self, callback: PassageCallback) -> None:
        self._check_open()
        with self._cond:
            self._callbacks.append(callback)

    def remove_callback(self, callback: PassageCallback) -> None:
        with self._cond:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def _close(self) -> None:
        with self._cond:
            self._cond.notify_all()  # a waiter sees ``closed`` and returns False
        self._release()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url} count={self._count}>"

    def _passage(self, at: float | None = None) -> None:
        """Called by a backend for each passage."""
        at = time.monotonic() if at is None else at
        with self._cond:
            if self._closed:
                return
            self._count += 1
            self._last = at
            self._cond.notify_all()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(at)
            except Exception:
                log.exception("%s: passage callback %r failed", self.url, callback)
