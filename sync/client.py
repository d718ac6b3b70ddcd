"""The gate's side of sync: enrol, pull blocks, push records, and say how healthy it is.

Standard library only (urllib), so a gate installs nothing for it. Every request but the
enrolment and the public status is signed with the device key (``sync.request_auth``):
the hub serves the ledger only to enrolled devices. A hub is not trusted:
pulled blocks go through the same verification as a USB file (signature under the
pinned ledger key, chain, every event rule) and each applies in its own transaction, so
a tampered block, a foreign key, a rollback or garbage changes nothing and is reported;
a reply larger than ``max_bytes`` or slower than ``deadline`` is cut off (the hub
sends the ledger in pages of at most 8 MiB, so a gate far behind needs neither more
memory nor more patience per reply). Records are
pushed after the acknowledged cursor, which moves only on the hub's acknowledgement:
whatever the network does, a record is sent again until the hub says it holds it, and
the hub's idempotence makes that exactly once in effect.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Any

from errors import HubMisbehaved, HubRefusal, SyncError
from verifier import Checkpoint
from verifier.blocks import Block, read_blocks

from .request_auth import sign_request
from .wire import HEADER_HEIGHT

#: Times one push signs a batch again after the hub refused it as a replay (409, no acked),
#: and one read signs its request again.
MAX_RESIGN = 2
#: ``since`` for a read that wants only the hub's height: above every block (the hub
#: takes ``since`` up to 2**62).
ABOVE_ANY_HEIGHT = 2**62


@dataclass(frozen=True, slots=True)
class PullReport:
    applied: int
    height: int
    error: str | None
    disk_low: bool = False  # stopped to keep the record log's reserve (RECORD_RESERVE)


#: Free space a pull leaves for the record log: blocks are not applied into it, so a
#: growing ledger can never take the room the next admissions need (an admission that
#: cannot be recorded lets nobody in). 64 MiB is some 60,000 records.
RECORD_RESERVE = 64 << 20
#: Bytes of state a page of blocks may take, per byte of the page (rows, indexes, WAL).
PAGE_GROWTH = 4


@dataclass(frozen=True, slots=True)
class PullProgress:
    """Where a pull stands, told after each block applied (and once the hub's height is
    known): a first sync of a big ledger takes minutes, and a technician must see it move."""

    height: int  # ours, now
    hub_height: int | None  # what the hub says it holds (None until it said so)
    blocks: int  # applied by this pull so far
    tickets: int  # tickets issued in those blocks


@dataclass(frozen=True, slots=True)
class PushReport:
    sent: int
    acked: int
    error: str | None


class HubConnection:
    """HTTP to one hub, bounded in time and size, and what needs no gate state: the
    hub's public status (``gate provision`` checks the ledger key with it before a gate
    has any state)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        max_bytes: int = 32 * 1024 * 1024,
        deadline: float = 120.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.deadline = deadline

    # -- HTTP ----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        status, raw, _ = self._request_with_headers(method, path, body, headers)
        return status, raw

    def _request_with_headers(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, Message]:
        request = urllib.request.Request(
            self.url + path, data=body, method=method, headers=headers or {}
        )
        watchdog = _Watchdog(self.deadline)
        opener = urllib.request.build_opener(_WatchedHTTP(watchdog), _WatchedHTTPS(watchdog))
        watchdog.start()
        try:
            try:
                with opener.open(request, timeout=self.timeout) as reply:
                    status, raw, got = reply.status, self._read_capped(reply), reply.headers
            except urllib.error.HTTPError as exc:
                status, raw, got = exc.code, exc.read(64 * 1024), exc.headers
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            if watchdog.fired:
                raise self._too_slow() from None
            if isinstance(exc, http.client.HTTPException):  # a cut-off chunk, a bad status
                raise SyncError(f"hub {self.url} broke off its reply: {exc!r}") from None
            raise SyncError(f"hub {self.url} unreachable: {getattr(exc, 'reason', exc)}") from None
        finally:
            watchdog.cancel()
        if watchdog.fired:  # the connection was cut under a reply that looked complete
            raise self._too_slow()
        return status, raw, got

    def _too_slow(self) -> HubMisbehaved:
        return HubMisbehaved(f"hub {self.url} took longer than {self.deadline:g} s over one reply")

    def _read_capped(self, reply: Any) -> bytes:
        # read1: at most one recv per chunk, so the size cap holds whatever the hub sends
        # (the whole request's time is the watchdog's: see _Watchdog).
        chunks, size = [], 0
        while chunk := reply.read1(1 << 16):
            size += len(chunk)
            if size > self.max_bytes:
                raise HubMisbehaved(
                    f"hub {self.url} sent more than {self.max_bytes} bytes in one reply"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _json(
        self, method: str, path: str, payload: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        status, raw = self._request(
            method, path, body, {"Content-Type": "application/json", **(headers or {})}
        )
        try:
            return status, json.loads(raw)
        except ValueError:
            raise SyncError(
                f"hub {self.url}{path} answered {status} with something that is not JSON"
            ) from None

    def status(self) -> dict[str, Any]:
        status, body = self._json("GET", "/v1/status")
        if status != 200 or not isinstance(body, dict):
            raise SyncError(f"hub {self.url}/v1/status answered {status}")
        return body


class HubClient(HubConnection):
    """One gate talking to one hub."""

    def __init__(
        self,
        url: str,
        checkpoint: Checkpoint,
        *,
        timeout: float = 10.0,
        max_bytes: int = 32 * 1024 * 1024,
        deadline: float = 120.0,
        batch: int = 500,
        clock: Callable[[], float] = time.time,
        reserve: int = RECORD_RESERVE,
    ) -> None:
        super().__init__(url, timeout=timeout, max_bytes=max_bytes, deadline=deadline)
        self.clock = clock  # signs request times; the hub refuses a stale one
        self.cp = checkpoint
        self.batch = batch
        self.reserve = reserve
        #: The hub's height as its last signed /v1/blocks reply said (None: not asked yet).
        self.hub_height: int | None = None
        self._last_read: tuple[str, int] | None = None  # (path, time) last signed for a GET

    # -- signed reads ------------------------------------------------------------------

    def read(self, path: str) -> tuple[int, bytes, Message]:
        """GET ``path`` (with its query) signed with the device key: the hub serves the
        ledger and the conflicts only to enrolled devices (and its operator).

        Ed25519 signs the same request the same way, and the hub refuses a signature it
        has seen: a read repeated within the same second is signed a second later, and
        one the hub still calls a replay (another process of this gate asked the same
        that second, or the network delivered a copy first) is signed again later, at
        most :data:`MAX_RESIGN` times."""
        for attempt in range(MAX_RESIGN + 1):
            at = int(self.clock())
            if self._last_read is not None and self._last_read[0] == path:
                at = max(at, self._last_read[1] + 1)
            self._last_read = (path, at)
            headers = sign_request(self.cp.signer, self.cp.device, "GET", path, at, b"")
            status, raw, got = self._request_with_headers("GET", path, None, headers)
            if status != 409 or attempt == MAX_RESIGN or "replay" not in _error_of(raw):
                return status, raw, got
            time.sleep(1.0)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- what a gate does --------------------------------------------------------------

    def enrol(self, code: str) -> dict[str, Any]:
        status, body = self._json(
            "POST",
            "/v1/enrol",
            {"code": code, "device": self.cp.device, "public_key": self.cp.public_key.hex()},
        )
        if status != 200:
            raise SyncError(f"enrolment refused: {body.get('error', status)}")
        return body

    def _post_records(self, body: bytes) -> tuple[int, Any]:
        """POST ``body`` to /v1/records, signed now; the status and the parsed reply
        (None when it is not JSON)."""
        headers = sign_request(
            self.cp.signer, self.cp.device, "POST", "/v1/records", int(self.clock()), body
        )
        status, raw = self._request(
            "POST", "/v1/records", body, {"Content-Type": "application/json", **headers}
        )
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, None

    def probe_enrolment(self) -> int:
        """Whether the hub takes this device's signed requests, sending nothing: an upload
        of no records, signed like every upload (``gate doctor``). Returns the last seq
        the hub holds of this device's log. :class:`~errors.HubRefusal` carries the hub's
        reason when it refuses (not enrolled, revoked, another key, the request time too
        far off its clock); nothing changes on either side but the hub's memory of the
        request (its replay protection: a second probe within the same second is signed
        again a second later, as a push is). Uses only ``device`` and ``signer`` of the
        checkpoint, so any object with those two will do."""
        body = json.dumps({"records": []}).encode()
        for attempt in range(MAX_RESIGN + 1):
            status, reply = self._post_records(body)
            if not isinstance(reply, dict):
                raise SyncError(f"hub {self.url}/v1/records answered {status} with no JSON object")
            acked = reply.get("acked")
            if status == 200 and type(acked) is int:
                return acked
            if status == 409 and "acked" not in reply and attempt < MAX_RESIGN:
                time.sleep(1.0)  # the same request within one second: a replay to the hub
                continue
            break
        raise HubRefusal(status, str(reply.get("error") or f"answered {status}"))

    def pull(self, progress: Callable[[PullProgress], None] | None = None) -> PullReport:
        """Apply every block the hub has above our height, in one staged transaction
        (a segment at a time on a very large first sync, :mod:`verifier.ticket_stage`).

        The hub answers a page at a time (bounded memory on both sides) and says its own
        height; pages are asked for until we hold that height, the hub stops making
        progress, or a block is refused. Only verified blocks count, whatever the
        header says: it decides when to ask again, never what to apply. ``progress``
        hears of each block applied.
        """
        applied = 0
        tickets = 0
        target: int | None = None
        first = self.cp.ledger.head().height

        def on_block(block: Block) -> None:
            nonlocal tickets
            tickets += sum(1 for e in block.events if e.get("op") == "issue")
            if progress is not None:  # blocks apply in order, one height at a time
                progress(PullProgress(block.height, target, block.height - first, tickets))

        # One staged transaction across the pages (verifier.ticket_stage): a first sync
        # inserts its tickets in id order at the end, not a page at a time. The pages'
        # bytes are counted together against the free space, as none of them is on the
        # card before the stage is merged.
        pending = 0
        with self.cp.staging():
            while True:
                height = self.cp.ledger.head().height
                status, raw, headers = self.read(f"/v1/blocks?since={height}")
                if status != 200:
                    why = _error_of(raw)
                    return PullReport(
                        applied,
                        height,
                        f"hub answered {status} to /v1/blocks" + (f": {why}" if why else ""),
                    )
                target = self.hub_height = _int_header(headers, HEADER_HEIGHT)
                short = self._short_of_space(pending + len(raw))
                if short is not None:
                    return PullReport(applied, height, short, disk_low=True)
                if progress is not None:
                    progress(PullProgress(height, target, applied, tickets))
                report = self.cp.apply_lines(
                    read_blocks(raw.split(b"\n")),
                    source=f"{self.url}/v1/blocks?since={height}",
                    on_block=on_block if progress is not None else None,
                )
                applied += report.applied
                pending += len(raw)
                if report.error is not None:
                    return PullReport(applied, report.height, str(report.error))
                if report.held:
                    # We asked only for blocks above our height: a hub that sends older ones
                    # is rolled back or broken. Nothing changed here, but someone must look.
                    return PullReport(
                        applied,
                        report.height,
                        (
                            f"hub {self.url} sent {report.held} block(s) at or below our height "
                            f"{height} when asked for newer ones: rolled back or broken"
                        ),
                    )
                if report.applied == 0 or target is None or report.height >= target:
                    return PullReport(applied, report.height, None)

    def _short_of_space(self, page: int) -> str | None:
        """Why a page of ``page`` bytes must wait, or None: applied, it would eat into
        the free space kept for the record log."""
        state = self.cp.state_dir
        st = os.statvfs(state)
        free = st.f_bavail * st.f_frsize
        need = self.reserve + PAGE_GROWTH * page
        if free >= need:
            return None
        mib = 1 << 20
        return (
            f"{state}: {free / mib:.1f} MiB free; applying {page / mib:.1f} MiB of blocks "
            f"would leave less than the {self.reserve / mib:.0f} MiB kept for the record log, "
            "so the ledger waits: free space on the card"
        )

    def cursor(self) -> int:
        return self.cp.log.upload_cursor()

    def push(self) -> PushReport:
        """Send records after the acknowledged cursor, in batches, until none are left."""
        sent = 0
        acked = self.cursor()
        rewound, resigned = False, 0
        while True:
            lines = list(_take(self.cp.export_records(acked), self.batch))
            if not lines:
                return PushReport(sent, acked, None)
            body = json.dumps({"records": lines}).encode()
            status, reply = self._post_records(body)
            hub_acked = reply.get("acked") if isinstance(reply, dict) else None
            if type(hub_acked) is int and hub_acked > acked:
                # The hub holds its records in chain order, so it holds all of this batch;
                # it may hold more (records brought on a USB stick), but the cursor moves
                # only over records sent: the rest are acknowledged when they are sent.
                moved = min(hub_acked, acked + len(lines))
                self.cp.log.set_upload_cursor(moved)
                sent += moved - acked
                acked = moved
            elif type(hub_acked) is int and 0 <= hub_acked < acked and not rewound:
                # The hub holds less than it once acknowledged (restored from a backup):
                # send again from what it holds, once per push; it takes them as new.
                rewound = True
                self.cp.log.set_upload_cursor(hub_acked)
                acked = hub_acked
                continue
            elif (
                status == 409
                and isinstance(reply, dict)
                and "acked" not in reply
                and resigned < MAX_RESIGN
            ):
                # The hub already saw this exact signed request (the network delivered a
                # copy, or it is our own resend within the same second) and refuses it as
                # a replay without looking at the records. Sign it again with a later time:
                # the hub acknowledges what it already holds, nothing is held twice.
                resigned += 1
                time.sleep(1.0)
                continue
            elif status == 200:
                # Sending the same batch again would get the same answer, forever.
                return PushReport(
                    sent,
                    acked,
                    "hub acknowledged none of the records sent "
                    f"(acked {hub_acked!r}, held here through seq {acked})",
                )
            if status != 200:
                why = reply.get("error") if isinstance(reply, dict) else None
                return PushReport(sent, acked, f"hub refused records: {why or status}")

    def exchange(self, now: int) -> tuple[PullReport, PushReport]:
        """Pull, then push: one sync round. When both went through with nothing refused,
        ``now`` is kept as the last success (in the state, so ``gate sync status`` in
        another process sees it). :class:`SyncError` when the hub cannot be reached."""
        pulled = self.pull()
        pushed = self.push()
        if pulled.error is None and pushed.error is None:
            self.cp.log.set_last_exchange(now)
        return pulled, pushed

    def last_success(self) -> int | None:
        return self.cp.log.last_exchange()

    def health(self, now: int) -> dict[str, Any]:
        """Ledger age, clock offset, backlog, last success: what the alarms and the
        steward see."""
        head = self.cp.ledger.head()
        last_seq, _ = self.cp.log.last_record()
        last_success = self.last_success()
        info: dict[str, Any] = {
            "height": head.height,
            "ledger_age": None if head.time is None else now - head.time,
            "backlog": last_seq - self.cursor(),
            "acked": self.cursor(),
            "last_success": last_success,
            "since_success": None if last_success is None else now - last_success,
        }
        try:
            hub = self.status()
            info["clock_offset"] = int(hub["server_time"]) - now
            info["hub"] = "reachable"
            info["hub_height"] = (
                self.hub_height if self.hub_height is not None else self._ask_height()
            )
        except (SyncError, KeyError, TypeError, ValueError) as exc:
            info["clock_offset"] = None
            info["hub"] = f"unreachable: {exc}"
        return info

    def _ask_height(self) -> int | None:
        """The hub's height without pulling: a signed read of the blocks above any
        height there can be, which holds none, only the header. None when the hub
        refuses (this gate not enrolled, or revoked) or says nothing usable."""
        try:
            status, _, headers = self.read(f"/v1/blocks?since={ABOVE_ANY_HEIGHT}")
        except SyncError:
            return None
        if status != 200:
            return None
        self.hub_height = _int_header(headers, HEADER_HEIGHT)
        return self.hub_height


class _Watchdog:
    """Cuts the connections of one request when its deadline passes.

    A socket timeout bounds each read, not the whole: a hub that drips its status line,
    its headers or its body a byte at a time would hold a sync round for as long as it
    likes, and a round that never ends raises no alarm. Shutting the socket down from
    this timer wakes the blocked read wherever it is."""

    def __init__(self, deadline: float) -> None:
        self.fired = False
        self.sockets: list[socket.socket] = []
        self._timer = threading.Timer(deadline, self._fire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        self.fired = True
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _watched(
    base: type[http.client.HTTPConnection], watchdog: _Watchdog
) -> type[http.client.HTTPConnection]:
    """``base`` whose socket, once connected, is handed to ``watchdog``."""

    class Watched(base):  # type: ignore[valid-type, misc]
        def connect(self) -> None:
            super().connect()
            watchdog.sockets.append(self.sock)
            if watchdog.fired:  # connected just as the deadline passed
                watchdog._fire()

    return Watched


class _WatchedHTTP(urllib.request.HTTPHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self.watchdog = watchdog

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_watched(http.client.HTTPConnection, self.watchdog), req)


class _WatchedHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self.watchdog = watchdog

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            _watched(http.client.HTTPSConnection, self.watchdog), req, context=self._context
        )  # type: ignore[attr-defined]


def _int_header(headers: Message, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _error_of(raw: bytes) -> str:
    """The ``error`` of a hub's JSON refusal, or ""."""
    try:
        reply = json.loads(raw)
    except ValueError:
        return ""
    error = reply.get("error") if isinstance(reply, dict) else None
    return error if isinstance(error, str) else ""


def _take(items: Iterator[str], n: int) -> Iterator[str]:
    for i, item in enumerate(items):
        if i >= n:
            return
        yield item
