"""A minimal client of docs/control.md with the API of ``gate.control_client.ControlClient``.

Stands in for the real client until both branches meet; then the tests use the real one
and this file goes. It keeps to the agreed API: the constructor connects and reads the
hello, ``request`` returns the result or raises ``errors.Refused`` (code ``refused``) or
``errors.InvalidArgument`` (code ``usage``), ``events`` yields until the connection closes
or ``timeout`` passes without an event. A daemon that is not there is an ``OSError``
(the real client raises ``errors.DaemonNotRunning``; the console catches both).
"""

from __future__ import annotations

import json
import socket
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from errors import InvalidArgument, Refused


class FakeClient:
    def __init__(self, path: str | Path, *, timeout: float = 5.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._timeout = timeout
        self._buffer = b""
        self._pending: deque[dict[str, Any]] = deque()
        self._next_id = 0
        try:
            self._sock.connect(str(path))
            hello = self._line()
        except OSError:
            self._sock.close()
            raise
        if hello is None or hello.get("type") != "hello":
            self._sock.close()
            raise Refused(str((hello or {}).get("error", "no hello from the daemon")))
        self.device = str(hello.get("device"))

    def _line(self) -> dict[str, Any] | None:
        """The next object, or None at the end of the connection."""
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        self._next_id += 1
        rid = self._next_id
        self._sock.settimeout(self._timeout)
        self._sock.sendall((json.dumps({"id": rid, "cmd": cmd, **args}) + "\n").encode())
        while True:
            obj = self._line()
            if obj is None:
                raise ConnectionResetError("the daemon closed the connection")
            if obj.get("type") != "reply":
                self._pending.append(obj)
                continue
            if obj.get("id") != rid:
                continue
            if obj.get("ok"):
                return dict(obj.get("result") or {})
            if obj.get("code") == "refused":
                raise Refused(str(obj.get("error")))
            raise InvalidArgument(str(obj.get("error")))

    def watch(self) -> None:
        self.request("watch")

    def events(self, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        while self._pending:
            yield self._pending.popleft()
        self._sock.settimeout(timeout)
        while True:
            try:
                obj = self._line()
            except TimeoutError:
                return
            if obj is None:
                return
            yield obj

    def close(self) -> None:
        self._sock.close()
