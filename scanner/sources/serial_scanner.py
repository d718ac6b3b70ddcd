"""``serial:/dev/ttyACM0`` — a hardware barcode scanner that sends the decoded text.

URL form::

    serial:/dev/ttyACM0?baud=9600
    serial:/dev/serial/by-id/usb-Honeywell_...-if00     (a stable name: prefer it)
    serial:loop://                                       (pyserial's loopback, for tests)

Options:

``baud``     line speed (default 9600; USB CDC scanners ignore it)
``maxline``  longest line kept, bytes (default 1024); the rest of a longer line is
             dropped, and what was kept is delivered (and will be refused as malformed)
``retry``    longest pause between attempts to reopen a lost port, seconds (default 5)

Scanners in USB-serial (CDC ACM) mode send each code as a line ended by CR, LF or
CR LF; empty lines are ignored. Configure the scanner to send no prefix or suffix
(no AIM identifier, no STX/ETX). Lines are delivered as :class:`TextLine` items, the
text as UTF-8 with undecodable bytes replaced, so a garbled line is refused by the
decision (``malformed`` or ``not_a_ticket``) instead of stopping the lane. A port that
cannot be opened or disappears (scanner unplugged) raises the alarm and is reopened.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any

from drivers import DriverURL, Options

from ..frame import TextLine
from .base import AlarmCallback, Backoff, BaseSource

_EOL = re.compile(rb"[\r\n]")


class SerialScannerSource(BaseSource):
    """Text lines from a serial barcode scanner."""

    yields = "texts"

    def __init__(
        self,
        port: str,
        *,
        baud: int = 9600,
        maxline: int = 1024,
        retry: float = 5.0,
        retry_first: float = 0.2,
        url: str | None = None,
        on_alarm: AlarmCallback | None = None,
    ) -> None:
        super().__init__(url or f"serial:{port}", on_alarm=on_alarm)
        import serial  # here, not at the top: checking a URL must not need pyserial

        self._serial_mod = serial
        self.port, self.baud, self.maxline = port, baud, maxline
        self._backoff = Backoff(retry_first, retry)
        self._retry_at = 0.0
        self._serial: Any = None
        self._buffer = bytearray()
        self._discarding = False  # inside the dropped tail of an overlong line
        self._index = 0
        self._try_open()

    @classmethod
    def settings(cls, url: DriverURL) -> dict[str, Any]:
        port = url.require_path("serial port", "/dev/ttyACM0")
        opts = Options(url)
        baud = opts.integer("baud", 9600, 50, 4_000_000)
        maxline = opts.integer("maxline", 1024, 16, 1 << 20)
        retry = opts.number("retry", 5.0, 0.1, 300)
        opts.done()
        return {"port": port, "baud": baud, "maxline": maxline, "retry": retry}

    def _try_open(self) -> None:
        serial = self._serial_mod
        try:
            self._serial = serial.serial_for_url(
                self.port,
                baudrate=self.baud,
                timeout=0,
                exclusive=True if self.port.startswith("/") else None,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            self._serial = None
            self._raise_alarm(f"scanner port {self.port} cannot be opened ({exc}); retrying")
            self._retry_at = time.monotonic() + self._backoff.next()
            return
        self._backoff.reset()
        self._clear_alarm()

    def _lost(self, exc: Exception) -> None:
        with contextlib.suppress(Exception):  # the port is gone either way
            self._serial.close()
        self._serial = None
        self._buffer.clear()  # a partial line from before the loss is not a scan
        self._discarding = False
        self._raise_alarm(f"scanner port {self.port} lost ({exc}); retrying")
        self._retry_at = time.monotonic() + self._backoff.next()

    def _pop_line(self) -> TextLine | None:
        while True:
            match = _EOL.search(self._buffer)
            if match is None:
                if len(self._buffer) > self.maxline and not self._discarding:
                    raw = bytes(self._buffer[: self.maxline])
                    self._buffer.clear()
                    self._discarding = True
                    return self._line(raw)
                if self._discarding:
                    self._buffer.clear()
                return None
            raw = bytes(self._buffer[: match.start()])
            del self._buffer[: match.end()]
            if self._discarding:
                self._discarding = False
                continue
            if raw:
                return self._line(raw[: self.maxline])

    def _line(self, raw: bytes) -> TextLine:
        line = TextLine(
            text=raw.decode("utf-8", errors="replace"),
            raw=raw,
            timestamp=time.monotonic(),
            index=self._index,
        )
        self._index += 1
        return line

    def _read(self, timeout: float | None) -> TextLine | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.ended:
            line = self._pop_line()
            if line is not None:
                return line
            now = time.monotonic()
            left = None if deadline is None else deadline - now
            if left is not None and left <= 0:
                return None
            if self._serial is None:
                wait = self._retry_at - now
                if wait > 0:
                    time.sleep(wait if left is None else min(wait, left))
                    continue
                self._try_open()
                continue
            try:
                self._serial.timeout = 0.5 if left is None else min(left, 0.5)
                data = self._serial.read(1)
                if data:
                    waiting = self._serial.in_waiting
                    if waiting:
                        data += self._serial.read(waiting)
                    self._buffer += data
            except (self._serial_mod.SerialException, OSError) as exc:
                self._lost(exc)
        return None

    def _close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None
