"""Outputs: the turnstile relay, the green and red lamps and the buzzer.

Every backend (gpio, serial, sim) is a small subclass of ``Output`` that only knows how
to drive its device to energised (``True``) or de-energised (``False``) — ``_drive`` —
and how to let go of it — ``_release``. Everything that keeps people safe lives here,
once, for every backend:

- ``pulse(ms)`` leaves the resting state and schedules the return on the output's own
  clock thread, so the pulse ends on time even if the lane pipeline that asked for it
  hangs, blocks on a disk, or dies with an exception. The thread is started once and
  kept (a thread per pulse would cost the lane a thread start on every admission).
  A pulse during a pulse extends it (to whichever end is later); it never shortens one.
- If the return to rest fails (a USB board unplugged mid-pulse), it is retried every
  ``RETRY_S`` until it succeeds or the output is reset or closed: a board plugged back
  in is driven to rest without anyone asking. A pulse whose start failed still gets
  its return to rest, since a device that failed may have half-obeyed.
- ``reset()`` cancels any pulse and drives to rest, always writing to the device even if
  the driver believes it is already there (after a crash of an earlier process, only the
  device knows). ``close()`` does the same, then releases the device; it is safe twice.

The resting state is configuration (``rest=off`` by default): see docs/wiring.md for
which to choose for fail-safe and fail-secure turnstiles. ``on()`` and ``off()`` are
physical: on means energised (relay coil pulled in, lamp lit, buzzer sounding),
whatever the resting state; ``pulse`` always means "leave rest for a while".
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

from drivers import Device, Options
from errors import DeviceUnavailable, InvalidArgument

log = logging.getLogger(__name__)

RETRY_S = 0.5
MAX_PULSE_MS = 60_000
DEFAULT_PULSE_MS = 800


def read_rest_and_pulse(opts: Options) -> dict[str, Any]:
    """The options every output takes, ``rest`` and ``pulse_ms``, as keyword arguments."""
    return {
        "rest": opts.choice("rest", ("off", "on"), "off") == "on",
        "pulse_ms": opts.integer("pulse_ms", DEFAULT_PULSE_MS, 1, MAX_PULSE_MS),
    }


class Output(Device, ABC):
    """One on/off output with safe pulses. Subclasses implement ``_drive``, ``_release``
    and (to be chosen by URL) ``settings``; ``Device`` gives the lifecycle."""

    noun = "output"

    def __init__(self, url: str, *, rest: bool = False, pulse_ms: int = DEFAULT_PULSE_MS) -> None:
        super().__init__(url)
        self.rest = rest
        self.pulse_ms = pulse_ms
        self.fault: DeviceUnavailable | None = None  # the last failure, cleared on success
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._state: bool | None = None  # unknown until the first successful drive
        self._clock: threading.Thread | None = None  # started on the first pulse
        self._deadline: float | None = None  # when the clock returns the output to rest
        self._deadline_generation = 0
        self._generation = 0  # bumped on every cancel: a deadline that lost the race sees it
        self._pulse_end = 0.0

    # What a backend provides.

    @abstractmethod
    def _drive(self, energised: bool) -> None:
        """Put the device in this state, or raise ``DeviceUnavailable`` naming it."""

    @abstractmethod
    def _release(self) -> None:
        """Let go of the device (close the port, free the pin). Called once."""

    # The public surface.

    @property
    def is_on(self) -> bool | None:
        """Energised as last driven; ``None`` before the first successful drive."""
        return self._state

    @property
    def pulsing(self) -> bool:
        return self._deadline is not None

    def on(self) -> None:
        """Energise and hold (cancels a pulse in progress)."""
        with self._lock:
            self._check_open()
            self._cancel()
            self._set(True)

    def off(self) -> None:
        """De-energise and hold (cancels a pulse in progress)."""
        with self._lock:
            self._check_open()
            self._cancel()
            self._set(False)

    def pulse(self, ms: int | None = None) -> None:
        """Leave the resting state for ``ms`` milliseconds (the URL's ``pulse_ms`` if None).

        Returns at once; the return to rest runs on a timer thread of its own.
        """
        ms = self.pulse_ms if ms is None else ms
        if not isinstance(ms, int) or isinstance(ms, bool) or not 0 < ms <= MAX_PULSE_MS:
            raise InvalidArgument(
                f"{self.url}: pulse length must be 1..{MAX_PULSE_MS} ms, not {ms!r}"
            )
        with self._lock:
            self._check_open()
            now = time.monotonic()
            end = now + ms / 1000
            if self._deadline is not None and self._pulse_end >= end:
                return  # already pulsing for at least that long
            self._cancel()
            self._pulse_end = end
            try:
                self._set(not self.rest)
            finally:
                # Even when the drive failed, the device may have half-obeyed (the frame
                # went out, the drain failed): return it to rest on time regardless.
                self._schedule(end - now)

    def reset(self) -> None:
        """Cancel any pulse and drive the device to its resting state, unconditionally."""
        with self._lock:
            self._check_open()
            self._cancel()
            self._set(self.rest)

    def close(self) -> None:
        """Drive to rest (best effort: a dead device is logged) and release. Safe twice.

        Overrides ``Device.close``: the pulse clock must be cancelled and the rest drive
        made under the output's own lock, so no pulse can start in between."""
        with self._lock:
            if self._closed:
                return
            self._cancel()
            self._closed = True
            self._wake.notify_all()  # the clock thread sees "closed" and ends
            try:
                self._set(self.rest)
            except DeviceUnavailable as exc:
                log.warning("%s: could not drive to rest on close: %s", self.url, exc)
            finally:
                self._release()

    def __repr__(self) -> str:
        state = {None: "unknown", True: "on", False: "off"}[self._state]
        return f"<{type(self).__name__} {self.url} {state}{' closed' if self._closed else ''}>"

    # Internals; every one is called with the lock held.

    def _set(self, energised: bool) -> None:
        try:
            self._drive(energised)
        except DeviceUnavailable as exc:
            self._state = None
            self.fault = exc
            raise
        self._state = energised
        self.fault = None

    def _cancel(self) -> None:
        self._generation += 1
        self._deadline = None
        self._pulse_end = 0.0

    def _schedule(self, delay: float) -> None:
        self._generation += 1
        self._deadline = time.monotonic() + delay
        self._deadline_generation = self._generation
        if self._clock is None:
            self._clock = threading.Thread(
                target=self._run_clock, daemon=True, name=f"pulse-clock {self.url}"
            )
            self._clock.start()
        self._wake.notify_all()

    def _run_clock(self) -> None:
        """The clock thread: sleeps until the deadline, then returns the output to rest."""
        with self._lock:
            while not self._closed:
                if self._deadline is None:
                    self._wake.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._wake.wait(remaining)
                    continue
                generation = self._deadline_generation
                self._deadline = None
                self._end_pulse(generation)

    def _end_pulse(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation or self._closed:
                return  # cancelled, extended or closed while the clock waited for the lock
            try:
                self._set(self.rest)
            except DeviceUnavailable as exc:
                log.error("%s: pulse could not end, retrying in %.1f s: %s", self.url, RETRY_S, exc)
                self._schedule(RETRY_S)
