"""systemd notifications (sd_notify): READY, WATCHDOG, STOPPING and STATUS.

Implemented on the datagram socket systemd names in ``$NOTIFY_SOCKET``, so no extra
package is needed on the Pi. Outside systemd (tests, a technician's shell) the variable
is unset and every call is a cheap no-op. ``watchdog_interval`` is half of
``$WATCHDOG_USEC``, as systemd recommends, so a hung lane is restarted (and its relay
reset at the next start) rather than left half-working.
"""

from __future__ import annotations

import contextlib
import os
import socket


class Notifier:
    """Sends sd_notify messages when running under systemd; otherwise does nothing."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # an abstract socket
            address = "\0" + address[1:]
        self._address = address or None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_interval = (int(usec) / 2e6) if usec.isdigit() and mine else None
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, message: str) -> None:
        if self._address is None:
            return
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        with contextlib.suppress(OSError):  # systemd gone (shutdown): the lane keeps going
            self._sock.sendto(message.encode(), self._address)

    def ready(self, status: str = "") -> None:
        self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def status(self, status: str) -> None:
        self.notify(f"STATUS={status}")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
