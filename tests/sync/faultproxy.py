"""A fault-injecting TCP proxy between a gate and the hub, on real loopback sockets.

The sync contract says the network may do anything and the outcome stays the same, so the
tests put this between ``gate sync`` and a real hub. Each connection gets one fault,
drawn from a seeded :class:`random.Random` (the run is reproducible from the seed):

``pass``
    forward the request, return the hub's reply.
``delay``
    wait 0.05-0.5 s, then as ``pass``.
``drop``
    read the request, then close the connection without forwarding anything: the
    request is lost on the way to the hub.
``reset_after_send``
    forward the whole request, wait for the hub's whole reply (so the hub has done the
    work), then reset the gate's connection (``SO_LINGER`` 0) instead of answering: the
    acknowledgement is lost on the way back, the nastiest case for exactly-once.
``duplicate``
    forward the request twice, on two upstream connections one after the other, and
    return one of the two replies (which one is drawn too): the network delivered a copy.

The proxy speaks just enough HTTP/1.1 for urllib, which sends one request per connection
with ``Connection: close`` and a ``Content-Length`` body: it reads the request head and
body, and reads the hub's reply until the hub closes. A client that keeps its connections
alive (the peer exchange) gets the same: the request goes upstream with ``Connection:
close`` in place of whatever it asked, and the client's connection is closed after the
reply, so its next request comes on a new connection and draws its own fault. ``counts``
and ``log`` say which faults were injected, so a test can prove its faults happened;
with ``cover`` (a request line prefix such as ``"POST /v1/records"``) the first requests
that match get every kind once, in a seeded order, so a short run cannot miss a fault by
luck.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections import Counter

KINDS = ("pass", "delay", "drop", "reset_after_send", "duplicate")
DEFAULT_WEIGHTS = {"pass": 6, "delay": 2, "drop": 1, "reset_after_send": 1, "duplicate": 1}
IO_TIMEOUT = 10.0
MAX_HEAD = 64 * 1024


class FaultProxy:
    """Listens on 127.0.0.1 (``url``) and forwards to port ``upstream`` on
    ``upstream_host`` (127.0.0.1 unless given)."""

    def __init__(
        self,
        upstream: int,
        *,
        seed: int,
        weights: dict[str, float] | None = None,
        delay: tuple[float, float] = (0.05, 0.5),
        cover: str | None = None,
        upstream_host: str = "127.0.0.1",
    ) -> None:
        self.upstream = upstream
        self.upstream_host = upstream_host
        self.weights = dict(weights or DEFAULT_WEIGHTS)
        unknown = set(self.weights) - set(KINDS)
        assert not unknown, f"unknown fault kinds {unknown}"
        self.delay = delay
        self.rng = random.Random(seed)
        self.cover = cover
        self._owed = self.rng.sample(list(self.weights), len(self.weights)) if cover else []
        self.counts: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []  # (fault injected, request line)
        self.forced: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._handlers: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # lets the accept loop see close()
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept, name="faultproxy", daemon=True)
        self._thread.start()

    def force(self, kind: str | None) -> None:
        """Inject ``kind`` into every connection from now on (None: draw again)."""
        assert kind is None or kind in KINDS
        with self._lock:
            self.forced = kind

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        for handler in self._handlers:
            handler.join(IO_TIMEOUT)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            handler = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._handlers.append(handler)
            handler.start()

    def _draw(self, request: bytes) -> tuple[str, float, int]:
        """The fault, the delay and which duplicate's reply to return, for one request."""
        with self._lock:
            kinds = list(self.weights)
            kind = self.rng.choices(kinds, [self.weights[k] for k in kinds])[0]
            pause = self.rng.uniform(*self.delay)
            which = self.rng.randrange(2)
            if self.forced:
                return self.forced, pause, which
            if self._owed and self.cover and request.startswith(self.cover.encode()):
                kind = self._owed.pop()
            return kind, pause, which

    def _record(self, kind: str, request: bytes) -> None:
        with self._lock:
            self.counts[kind] += 1
            self.log.append((kind, request.split(b"\r\n", 1)[0].decode("latin-1")))

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(IO_TIMEOUT)
        try:
            request = _read_request(client)
            if request is None:
                return
            kind, pause, which = self._draw(request)
            if kind == "drop":
                self._record(kind, request)
                return
            if kind == "delay":
                time.sleep(pause)  # the fault itself: a slow network, not synchronisation
            replies = [self._forward(request)]
            if kind == "duplicate" and replies[0] is not None:
                replies.append(self._forward(request))
            reply = replies[which] if len(replies) == 2 else replies[0]
            if reply is None:
                self._record("upstream_down", request)
                return
            self._record(kind, request)
            if kind == "reset_after_send":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            client.sendall(reply)
        except OSError:
            pass  # the gate gave up on this connection; nothing to forward any more
        finally:
            client.close()

    def _forward(self, request: bytes) -> bytes | None:
        """The hub's whole reply to ``request``; None when the hub cannot be reached."""
        try:
            with socket.create_connection(
                (self.upstream_host, self.upstream), timeout=IO_TIMEOUT
            ) as upstream:
                upstream.sendall(_closing(request))
                chunks = []
                while chunk := upstream.recv(1 << 16):
                    chunks.append(chunk)
        except OSError:
            return None
        return b"".join(chunks) or None


def _read_request(sock: socket.socket) -> bytes | None:
    """One HTTP/1.1 request (head and ``Content-Length`` body); None if the peer left."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return None
        data += chunk
        if len(data) > MAX_HEAD:
            raise OSError("request head too large")
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        assert name.strip().lower() != b"transfer-encoding", "chunked requests unsupported"
    while len(body) < length:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


def _closing(request: bytes) -> bytes:
    """``request`` asking the server to close the connection after its reply (which is
    how the proxy knows the reply is whole)."""
    head, _, body = request.partition(b"\r\n\r\n")
    lines = [
        line
        for line in head.split(b"\r\n")
        if line.partition(b":")[0].strip().lower() != b"connection"
    ]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body
