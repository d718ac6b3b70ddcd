"""A hub that never stops talking, talks too slowly, stalls or breaks off changes nothing.

The acceptance item: a hub serving a tampered block, a foreign key, garbage, an older
chain or an endless body: the gate applies nothing of it, keeps admitting on what it has,
and reports an alarm. test_sync_e2e covers the blocks that lie; here the body itself is
the attack. The gate CLI runs with the default caps (512 MiB, 10 minutes), too big for a
test, so these run :class:`HubClient` in-process with small caps over the gate's real
state directory, on real sockets.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from errors import SyncError
from gate.config import load_config
from gate.sync_worker import SyncWorker
from sync.client import HubClient
from verifier import Checkpoint

from ..clikit import gate
from ..hubkit import make_gate
from ..ledgerkit import NOW, LedgerKit, code, issue, show

MAX_BYTES = 256 * 1024
DEADLINE = 1.0
TIMEOUT = 0.5
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n"

Behaviour = Callable[[socket.socket], None]


class RawHub:
    """A TCP server on loopback that reads a request and then does ``behaviour``."""

    def __init__(self) -> None:
        self.behaviour: Behaviour = lambda conn: None
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(1 << 16)  # the gate's GET: one small packet
                self.behaviour(conn)
            except OSError:
                pass  # the gate hung up: what it should do

    def send_until_stopped(self, conn: socket.socket, chunk: bytes, pause: float = 0) -> None:
        conn.sendall(HEAD)
        while not self._stop.is_set():
            conn.sendall(chunk)
            if pause:
                self._stop.wait(pause)  # the lie is slowness itself

    def drip_headers(self, conn: socket.socket, pause: float) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while not self._stop.wait(pause):
            conn.sendall(b"a")

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


@pytest.fixture
def raw_hub() -> Iterator[RawHub]:
    hub = RawHub()
    yield hub
    hub.close()


def _ledger() -> LedgerKit:
    real = LedgerKit()
    real.append([show()])
    real.append([issue("solo")])
    real.append([issue("late")])
    return real


CASES: dict[str, tuple[Callable[[RawHub, bytes], Behaviour], float]] = {
    # An old block, over and over, as fast as the socket takes it: cut at max_bytes.
    "endless old blocks": (
        lambda hub, old: lambda c: hub.send_until_stopped(c, old * 64),
        DEADLINE,
    ),
    # Never a newline, so no line ever ends: cut at max_bytes all the same.
    "endless line": (lambda hub, old: lambda c: hub.send_until_stopped(c, b"x" * 4096), DEADLINE),
    # A byte every 20 ms: each read within the timeout, the whole past the deadline.
    "drip": (lambda hub, old: lambda c: hub.send_until_stopped(c, old[:1], 0.02), DEADLINE),
    # The same before the headers end: the status line, then a header that never ends
    # (http.client reads headers with the per-read timeout only; the whole request has
    # the deadline).
    "drip headers": (lambda hub, old: lambda c: hub.drip_headers(c, 0.02), DEADLINE),
    # Headers, then nothing at all: the socket timeout.
    "stall after headers": (
        lambda hub, old: lambda c: (c.sendall(HEAD), hub._stop.wait()),
        TIMEOUT,
    ),
    # Not even a status line.
    "stall before headers": (lambda hub, old: lambda c: hub._stop.wait(), TIMEOUT),
    # A chunked body cut off inside a chunk: http.client raises its own exception.
    "cut chunk": (
        lambda hub, old: (
            lambda c: c.sendall(
                HEAD.replace(b"Connection", b"Transfer-Encoding: chunked\r\nConnection")
                + b"1000\r\n"
                + old[:100]
            )
        ),
        0,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_an_endless_slow_or_broken_body_changes_nothing(
    tmp_path: Path, raw_hub: RawHub, case: str
) -> None:
    """The pull ends with an error within its caps (plus a little slack), the ledger is
    exactly as before, and the gate admits on what it has, both in-process and through
    the CLI afterwards."""
    real = _ledger()
    config = make_gate(tmp_path, "north-1", real.key, raw_hub.url)
    real.write(tmp_path / "ledger.jsonl")
    assert gate(config, "ledger", "apply", str(tmp_path / "ledger.jsonl")).returncode == 0
    make, bound = CASES[case]
    raw_hub.behaviour = make(raw_hub, real.lines()[0].encode())
    cfg = load_config(config)
    with Checkpoint(
        cfg.state_dir, device=cfg.device, ledger_key=cfg.ledger_key, policy=cfg.policy
    ) as cp:
        before = cp.status()
        client = HubClient(
            cfg.lane.hub or "", cp, timeout=TIMEOUT, max_bytes=MAX_BYTES, deadline=DEADLINE
        )
        started = time.monotonic()
        with pytest.raises(SyncError) as refused:
            client.pull()
        took = time.monotonic() - started
        assert took < bound + 1.0, f"{case}: the pull took {took:.1f} s"
        assert raw_hub.url in str(refused.value)
        assert cp.status() == before
        assert cp.admit(code("solo"), NOW).result == "admitted"
    assert gate(config, "admit", code("late"), "--now", str(NOW)).returncode == 0


class LyingRecordsHub(BaseHTTPRequestHandler):
    """Serves a tampered block and answers every upload with 200, acknowledging nothing."""

    block = b""

    def do_GET(self) -> None:
        self._answer(self.block)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(json.dumps({"acked": 0, "accepted": 0, "error": None}).encode())

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_sync_worker_alarms_on_a_lying_hub(tmp_path: Path) -> None:
    """The daemon's worker against a hub that sends a tampered block and acknowledges no
    upload: each round ends (the push does not resend the same batch forever), logs a
    ``hub_refused`` alarm naming both lies, applies nothing, moves no cursor, and the
    worker stops when asked."""
    real = _ledger()
    LyingRecordsHub.block = real.lines()[1].replace('"entries": 1', '"entries": 9').encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), LyingRecordsHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = make_gate(
            tmp_path, "north-1", real.key, f"http://127.0.0.1:{server.server_address[1]}"
        )
        real.write(tmp_path / "ledger.jsonl")
        assert gate(config, "ledger", "apply", str(tmp_path / "ledger.jsonl")).returncode == 0
        assert gate(config, "admit", "junk", "--now", str(NOW)).returncode == 1  # a record
        before = json.loads(gate(config, "ledger", "status", "--json").stdout)
        lines: list[dict[str, Any]] = []
        alarmed = threading.Event()

        def emit(line: dict[str, Any]) -> None:
            lines.append(line)
            if line["event"] == "alarm" and line["alarm"] == "hub_refused":
                alarmed.set()

        worker = SyncWorker(load_config(config), emit, interval=0.2)
        worker.start()
        try:
            assert alarmed.wait(10), lines
        finally:
            worker.stop(timeout=5)
        assert not worker._thread.is_alive(), "the worker did not stop"
    finally:
        server.shutdown()
    alarm = next(x for x in lines if x["event"] == "alarm" and x["alarm"] == "hub_refused")
    problems = " ".join(alarm["detail"])
    assert "block" in problems and "acknowledged none" in problems, problems
    sync = next(x for x in lines if x["event"] == "sync")
    assert sync["pulled"] == 0 and sync["pushed"] == 0 and sync["backlog"] == 1
    assert json.loads(gate(config, "ledger", "status", "--json").stdout) == before
    assert gate(config, "admit", code("solo"), "--now", str(NOW)).returncode == 0
