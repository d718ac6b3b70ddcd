"""The peer service: a gate's HTTP endpoints for its peers on the venue LAN (PROTOCOL.md
section 5, revision 1.2).

    POST /v1/peer/records              JSON Lines of records, any devices, any order;
                                       reply {"accepted", "held", "refused": [...]}.
                                       Unsigned: records are their own proof.
                                       ``?relay=1``: pass on to the other peers what
                                       this push brought (a relay, below).
    GET  /v1/peer/records?device=D&since=S
                                       D's records after seq S that this gate holds (its
                                       own or relayed), oldest first, at most 1,000, as
                                       JSON Lines. Signed as a hub request (the
                                       X-Gatehouse-Device, -Time and -Signature headers of
                                       ``sync.request_auth``, over the empty body) by a
                                       device active in the ledger: it discloses
                                       admissions.
    GET  /v1/peer/heads                {"device": seq, ...} for every device held.

What a record must be to count is decided in :mod:`verifier.peer_records`; this module
is only the HTTP around it. Every database call goes to one thread of the service's own,
which holds a Checkpoint (an SQLite connection): taking a peer's batch locks ``peers.db``
alone, so the lane's commit never waits for it. The exchange that pushes and pulls
(:mod:`gate.peer_exchange`) shares that thread through :attr:`PeerService.db`.

Connections are persistent (HTTP/1.1 keep-alive): a peer's exchange holds one to this
gate and sends every push and heads read over it, since a new TCP connection and a new
thread for each request cost more CPU than the request itself when fifty gates push to
each other (bench/peers_scale.py). Every reply has a ``Content-Length``; a request whose
body was not read (refused before it, or cut short) closes its connection, so the next
request on it is never read from the middle of a body.

The network side is bounded, so a peer (or anything else on the LAN) cannot take the
service over: each connection is served on a thread of its own, at most
:data:`MAX_CONNECTIONS` at once; when all are taken, the one that has waited longest
for its next request (:data:`KEEPALIVE_IDLE_S` at most) is closed to make room, and only
when none is idle does a new one get 503 at once. A request has :data:`REQUEST_TIMEOUT_S`
per read to arrive, so a stalled peer holds only its own connection (and is the first
closed when room is needed); a body over :data:`MAX_BODY_BYTES` is refused unread; and each client
address draws from a token bucket (:class:`sync.throttle.Throttle`, :data:`THROTTLE`
requests per :data:`THROTTLE_WINDOW_S`), so a flood from one address is answered 429
with a ``Retry-After`` while the other peers are served. A fork found in a batch is
handed to ``on_fork`` (the exchange raises the alarm); the devices a batch left with a
gap are handed to ``on_gaps`` (the exchange pulls what is missing); what a push
marked ``?relay=1`` brought is handed to ``on_relay`` (the exchange passes it on: in a
large venue a gate pushes its records to two relays, not to every peer, and the relays
batch them, docs/peers.md). Only records newly held are passed on, so a relay cannot be
made to send more than the valid records it was given.

Standard library only (``http.server``): a gate installs nothing for it.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from errors import HubRefusal
from sync.request_auth import signed_headers, verify_request
from sync.throttle import Throttle
from sync.wire import HEADER_DEVICE, HEADER_SIGNATURE, HEADER_TIME, MAX_SKEW
from verifier import Checkpoint, PeerFork
from verifier.peer_records import PAGE_RECORDS

RECORDS_PATH = "/v1/peer/records"
HEADS_PATH = "/v1/peer/heads"
#: The largest body ``POST /v1/peer/records`` takes: 5,000 records of a few hundred
#: bytes, with room for long steward notes.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: Seconds a connection may take to send its request (each read of it).
REQUEST_TIMEOUT_S = 5.0
#: Seconds a kept-alive connection may wait for its next request before it is closed:
#: longer than the gap between one peer's pushes (a lane admits every few seconds), so
#: a peer's connection is reused, and bounded, so the threads of gone peers end.
KEEPALIVE_IDLE_S = 30.0
#: Connections served at once. When all are taken, the longest idle is closed for a new
#: one; with none idle, the new one is answered 503 and closed. Fifty peers each holding
#: one leave room for the rest (reads, ``gate peers status``); beyond 64 peers the
#: longest idle give way in turn.
MAX_CONNECTIONS = 64
#: Seconds a new connection waits for the slot of an idle one being closed.
EVICT_WAIT_S = 0.5
#: Requests one client address may make in a burst, refilled over THROTTLE_WINDOW_S: a
#: peer makes a few a second (its own records, a heads read now and then, a catch-up),
#: so 400 per 10 s lets a gate that comes back catch up while a flood waits.
THROTTLE = 400
THROTTLE_WINDOW_S = 10.0

T = TypeVar("T")

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,17}")

Reply = tuple[int, str, bytes]


class CheckpointThread:
    """A Checkpoint that lives on one thread: every call runs there, in order. SQLite
    connections belong to the thread that made them, and one writer per process on
    peers.db needs no locks of its own."""

    def __init__(self, open_checkpoint: Callable[[], Checkpoint]) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="peer-db")
        self._checkpoint: Checkpoint | None = None
        self._open = open_checkpoint

    def start(self) -> CheckpointThread:
        """Open the Checkpoint on the thread; raise what opening it raised."""
        try:
            self._pool.submit(self._opened).result()
        except BaseException:
            self._pool.shutdown()
            raise
        return self

    def _opened(self) -> None:
        self._checkpoint = self._open()

    def call(self, work: Callable[[Checkpoint], T]) -> T:
        """``work(checkpoint)`` on the thread, waited for."""
        return self._pool.submit(self._run, work).result()

    def _run(self, work: Callable[[Checkpoint], T]) -> T:
        assert self._checkpoint is not None
        return work(self._checkpoint)

    def close(self) -> None:
        if self._checkpoint is not None:
            self._pool.submit(self._checkpoint.close).result()
            self._checkpoint = None
        self._pool.shutdown()


class PeerService:
    """The endpoints on ``host``:``port`` (0: any free port, see :attr:`port`) over the
    Checkpoint ``open_checkpoint`` makes, on threads of its own. ``clock`` gives Unix
    time (signed requests, the received time of records). ``close()`` is safe twice."""

    def __init__(
        self,
        open_checkpoint: Callable[[], Checkpoint],
        *,
        host: str = "0.0.0.0",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        on_fork: Callable[[PeerFork], None] | None = None,
        on_gaps: Callable[[dict[str, int]], None] | None = None,
        on_relay: Callable[[dict[str, tuple[int, int]]], None] | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self.clock = clock
        self.on_fork = on_fork
        self.on_gaps = on_gaps
        self.on_relay = on_relay
        self.db = CheckpointThread(open_checkpoint)
        self.throttle = throttle or Throttle(THROTTLE, THROTTLE_WINDOW_S, time.monotonic)
        self._throttle_lock = threading.Lock()
        self._server = _Server((host, port), _Handler)
        self._server.service = self
        self._seen: dict[bytes, int] = {}  # signatures of reads served, and when
        self._seen_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> PeerService:
        """Open the Checkpoint and serve; raise what opening it raised."""
        try:
            self.db.start()
        except BaseException:
            self._server.server_close()
            self._closed = True
            raise
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.2,), name="peer-service", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        self.db.close()

    def __enter__(self) -> PeerService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def admit_client(self, address: str) -> int:
        """0 if a request from ``address`` may be served, else seconds to wait."""
        with self._throttle_lock:
            return self.throttle.take(address)

    # -- the endpoints (on the service's thread) ---------------------------------------

    def post_records(self, body: bytes, relay: bool = False) -> Reply:
        """Take a push. ``relay``: the sender asked this gate to pass on what the
        push brought it (``?relay=1``): the records newly held go to ``on_relay``."""
        lines = [line for line in body.split(b"\n") if line.strip()]
        now = int(self.clock())
        report = self.db.call(lambda cp: cp.accept_peer_records(lines, now))
        if self.on_fork is not None:
            for fork in report.forks:
                self.on_fork(fork)
        if self.on_gaps is not None and report.gaps:
            self.on_gaps(dict(report.gaps))
        if relay and self.on_relay is not None and report.advanced:
            self.on_relay(dict(report.advanced))
        return _json(200, report.reply())

    def get_heads(self) -> Reply:
        heads = self.db.call(lambda cp: cp.peer_heads())
        return _json(200, {device: seq for device, (seq, _) in heads.items()})

    def get_records(self, target: str, headers: Any) -> Reply:
        refused = self._refuse_unsigned(target, headers)
        if refused is not None:
            return refused
        query = parse_qs(urlsplit(target).query, keep_blank_values=True)
        device, since = query.get("device", [""]), query.get("since", [""])
        if len(device) != 1 or not device[0] or len(since) != 1:
            return _error(400, "give device=D and since=S once each")
        if not _DECIMAL.fullmatch(since[0]):
            return _error(400, "since must be a seq in plain decimal")
        wanted, after = device[0], int(since[0])
        lines = self.db.call(lambda cp: cp.peer_records(wanted, after, PAGE_RECORDS))
        body = "".join(line + "\n" for line in lines).encode("utf-8")
        return 200, "application/jsonl; charset=utf-8", body

    def _refuse_unsigned(self, target: str, headers: Any) -> Reply | None:
        """The refusal of a read that is not signed by a device active in this gate's
        ledger, within ``MAX_SKEW`` of its clock, and not seen before; None to serve it.
        An unknown device and a bad signature get the same answer."""
        now = int(self.clock())
        device = headers.get(HEADER_DEVICE, "")
        try:
            at, signature = signed_headers(
                headers.get(HEADER_TIME, ""),
                headers.get(HEADER_SIGNATURE, ""),
                now,
                clock_of="this gate's",
            )
        except HubRefusal as exc:
            return _error(exc.status, exc.reason)
        info = self.db.call(lambda cp: cp.ledger.device_info(device))
        if (
            info is None
            or not verify_request(info.key, "GET", target, at, signature, b"")
            or not info.active
        ):
            return _error(
                401, "the request signature does not verify under the key of an active device"
            )
        with self._seen_lock:
            self._seen = {s: t for s, t in self._seen.items() if t >= now - 2 * MAX_SKEW}
            if signature in self._seen:
                return _error(409, "this request was already received (a replay)")
            self._seen[signature] = now
        return None


class _Server(ThreadingHTTPServer):
    service: PeerService
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        #: Connections waiting for their next request (or their first), and since when:
        #: the ones a new connection may displace, longest waiting first.
        self._idle: dict[socket.socket, float] = {}
        self._idle_lock = threading.Lock()

    def idle(self, connection: socket.socket, waiting: bool) -> None:
        with self._idle_lock:
            if waiting:
                self._idle[connection] = time.monotonic()
            else:
                self._idle.pop(connection, None)

    def _close_longest_idle(self) -> bool:
        """Shut the connection that has waited longest for a request (its thread sees
        the end of the stream and ends, giving its slot back); False if none waits."""
        with self._idle_lock:
            if not self._idle:
                return False
            connection = min(self._idle, key=self._idle.__getitem__)
            del self._idle[connection]
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
        return True

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False) and not (
            self._close_longest_idle() and self._slots.acquire(timeout=EVICT_WAIT_S)
        ):
            with contextlib.suppress(OSError):  # full: say so now, not behind a stalled peer
                request.sendall(
                    b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 1\r\n"
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
            self.shutdown_request(request)
            return
        self.idle(request, True)
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread for it (out of memory): its slot is free again
            self.idle(request, False)
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.idle(request, False)
            self._slots.release()


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive: a peer sends its pushes over one connection (see the module's doc).
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT_S
    # Headers and body leave in one write (the buffer is flushed once a reply is done):
    # two small writes on a kept-alive connection would wait on the peer's delayed ACK.
    wbufsize = -1
    disable_nagle_algorithm = True
    server: _Server
    _close_asked = True

    def _throttled(self) -> bool:
        wait = self.server.service.admit_client(self.client_address[0])
        if wait:
            status, kind, body = _error(429, f"too many requests; try again in {wait} s")
            self.close_connection = True  # its body, if any, is not read
            self.send_response(status)
            self.send_header("Retry-After", str(wait))
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        return bool(wait)

    def do_POST(self) -> None:
        if self._throttled():
            return
        # Until the body is read whole, a reply ends the connection: what is left of the
        # body must not be taken for the next request.
        self.close_connection = True
        target = urlsplit(self.path)
        if target.path != RECORDS_PATH:
            self._send(_error(404, f"no such endpoint; POST {RECORDS_PATH}"))
            return
        relay = parse_qs(target.query).get("relay") == ["1"]
        length_text = self.headers.get("Content-Length", "")
        if not _DECIMAL.fullmatch(length_text):
            self._send(_error(411, "a Content-Length is needed"))
            return
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            self._send(_error(413, f"more than {MAX_BODY_BYTES} bytes; send fewer records"))
            return
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            return  # a peer that stalls gets nothing; the next one is served
        if len(body) != length:
            self._send(_error(400, "the body ended early"))
            return
        self.close_connection = self._close_asked  # what the request itself asked
        self._send(self.server.service.post_records(body, relay))

    def do_GET(self) -> None:
        if self._throttled():
            return
        path = urlsplit(self.path).path
        service = self.server.service
        if path == HEADS_PATH:
            self._send(service.get_heads())
        elif path == RECORDS_PATH:
            self._send(service.get_records(self.path, self.headers))
        else:
            self._send(_error(404, f"no such endpoint; GET {HEADS_PATH} or {RECORDS_PATH}"))

    def parse_request(self) -> bool:
        # A request line came: the connection is busy (a new connection may no longer
        # displace it) and the rest of the request has REQUEST_TIMEOUT_S per read.
        self.server.idle(self.connection, False)
        self.connection.settimeout(self.timeout)
        ok = super().parse_request()
        # From the version and the Connection header; do_POST sets close_connection
        # until the body is read, then restores this.
        self._close_asked = self.close_connection
        return ok

    def _send(self, reply: Reply) -> None:
        status, kind, body = reply
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the daemon's journal gets what matters (forks) through ``on_fork``."""

    def handle(self) -> None:
        """Serve requests on the connection until it closes; between them it waits
        :data:`KEEPALIVE_IDLE_S` at most, and may be closed to make room."""
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            self.server.idle(self.connection, True)
            self.connection.settimeout(KEEPALIVE_IDLE_S)
            self.handle_one_request()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except TimeoutError:  # a peer that stalls mid-request gets nothing
            self.close_connection = True
        except Exception as exc:  # a database that fails: the peer is told, the
            self.close_connection = True  # service goes on serving the others
            with contextlib.suppress(OSError):
                self._send(_error(503, f"this gate cannot take records now: {exc}"))
                self.wfile.flush()


def _json(status: int, value: Any) -> Reply:
    return status, "application/json", json.dumps(value).encode("utf-8")


def _error(status: int, why: str) -> Reply:
    return _json(status, {"error": why})


__all__ = [
    "HEADS_PATH",
    "KEEPALIVE_IDLE_S",
    "MAX_BODY_BYTES",
    "MAX_CONNECTIONS",
    "RECORDS_PATH",
    "CheckpointThread",
    "PeerService",
]
