"""A fake lane daemon: a real Unix socket speaking docs/control.md, scripted by a test.

It sends the hello, answers ``status``, ``watch``, ``lookup``, ``open_once`` and
``mode`` as the protocol says, pushes the events a test gives it to every watching
connection, and records every request it receives. It can be stopped and started again
on the same path, as systemd restarts the real one. Run as a script it serves a lively
lane for looking at the console by hand (``python -m tests.steward.fake_daemon PATH``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

DEVICE = "north-1"
NOW = 1_790_000_000  # 2026-09-21 14:13:20 UTC: every test's wall clock

TICKET = {
    "ticket": "3861cad0-8f5e-4c4b-9a39-5c1f0e2b7d11",
    "label": "GA",
    "event": "pub-expo",
    "zones": ["north"],
    "valid_from": NOW - 10_000,
    "until": NOW + 20_000,
    "entries": 1,
    "used": 1,
    "left": 0,
    "holder": "d7e9f1dae8d2dca8",
    "transfers": [{"from": "a1b2c3d4e5f60718", "height": 12}],
    "revoked": None,
    "admissions": [{"device": "north-1", "seq": 14, "at": NOW - 600}],
}

STATUS = {
    "device": DEVICE,
    "time": NOW,
    "mode": "normal",
    "counters": {
        "admitted": 120,
        "refused": 7,
        "voided": 1,
        "refused_by_reason": {"expired_code": 4, "already_used": 3},
        "entries_per_minute": 11.4,
    },
    "health": {
        "ledger_height": 41,
        "ledger_age": 12,
        "clock_offset": -0.4,
        "clock_behind": 0,
        "time_floor": NOW - 12,
        "upload_backlog": 3,
        "hub": "reachable",
        "camera_fps": 29.8,
        "decoder": "zxing",
        "relay": "at rest",
    },
    "alarms": [],
}


def decision(reason: str = "ok", *, at: int = NOW, **extra: Any) -> dict[str, Any]:
    """A decision event as the daemon sends it."""
    event = {
        "type": "decision",
        "time": at,
        "result": "admitted" if reason == "ok" else "rejected",
        "reason": reason,
        "ticket": TICKET["ticket"],
        "label": "GA",
        "event": "pub-expo",
        "seq": 15,
        "latency_ms": 4.2,
    }
    if reason == "already_used":
        event.update(first_at=NOW - 600, first_device="south-2")
    event.update(extra)
    return event


class _Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.watching = False

    def send(self, obj: dict[str, Any]) -> None:
        data = (json.dumps(obj) + "\n").encode()
        with self.lock, contextlib.suppress(OSError):
            self.sock.sendall(data)


class FakeDaemon:
    """The socket end of the control protocol, with a scripted lane behind it."""

    def __init__(self, path: str | Path, *, device: str = DEVICE, status_every: float = 1.0):
        self.path = str(path)
        self.device = device
        self.status_every = status_every
        self.status: dict[str, Any] = copy.deepcopy(STATUS)
        self.tickets: list[dict[str, Any]] = [copy.deepcopy(TICKET)]
        self.requests: list[dict[str, Any]] = []
        self._conns: list[_Connection] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._stopped = threading.Event()

    # -- life --------------------------------------------------------------------------

    def start(self) -> FakeDaemon:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(self.path)
        server.listen()
        self._server = server
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        threading.Thread(target=self._tick, args=(self._stopped,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Go away as a killed daemon does: connections cut, the socket file gone."""
        self._stopped.set()
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
            conn.sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def __enter__(self) -> FakeDaemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what a test scripts -----------------------------------------------------------

    def push(self, event: dict[str, Any]) -> None:
        """Send ``event`` to every watching connection."""
        with self._lock:
            conns = [c for c in self._conns if c.watching]
        for conn in conns:
            conn.send(event)

    def push_status(self, **changes: Any) -> None:
        self.status.update(changes)
        self.push({"type": "status", **self.status})

    def watchers(self) -> int:
        with self._lock:
            return sum(c.watching for c in self._conns)

    def commands(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("cmd") == name]

    # -- the protocol ------------------------------------------------------------------

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                sock, _ = server.accept()
            except OSError:
                return
            conn = _Connection(sock)
            with self._lock:
                self._conns.append(conn)
            conn.send({"type": "hello", "protocol": 1, "device": self.device})
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _tick(self, stopped: threading.Event) -> None:
        while not stopped.wait(self.status_every):
            self.push({"type": "status", **self.status})

    def _serve(self, conn: _Connection) -> None:
        with contextlib.suppress(OSError), conn.sock.makefile("rb") as lines:
            for line in lines:
                try:
                    request = json.loads(line)
                except ValueError:
                    conn.send({"type": "reply", "id": None, "ok": False, "code": "usage"})
                    continue
                self.requests.append(request)
                conn.send(self._reply(conn, request))
                if request.get("cmd") == "watch":
                    conn.send({"type": "status", **self.status})
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)
        conn.sock.close()

    def _reply(self, conn: _Connection, request: dict[str, Any]) -> dict[str, Any]:
        rid, cmd = request.get("id"), request.get("cmd")

        def ok(result: dict[str, Any]) -> dict[str, Any]:
            return {"type": "reply", "id": rid, "ok": True, "result": result}

        def no(code: str, error: str) -> dict[str, Any]:
            return {"type": "reply", "id": rid, "ok": False, "code": code, "error": error}

        if cmd == "status":
            return ok(self.status)
        if cmd == "watch":
            conn.watching = True
            return ok({})
        if cmd == "lookup":
            query = str(request.get("query", "")).lower()
            found = [t for t in self.tickets if query in (t["ticket"], t["label"].lower())]
            return ok({"tickets": found})
        if cmd in ("open_once", "mode"):
            if not request.get("as") or not request.get("reason"):
                return no("refused", f"{cmd} needs a non-empty as and reason")
            if cmd == "open_once":
                return ok({"seq": 16, "ticket": request.get("ticket")})
            if request.get("mode") not in ("normal", "closed", "free"):
                return no("refused", f"unknown mode {request.get('mode')!r}")
            previous, self.status["mode"] = self.status["mode"], request["mode"]
            return ok({"mode": request["mode"], "previous": previous})
        return no("usage", f"unknown command {cmd!r}")


def _serve_forever(path: str) -> None:
    """A lane that decides every few seconds, for a look at the console by hand."""
    daemon = FakeDaemon(path).start()
    reasons = ["ok", "ok", "expired_code", "ok", "already_used", "ok", "replayed"]
    n = 0
    try:
        while True:
            time.sleep(3)
            daemon.push(decision(reasons[n % len(reasons)], at=int(time.time())))
            n += 1
    except KeyboardInterrupt:
        daemon.stop()


if __name__ == "__main__":
    _serve_forever(sys.argv[1])
