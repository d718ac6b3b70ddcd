"""The daemon's control socket: connections, their credentials and their queues.

The wire is docs/control.md: newline-delimited JSON over a Unix socket, a ``hello`` on
connecting, requests with an ``id``, replies, and after ``watch`` a stream of events.

A slow or stalled client never delays a decision. The lane's thread only calls
:meth:`ControlServer.publish`, which encodes the event once and appends it to each
watcher's bounded queue under a lock no socket call is ever made under; a full queue
counts the event as dropped instead. One server thread (``selectors``) does all the
socket work: accepting, checking credentials, reading requests, writing queued lines
with non-blocking sends. When a stalled watcher's queue gets room again, the first
line it is given is a ``dropped`` event with the count.

Requests are not carried out here: every command reads or writes the state database,
whose connection belongs to the lane's thread. They wait in :meth:`take_requests` for
the daemon's loop, which drains them between items, and the reply comes back through
:meth:`answer` and the same queue. A client whose queue is full is not read from until
it reads, so it cannot pile up replies either.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import queue
import selectors
import socket
import stat
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from errors import ConfigError, ControlSocketInUse

from .peer_credentials import peer_of, refusal

PROTOCOL = 1
QUEUE_LIMIT = 256
MAX_LINE = 64 * 1024
SOCKET_MODE = 0o660
#: The longest path a Unix socket binds to on Linux (sun_path, 108 bytes with its NUL).
MAX_SOCKET_PATH = 107
#: The kernel buffer of each connection: small, so a stalled client holds seconds of
#: events, not thousands, and hears of the rest as ``dropped``.
SEND_BUFFER = 32 * 1024


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


@dataclass(eq=False)
class Client:
    """One connection: what it sent that is not a whole line yet, and what waits for it."""

    sock: socket.socket
    name: str
    inbox: bytearray = field(default_factory=bytearray)
    out: deque[bytes] = field(default_factory=deque)
    partial: bytes = b""  # the rest of a line the socket took only part of
    dropped: int = 0
    watching: bool = False
    closing: bool = False  # close once everything queued is written


@dataclass(frozen=True, slots=True)
class Request:
    """A well-framed request for the lane's thread: ``args`` is the whole object."""

    client: Client
    id: Any
    cmd: str
    args: dict[str, Any]


def resolve_group(group: str, warn: Callable[[str], None]) -> tuple[int, str]:
    """The control group's gid and name; a group missing on this machine is said once,
    clearly, and the daemon's own group is used instead (only root and the daemon's
    user and that group's members are then served)."""
    try:
        return grp.getgrnam(group).gr_gid, group
    except KeyError:
        gid = os.getgid()
        try:
            own = grp.getgrgid(gid).gr_name
        except KeyError:
            own = str(gid)
        warn(
            f"control group {group!r} does not exist on this machine; the control socket "
            f"uses the daemon's own group {own!r} instead (create it: groupadd --system "
            f"{group}, and add the stewards' users to it)"
        )
        return gid, own


