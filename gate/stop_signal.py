"""SIGTERM and SIGINT as a stop request that a second signal cannot hang.

A Python signal handler runs on the main thread between two bytecodes, also between
two bytecodes of the handler itself. ``threading.Event.set()`` takes the event's lock:
a second SIGTERM that lands while the first handler is inside ``set()`` would wait for
that lock forever, and the process would never stop (systemd's ``stop`` followed by a
``kill`` does exactly that). So the handler sets the event once, and any signal after
the first only notes its name.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


class Stop:
    """Set by SIGTERM/SIGINT (after :meth:`install`); the loops check :attr:`event`."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: str | None = None
        self._handled = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signal = signal.Signals(signum).name
        if self._handled:  # set, or being set by the handler this one interrupted
            return
        self._handled = True
        self.event.set()

    def install(self) -> dict[int, object]:
        """Handle SIGTERM and SIGINT; the handlers there were before, to restore."""
        return {s: signal.signal(s, self) for s in (signal.SIGTERM, signal.SIGINT)}


__all__ = ["Stop"]
