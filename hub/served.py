"""``gate hub serve`` in a child process on loopback, as systemd runs it.

The demo (gate/demo/hub_part.py), the fault and kill tests and bench/sync.py all need a
real hub server they can stop, kill and start again over the same directory; this is
the one way they start it. Standard library only: the child process imports the
server, this one does not.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from errors import SyncError


def free_port() -> int:
    """A TCP port free on loopback right now (the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedHub:
    """``gate hub serve`` over ``hub_dir`` on ``port``, its output appended to ``log``.

    Returns once ``/v1/status`` answers; :class:`~errors.SyncError` (naming the log) when the
    server exits or does not answer within ``start_timeout`` seconds. ``stop()`` is safe
    twice."""

    def __init__(
        self,
        hub_dir: Path,
        port: int,
        log: Path,
        *,
        heartbeat: float = 1.0,
        start_timeout: float = 30.0,
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gate",
                "hub",
                "--dir",
                str(hub_dir),
                "serve",
                "--port",
                str(port),
                "--heartbeat",
                str(heartbeat),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/v1/status", timeout=2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise SyncError(f"gate hub serve did not start; see {log}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


__all__ = ["ServedHub", "free_port"]