class ControlServer:
    """The listening socket and its server thread. ``close()`` is safe twice."""

    def __init__(
        self,
        path: Path,
        *,
        device: str,
        group: str,
        warn: Callable[[str], None],
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        self.path = path
        self.device = device
        self.queue_limit = queue_limit
        self.gid, self.group = resolve_group(group, warn)
        self.daemon_uid = os.getuid()
        self._lock = threading.Lock()
        self._clients: dict[int, Client] = {}
        self._requests: queue.SimpleQueue[Request] = queue.SimpleQueue()
        self._woken = False
        self._closed = False
        self._listener = self._listen()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, "listen")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)

    # -- start and stop ------------------------------------------------------------------

    def _listen(self) -> socket.socket:
        path = self.path
        size = len(os.fsencode(path))
        if size > MAX_SOCKET_PATH:
            raise ConfigError(
                f"{path}: [control] socket path is {size} bytes; a Unix socket's path holds "
                f"at most {MAX_SOCKET_PATH}: choose a shorter one"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise ConfigError(
                    f"{path}: [control] socket names a file that is not a socket; "
                    "refusing to remove it"
                )
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(path))
            except OSError:
                path.unlink()  # stale: left by a daemon that was killed
            else:
                raise ControlSocketInUse(
                    f"{path}: another gate run already listens on this control socket"
                )
            finally:
                probe.close()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(path))
            if path.stat().st_gid != self.gid:  # as a rule it is already: the unit's group
                os.chown(path, -1, self.gid)  # (a seccomp filter may refuse chown)
            os.chmod(path, SOCKET_MODE)
            listener.listen(16)
            listener.setblocking(False)
        except BaseException:
            listener.close()
            raise
        self._inode = path.stat().st_ino
        return listener

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake()
        if self._thread.is_alive():
            self._thread.join(5)
        for client in list(self._clients.values()):
            client.sock.close()
        self._clients.clear()
        self._selector.close()
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
        try:
            if self.path.stat().st_ino == self._inode:  # still ours, not a successor's
                self.path.unlink()
        except OSError:
            pass

    def __enter__(self) -> ControlServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the lane's side calls (never blocks on a socket) ----------------------------

    @property
    def watching(self) -> bool:
        with self._lock:
            return any(c.watching for c in self._clients.values())

    def publish(self, event: dict[str, Any]) -> None:
        """Queue ``event`` for every watcher, from any thread; a full queue counts it."""
        line = b""  # encoded once, and only if some watcher has room for it
        queued = False
        with self._lock:
            for client in self._clients.values():
                if not client.watching or client.closing:
                    continue
                if client.dropped or len(client.out) >= self.queue_limit:
                    client.dropped += 1  # the dropped notice must come first, when room returns
                else:
                    line = line or encode(event)
                    client.out.append(line)
                    queued = True
        if queued:
            self._wake()

    def send(self, client: Client, obj: dict[str, Any]) -> None:
        """Queue one line for ``client`` (a reply, or the status that follows ``watch``);
        replies are not counted against the limit: the client asked for them."""
        with self._lock:
            if client.closing:
                return
            client.out.append(encode(obj))
        self._wake()

    def watch(self, client: Client) -> None:
        client.watching = True

    def take_requests(self) -> list[Request]:
        """Every request waiting for the lane's thread, oldest first."""
        taken = []
        while True:
            try:
                taken.append(self._requests.get_nowait())
            except queue.Empty:
                return taken

    def answer(
        self,
        request: Request,
        result: dict[str, Any] | None = None,
        *,
        code: str | None = None,
        error: str | None = None,
    ) -> None:
        if code is None:
            reply = {"type": "reply", "id": request.id, "ok": True, "result": result or {}}
        else:
            reply = {"type": "reply", "id": request.id, "ok": False, "code": code, "error": error}
        self.send(request.client, reply)

    # -- the server thread -----------------------------------------------------------------

    def _wake(self) -> None:
        if self._woken:
            return
        self._woken = True
        # A full pipe already holds a wake-up; a closed one means the server is closing.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _serve(self) -> None:
        while not self._closed:
            for key, mask in self._selector.select():
                what = key.data
                if what == "listen":
                    self._accept()
                elif what == "wake":
                    # Drain first, then re-arm: re-arming first let a wake-up sent in
                    # between be drained with the flag still set, and every later
                    # _wake() returned early, leaving replies unsent until some other
                    # socket stirred (seen as a 3 s stall in the console's e2e test).
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except (BlockingIOError, OSError):
                        pass
                    self._woken = False
                else:
                    client: Client = what
                    if mask & selectors.EVENT_READ:
                        self._read(client)
                    if mask & selectors.EVENT_WRITE and client.sock.fileno() in self._clients:
                        self._write(client)
            for client in list(self._clients.values()):
                self._write(client)
                self._interest(client)

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except (BlockingIOError, OSError):
            return
        try:
            peer = peer_of(sock)
        except OSError:
            sock.close()
            return
        why = refusal(peer, daemon_uid=self.daemon_uid, group_gid=self.gid, group=self.group)
        if why is not None:
            try:
                sock.settimeout(0.5)
                sock.sendall(encode({"type": "refused", "error": why}))
            except OSError:
                pass
            sock.close()
            return
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        client = Client(sock, f"pid {peer.pid} uid {peer.uid}")
        client.out.append(encode({"type": "hello", "protocol": PROTOCOL, "device": self.device}))
        with self._lock:
            self._clients[sock.fileno()] = client
        self._selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)

    def _interest(self, client: Client) -> None:
        """Write when something waits; read only while its queue has room (a client
        that does not read cannot make the daemon queue replies without end)."""
        if client.sock.fileno() not in self._clients:
            return
        pending = bool(client.out or client.partial)
        mask = selectors.EVENT_WRITE if pending else 0
        if len(client.out) < self.queue_limit and not client.closing:
            mask |= selectors.EVENT_READ
        if mask == 0:  # closing and everything written
            self._drop(client)
            return
        if self._selector.get_key(client.sock).events != mask:
            self._selector.modify(client.sock, mask, client)

    def _read(self, client: Client) -> None:
        try:
            data = client.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        client.inbox += data
        while True:
            end = client.inbox.find(b"\n")
            if end < 0:
                break
            line = bytes(client.inbox[:end])
            del client.inbox[: end + 1]
            if line.strip():
                self._request(client, line)
        if len(client.inbox) > MAX_LINE:
            self.send(client, _usage(None, f"a line longer than {MAX_LINE} bytes"))
            client.inbox.clear()
            client.closing = True

    def _request(self, client: Client, line: bytes) -> None:
        if len(line) > MAX_LINE:
            self.send(client, _usage(None, f"a line longer than {MAX_LINE} bytes"))
            return
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            self.send(client, _usage(None, "a request is one JSON object a line"))
            return
        cmd = obj.get("cmd")
        if not isinstance(cmd, str):
            self.send(client, _usage(obj.get("id"), "a request needs 'cmd', a string"))
            return
        self._requests.put(Request(client, obj.get("id"), cmd, obj))

    def _write(self, client: Client) -> None:
        if client.sock.fileno() not in self._clients:
            return
        while True:
            if not client.partial:
                with self._lock:
                    if not client.out:
                        return
                    client.partial = client.out.popleft()
                    if client.dropped and len(client.out) < self.queue_limit:
                        # Room again: say how much was lost before anything newer.
                        client.out.append(encode({"type": "dropped", "count": client.dropped}))
                        client.dropped = 0
            try:
                sent = client.sock.send(client.partial)
            except BlockingIOError:
                return
            except OSError:
                self._drop(client)
                return
            client.partial = client.partial[sent:]
            if client.partial:
                return

    def _drop(self, client: Client) -> None:
        fileno = client.sock.fileno()
        with self._lock:
            self._clients.pop(fileno, None)
            client.watching = False
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(client.sock)
        client.sock.close()


def _usage(request_id: Any, error: str) -> dict[str, Any]:
    return {"type": "reply", "id": request_id, "ok": False, "code": "usage", "error": error}


__all__ = ["PROTOCOL", "QUEUE_LIMIT", "Client", "ControlServer", "Request", "encode"]
