"""A client of the lane daemon's control socket (docs/control.md), for ``gate ctl``, the
steward console and any local script.

Standard library only, and nothing of the lane: a steward's terminal imports this and
none of the camera stack, the state or the drivers. One connection, used from one
thread: :meth:`ControlClient.request` sends a request and reads lines until its reply,
keeping any event that arrives meanwhile for :meth:`ControlClient.events`, so a console
can watch and command over the same connection.
"""

from __future__ import annotations

import json
import socket
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from errors import DaemonNotRunning, InvalidArgument, Refused

#: A line longer than this is not the daemon's (docs/control.md: at most 64 KiB).
MAX_LINE = 64 * 1024
#: What :meth:`ControlClient._line` returns when nothing came in time.
_TIMEOUT: dict[str, Any] = {}


class ControlClient:
    """A connection to ``gate run``'s control socket. ``close()`` is safe twice.

    Connecting reads the daemon's ``hello`` (``device`` is the lane's device id); a
    refused connection raises :class:`errors.Refused`, and no daemon listening (no
    socket file, connection refused, the connection closed) raises
    :class:`errors.DaemonNotRunning` naming the socket path.
    """

    def __init__(self, path: str | Path, *, timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.device = ""
        self._buffer = bytearray()
        self._events: deque[dict[str, Any]] = deque()
        self._next_id = 1
        self._eof = False
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(timeout)
            try:
                self._sock.connect(str(self.path))
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                raise DaemonNotRunning(
                    f"{self.path}: the lane daemon is not running (no one listens on its "
                    f"control socket: {exc.strerror})"
                ) from None
            except PermissionError:
                raise Refused(
                    f"{self.path}: permission denied; the control socket serves root, the "
                    "daemon's user and members of its [control] group"
                ) from None
            hello = self._line(timeout)
            if hello is _TIMEOUT:
                raise DaemonNotRunning(f"{self.path}: no hello within {timeout:g} s")
            if hello is None:
                raise DaemonNotRunning(f"{self.path}: the daemon closed the connection")
            if hello.get("type") == "refused":
                raise Refused(f"{self.path}: {hello.get('error', 'refused')}")
            if hello.get("type") != "hello":
                raise DaemonNotRunning(f"{self.path}: not a lane daemon's control socket")
            self.device = str(hello.get("device", ""))
        except BaseException:
            self._sock.close()
            raise

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests and events -----------------------------------------------------------------

    def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send ``cmd`` with ``args`` and return its result. ``refused`` raises
        :class:`errors.Refused`, ``usage`` :class:`errors.InvalidArgument`, a daemon that
        went away :class:`errors.DaemonNotRunning`. (``as`` is a Python keyword: pass it
        as ``**{"as": name}``.)"""
        rid = self._next_id
        self._next_id += 1
        self._send({"id": rid, "cmd": cmd, **args})
        deadline = time.monotonic() + self.timeout
        while True:
            line = self._line(deadline - time.monotonic())
            if line is _TIMEOUT:
                raise DaemonNotRunning(
                    f"{self.path}: the daemon did not answer {cmd!r} within {self.timeout:g} s"
                )
            if line is None:
                raise DaemonNotRunning(f"{self.path}: the daemon closed the connection")
            if line.get("type") != "reply":
                self._events.append(line)
                continue
            if line.get("id") not in (rid, None):
                continue  # an answer to someone else's question: not ours
            if line.get("ok"):
                result = line.get("result")
                return result if isinstance(result, dict) else {}
            error = str(line.get("error", "refused"))
            if line.get("code") == "usage":
                raise InvalidArgument(error)
            raise Refused(error)

    def watch(self) -> None:
        """Ask for the event stream; the first event is a ``status``."""
        self.request("watch")

    def events(self, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Events as they come (buffered ones first); ends when the connection closes,
        or after ``timeout`` seconds with no event (None: wait for ever)."""
        while True:
            while self._events:
                yield self._events.popleft()
            if self._eof:
                return
            line = self._line(timeout)
            if line is None or line is _TIMEOUT:
                return
            if line.get("type") != "reply":
                yield line

    # -- the wire ----------------------------------------------------------------------------

    def _send(self, obj: dict[str, Any]) -> None:
        data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        try:
            self._sock.settimeout(self.timeout)
            self._sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            raise DaemonNotRunning(f"{self.path}: the daemon closed the connection") from None

    def _line(self, timeout: float | None) -> dict[str, Any] | None:
        """The next JSON object line, None at the end of the connection, ``_TIMEOUT``
        when none comes within ``timeout`` seconds (None: wait for ever)."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                raw = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue  # not ours to understand; unknown lines are ignored
                if isinstance(obj, dict):
                    return obj
                continue
            if self._eof:
                return None
            if len(self._buffer) > MAX_LINE:
                raise DaemonNotRunning(f"{self.path}: a line over {MAX_LINE} bytes")
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return _TIMEOUT
                self._sock.settimeout(left)
            else:
                self._sock.settimeout(None)
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                return _TIMEOUT
            except OSError:  # reset by the daemon: the end of the connection
                data = b""
            if not data:
                self._eof = True
            self._buffer += data


__all__ = ["ControlClient"]
