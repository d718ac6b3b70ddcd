"""The peer service: a gate's HTTP endpoints for its peers on the venue LAN (PROTOCOL.md
section 5, revision 1.2).

    POST /v1/peer/records              JSON Lines of records, any devices, any order;
                                       reply {"accepted", "held", "refused": [...]}.
                                       Unsigned: records are their own proof.
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
is only the HTTP around it. It runs on a thread of its own, off the lane's, with a
Checkpoint (an SQLite connection) opened on that thread: taking a peer's batch locks
``peers.db`` alone, so the lane's commit never waits for it. Requests are served one at
a time on that thread (one connection, no locks); each connection has a few seconds to
send its request, so a stalled peer cannot hold the service. A fork found in a batch is
handed to ``on_fork`` (the daemon raises the alarm).

Standard library only (``http.server``): a gate installs nothing for it. Not here yet:
pushing this gate's records to its peers, relaying, pulling to fill gaps, discovery,
and the daemon's wiring.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sync.request_auth import canonical_hex, verify_request
from sync.wire import HEADER_DEVICE, HEADER_SIGNATURE, HEADER_TIME, MAX_SKEW
from verifier import Checkpoint, PeerFork
from verifier.keys import SIGNATURE_BYTES
from verifier.peer_records import PAGE_RECORDS

RECORDS_PATH = "/v1/peer/records"
HEADS_PATH = "/v1/peer/heads"
#: The largest body ``POST /v1/peer/records`` takes: 5,000 records of a few hundred
#: bytes, with room for long steward notes.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: Seconds a connection may take to send its request.
REQUEST_TIMEOUT_S = 5.0

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,17}")

Reply = tuple[int, str, bytes]


class PeerService:
    """The endpoints on ``host``:``port`` (0: any free port, see :attr:`port`) over the
    Checkpoint ``open_checkpoint`` makes, on a thread of its own. ``clock`` gives Unix
    time (signed requests, the received time of records). ``close()`` is safe twice."""

    def __init__(
        self,
        open_checkpoint: Callable[[], Checkpoint],
        *,
        host: str = "0.0.0.0",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        on_fork: Callable[[PeerFork], None] | None = None,
    ) -> None:
        self.clock = clock
        self.on_fork = on_fork
        self._open_checkpoint = open_checkpoint
        self._server = _Server((host, port), _Handler)
        self._server.service = self
        self._checkpoint: Checkpoint | None = None
        self._seen: dict[bytes, int] = {}  # signatures of reads served, and when
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> PeerService:
        """Open the Checkpoint on the service's thread and serve; raise what opening it
        raised."""
        self._thread = threading.Thread(target=self._run, name="peer-service", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failed is not None:
            self._thread.join()
            self._server.server_close()
            raise self._failed
        return self

    def _run(self) -> None:
        try:
            self._checkpoint = self._open_checkpoint()
        except BaseException as exc:  # handed to start(), which raises it
            self._failed = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._checkpoint.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread is not None and self._failed is None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> PeerService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the endpoints (on the service's thread) ---------------------------------------

    def post_records(self, body: bytes) -> Reply:
        assert self._checkpoint is not None
        lines = [line for line in body.split(b"\n") if line.strip()]
        report = self._checkpoint.accept_peer_records(lines, int(self.clock()))
        if self.on_fork is not None:
            for fork in report.forks:
                self.on_fork(fork)
        return _json(200, report.reply())

    def get_heads(self) -> Reply:
        assert self._checkpoint is not None
        heads = self._checkpoint.peer_heads()
        return _json(200, {device: seq for device, (seq, _) in heads.items()})

    def get_records(self, target: str, headers: Any) -> Reply:
        assert self._checkpoint is not None
        refused = self._refuse_unsigned(target, headers)
        if refused is not None:
            return refused
        query = parse_qs(urlsplit(target).query, keep_blank_values=True)
        device, since = query.get("device", [""]), query.get("since", [""])
        if len(device) != 1 or not device[0] or len(since) != 1:
            return _error(400, "give device=D and since=S once each")
        if not _DECIMAL.fullmatch(since[0]):
            return _error(400, "since must be a seq in plain decimal")
        lines = self._checkpoint.peer_records(device[0], int(since[0]), PAGE_RECORDS)
        body = "".join(line + "\n" for line in lines).encode("utf-8")
        return 200, "application/jsonl; charset=utf-8", body

    def _refuse_unsigned(self, target: str, headers: Any) -> Reply | None:
        """The refusal of a read that is not signed by a device active in this gate's
        ledger, within ``MAX_SKEW`` of its clock, and not seen before; None to serve it.
        An unknown device and a bad signature get the same answer."""
        assert self._checkpoint is not None
        now = int(self.clock())
        device = headers.get(HEADER_DEVICE, "")
        time_text = headers.get(HEADER_TIME, "")
        signature = canonical_hex(headers.get(HEADER_SIGNATURE, ""), SIGNATURE_BYTES)
        if not _DECIMAL.fullmatch(time_text) or signature is None:
            return _error(401, "sign the request as a hub request: device, time and signature")
        if abs(int(time_text) - now) > MAX_SKEW:
            return _error(
                401,
                f"the request time is {int(time_text) - now:+d} s from this gate's clock "
                f"(more than {MAX_SKEW} s)",
            )
        info = self._checkpoint.ledger.device_info(device)
        if (
            info is None
            or not verify_request(info.key, "GET", target, int(time_text), signature, b"")
            or not info.active
        ):
            return _error(
                401, "the request signature does not verify under the key of an active device"
            )
        self._seen = {s: t for s, t in self._seen.items() if t >= now - 2 * MAX_SKEW}
        if signature in self._seen:
            return _error(409, "this request was already received (a replay)")
        self._seen[signature] = now
        return None


class _Server(HTTPServer):
    service: PeerService
    allow_reuse_address = True


class _Handler(BaseHTTPRequestHandler):
    timeout = REQUEST_TIMEOUT_S
    server: _Server

    def do_POST(self) -> None:
        if urlsplit(self.path).path != RECORDS_PATH:
            self._send(_error(404, f"no such endpoint; POST {RECORDS_PATH}"))
            return
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
            self.close_connection = True
            return  # a peer that stalls gets nothing; the next one is served
        if len(body) != length:
            self._send(_error(400, "the body ended early"))
            return
        self._send(self.server.service.post_records(body))

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        service = self.server.service
        if path == HEADS_PATH:
            self._send(service.get_heads())
        elif path == RECORDS_PATH:
            self._send(service.get_records(self.path, self.headers))
        else:
            self._send(_error(404, f"no such endpoint; GET {HEADS_PATH} or {RECORDS_PATH}"))

    def _send(self, reply: Reply) -> None:
        status, kind, body = reply
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the daemon's journal gets what matters (forks) through ``on_fork``."""


def _json(status: int, value: Any) -> Reply:
    return status, "application/json", json.dumps(value).encode("utf-8")


def _error(status: int, why: str) -> Reply:
    return _json(status, {"error": why})


__all__ = ["HEADS_PATH", "MAX_BODY_BYTES", "RECORDS_PATH", "PeerService"]
