# sim:[NAME][?rest=off|on&pulse_ms=800&log=PATH]
#
#   NAME      a label for messages and the demo ("relay", "green"); free text
#   rest      resting state: off (default) or on
#   pulse_ms  default pulse length, 1..60000 ms (default 800)
#   log       append every transition to this file as a JSON line
#             {"t": <time.monotonic()>, "state": true|false}; on open, the last line is
#             the output's state, as a real latching board keeps its state when the
#             process that drove it is killed
"""The simulated twin of every output, used by the tests and the demo.

Like gpiozero's ``MockPin``, it records each transition as ``(time, state)`` in
``states`` (``time.monotonic()``; ``True`` is energised), so a test can check when a
pulse began and ended. ``wait_for`` lets a test wait for a transition instead of
sleeping, and ``unplug()`` makes every drive fail as an unplugged board would.
``log=PATH`` makes the twin inspectable from another process (the daemon under test).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers import DriverURL, Options
from errors import DeviceUnavailable

from .output import DEFAULT_PULSE_MS, Output, read_rest_and_pulse

_listeners: dict[str, list[Callable[[], None]]] = {}
_listeners_lock = threading.Lock()


def add_opening_listener(name: str, callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever the sim output called ``name`` leaves its resting state."""
    with _listeners_lock:
        _listeners.setdefault(name, []).append(callback)


def remove_opening_listener(name: str, callback: Callable[[], None]) -> None:
    with _listeners_lock:
        callbacks = _listeners.get(name, [])
        if callback in callbacks:
            callbacks.remove(callback)
        if not callbacks:
            _listeners.pop(name, None)


def read_sim_log(path: str | Path) -> list[tuple[float, bool]]:
    """The transitions a ``sim:?log=PATH`` output wrote, oldest first."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    states = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
            states.append((float(item["t"]), bool(item["state"])))
        except (ValueError, KeyError, TypeError):
            continue  # a line torn by a kill mid-write is not a transition
    return states


class SimOutput(Output):
    """An output that only remembers what it was told."""

    def __init__(
        self,
        url: str = "sim:",
        *,
        name: str = "",
        rest: bool = False,
        pulse_ms: int = DEFAULT_PULSE_MS,
        log: str | Path | None = None,
    ) -> None:
        super().__init__(url, rest=rest, pulse_ms=pulse_ms)
        self.name = name
        self.states: list[tuple[float, bool]] = []
        self.log = Path(log) if log is not None else None
        self._changed = threading.Condition(self._lock)
        self._unplugged = False
        if self.log is not None:
            previous = read_sim_log(self.log)
            if previous:
                self.states.append((time.monotonic(), previous[-1][1]))
                self._state = previous[-1][1]
        self.reset()

    @classmethod
    def settings(cls, url: DriverURL) -> dict[str, Any]:
        opts = Options(url)
        common = read_rest_and_pulse(opts)
        log = opts.text("log")
        if log == "":
            raise url.error("option log= needs a file path")
        opts.done()
        return {"name": url.path, "log": log, **common}

    def unplug(self) -> None:
        """Make every drive fail with ``DeviceUnavailable`` until ``plug()``."""
        with self._lock:
            self._unplugged = True

    def plug(self) -> None:
        with self._lock:
            self._unplugged = False

    def _release(self) -> None:
        pass  # nothing is held; states stay readable after close

    def wait_for(self, state: bool, timeout: float) -> bool:
        """Wait until the output is in ``state``; False if ``timeout`` seconds pass first."""
        with self._changed:
            return self._changed.wait_for(lambda: self._state is state, timeout)

    def _drive(self, energised: bool) -> None:
        if self._unplugged:
            raise DeviceUnavailable(f"{self.url}: simulated device is unplugged")
        if self.states and self.states[-1][1] == energised:
            return
        now = time.monotonic()
        self.states.append((now, energised))
        if self.log is not None:
            line = json.dumps({"t": now, "state": energised}) + "\n"
            fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        # _set records the state after _drive returns; waiters check it then.
        self._state = energised
        self._changed.notify_all()
        if energised != self.rest and self.name:
            with _listeners_lock:
                callbacks = list(_listeners.get(self.name, ()))
            for callback in callbacks:
                callback()
