# sim:[NAME][?follow=OUTPUT&delay_ms=300&hold=PATH]
#
#   NAME      a label for messages; free text
#   follow    the NAME of a sim: output in the same process (sim:relay). Each time that
#             output leaves its resting state (a pulse opens the gate), a passage is
#             reported delay_ms later: an attendee who always walks through. Without
#             follow, passages happen only when trigger() is called
#   delay_ms  0..60000 (default 300)
#   hold      with follow: while the file PATH exists, an opening brings no passage
#             (the attendee admitted stands still; the venue demo's "never walks
#             through", which the lane voids)
"""The simulated passage sensor, for tests and the demo.

``trigger()`` reports a passage, as a body breaking the beam would. With ``follow=``
the demo and the end-to-end tests (which run the daemon in another process, where
nobody can call ``trigger``) get a passage after every opening without any wiring.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from drivers import DriverURL, Options

from .sensor import PassageSensor
from .sim_output import add_opening_listener, remove_opening_listener


class SimSensor(PassageSensor):
    """A sensor that reports a passage when told to (or when its sim relay opens)."""

    def __init__(
        self,
        url: str = "sim:",
        *,
        name: str = "",
        follow: str | None = None,
        delay_ms: int = 300,
        hold: str | None = None,
    ) -> None:
        super().__init__(url)
        self.name = name
        self.follow = follow
        self.delay_ms = delay_ms
        self.hold = hold
        self.passages: list[float] = []  # time.monotonic() of each passage
        self._timers: set[threading.Timer] = set()
        if follow is not None:
            add_opening_listener(follow, self._on_opening)

    @classmethod
    def settings(cls, url: DriverURL) -> dict[str, Any]:
        opts = Options(url)
        follow = opts.text("follow")
        if follow == "":
            raise url.error("option follow= needs the NAME of a sim: output")
        delay_ms = opts.integer("delay_ms", 300, 0, 60_000)
        hold = opts.text("hold")
        opts.done()
        if hold is not None and (not hold or follow is None):
            raise url.error("option hold= needs a file PATH, and follow= beside it")
        return {"name": url.path, "follow": follow, "delay_ms": delay_ms, "hold": hold}

    def trigger(self, at: float | None = None) -> None:
        """Report one passage now (or at the given ``time.monotonic()``)."""
        self._passage(at)

    def _passage(self, at: float | None = None) -> None:
        at = time.monotonic() if at is None else at
        with self._cond:
            if self.closed:
                return
            self.passages.append(at)
        super()._passage(at)

    def _on_opening(self) -> None:
        if self.hold is not None and os.path.exists(self.hold):
            return  # the one admitted does not walk through
        with self._cond:
            if self.closed:
                return
            timer = threading.Timer(self.delay_ms / 1000, self._timed_passage)
            timer.args = (timer,)
            timer.daemon = True
            self._timers.add(timer)
        timer.start()

    def _timed_passage(self, timer: threading.Timer) -> None:
        with self._cond:
            self._timers.discard(timer)
        self.trigger()

    def _release(self) -> None:
        if self.follow is not None:
            remove_opening_listener(self.follow, self._on_opening)
        with self._cond:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
