"""sd_notify over a real datagram socket, as systemd would receive it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from gate.systemd import Notifier


def test_messages_reach_the_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(2)
    n = Notifier(
        {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}
    )
    assert n.enabled and n.watchdog_interval == 2.0
    n.ready("lane north-1 ready")
    n.watchdog()
    n.stopping()
    got = [server.recv(256).decode() for _ in range(3)]
    assert got == ["READY=1\nSTATUS=lane north-1 ready", "WATCHDOG=1", "STOPPING=1"]
    n.close()
    server.close()


def test_outside_systemd_it_is_a_no_op() -> None:
    n = Notifier({})
    assert not n.enabled and n.watchdog_interval is None
    n.ready()
    n.watchdog()
    n.close()


def test_watchdog_meant_for_another_process_is_ignored() -> None:
    n = Notifier({"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"})
    assert n.watchdog_interval is None
    n.ready()  # the socket is missing: no exception, the lane keeps going
