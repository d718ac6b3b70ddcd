"""The peer exchange: a gate tells its peers what it admitted, and learns what they did
(PROTOCOL.md section 5, revision 1.2), so one ticket cannot enter at two lanes more than
a moment apart while the hub is away.

Three ways records move, each for one need:

- **Push at once.** A record committed on this gate (by the lane, ``gate admit`` or an
  override, in any process: the exchange watches ``records.db``'s head every
  :data:`TICK_S`) is posted to every peer at once, in parallel. This is what keeps the
  window (docs/peers.md: a ticket admitted here is refused at the other lanes within
  2 s), and it costs each admission one small POST per peer; records that pile up
  while a push to a peer is on its way go together in the next one. That is for a
  venue of up to ``direct_peers`` peers.
- **Through relays**, in a larger venue: the new records go to :data:`RELAYS` peers
  (the first in URL order that answer) marked ``?relay=1``, and each relay passes on
  what such pushes brought it to every peer, in one POST per peer at most every
  :data:`RELAY_EVERY_S`. Fifty gates pushing every admission to every peer cost a
  request per record per peer, more than two cores could serve (bench/peers_scale.py);
  through relays, a request carries the venue's records of the last half second.
- **Rounds (anti-entropy).** Every ``interval`` seconds the exchange reads the heads
  (``GET /v1/peer/heads``) of ``fanout`` peers, in turn, and evens out with each:
  it pushes what the peer lacks of any device it holds (its own records and those it
  learned: the relay, every device's in one POST), and pulls what this gate lacks (a signed ``GET
  /v1/peer/records``). This fills what a partition, a restart or a lost ``peers.db``
  left out, and carries records across a LAN where not every gate reaches every other.
  A gap found in a pushed batch makes the next round ask the peers that hold more.
- **Backing off.** A peer that does not answer is left alone for a while (doubling to
  :data:`MAX_BACKOFF_S`) and is evened out whole at the first round that reaches it;
  a peer that is unreachable for :data:`UNREACHABLE_ALARM_S` raises ``peer_unreachable``.

Each peer's requests go over one kept-alive HTTP/1.1 connection (:attr:`Link.conn`),
opened again when the peer closed it (it closes idle ones, and those of a crowded port)
or a request on it failed: at fifty gates a new TCP connection per request cost more
CPU than the push it carried (docs/peers.md, "At scale").

Nothing here is trusted for where it came from: what is pulled goes through the same
checks as what is pushed (:mod:`verifier.peer_records`). Every database call runs on the
service's one database thread (:class:`gate.peer_service.CheckpointThread`); the network
runs on a small pool of threads, so a slow peer holds one of them, not the exchange.
Memory is bounded by the number of peers (``MAX_PEERS``) and by the page sizes: a push is
at most :data:`PUSH_BATCH` records, a pull one page of 1,000.
"""

from __future__ import annotations

import http.client
import itertools
import json
import random
import select
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from sync.request_auth import sign_request
from verifier import Checkpoint, PeerFork, PeerLink
from verifier.peer_records import PAGE_RECORDS

from .peer_service import HEADS_PATH, RECORDS_PATH, CheckpointThread

Emit = Callable[[dict[str, Any]], None]

#: Seconds between looks at this gate's own log for new records to push (a stat of
#: records.db and its WAL; the log is read only when one of them changed).
TICK_S = 0.05
#: Records in one push, of one device or several (a POST body of about 200 KiB).
PUSH_BATCH = 500
#: The largest reply read (a page of 1,000 records is far less).
MAX_REPLY_BYTES = 8 * 1024 * 1024
#: Seconds a peer gets to answer one request.
REQUEST_TIMEOUT_S = 2.0
#: The longest a peer that does not answer is left alone before it is tried again.
MAX_BACKOFF_S = 30.0
#: Seconds without an answer from a peer before ``peer_unreachable`` is raised.
UNREACHABLE_ALARM_S = 30.0
#: Peers the exchange keeps (configured and discovered): memory stays bounded.
MAX_PEERS = 256
#: Parallel requests (pushes to many peers at once).
WORKERS = 16
#: A round relays a peer's records only once they have been held this long, and pulls
#: what another peer holds beyond this gate only when it saw the same lag a round
#: before: records younger than this are still on their way from their own gate, whose
#: push reaches every peer at once. (Without it, under load every round would relay
#: and pull what the pushes are about to deliver, and load the venue more.)
SETTLE_S = 2
#: The same through relays (a venue of more than ``direct_peers`` peers): a record goes
#: through a relay batch first, up to :data:`RELAY_EVERY_S` later, and a venue that
#: size loads its gates more. A round that relayed what the relays were about to
#: deliver would load them further and delay the relays more: on fifty gates sharing two
#: cores the rounds then pushed a quarter of all records again, and the window grew
#: from about 1 s to 10 s (bench/peers_scale.py). The rounds are for repair.
RELAYED_SETTLE_S = 10
#: Seconds between saves of the peers' state for ``gate peers status``.
SAVE_EVERY_S = 5.0
#: In a venue of more peers than ``direct_peers``, this gate's records go to this many
#: relays (the first peers in address order that answer), each of which passes them on
#: to every peer; two, so one relay lost does not widen the window.
RELAYS = 2
#: A relay passes on what it was given at once, then at most this often: at 20
#: admissions a second over a venue of fifty gates, a batch of about ten records per
#: peer each time, where pushing each record to every peer cost a request each.
RELAY_EVERY_S = 0.5


class PeerError(Exception):
    """A peer did not answer, or answered what it should not (kept for its link)."""


@dataclass
class Link:
    """One peer, as this gate sees it. ``known`` is what the peer holds, as far as this
    gate knows (a lower bound: from its heads and from what it acknowledged); None until
    it is first read."""

    url: str
    source: str
    device: str | None = None
    known: dict[str, int] | None = None
    last_contact: int | None = None
    last_error: str | None = None
    error_at: int | None = None
    failures: int = 0
    retry_at: float = 0.0  # monotonic
    down_since: float | None = None  # monotonic; None while it answers
    lock: threading.Lock = field(default_factory=threading.Lock)
    push_queued: bool = False
    relay_queued: bool = False
    #: Records this gate relays, waiting for the link (device, seq, line; under the
    #: exchange's relay lock; at most PUSH_BATCH, the oldest dropped: a peer that far
    #: behind fills the gap by a pull).
    relay_out: list[tuple[str, int, str]] = field(default_factory=list)
    #: device -> (its seq at the peer, when first seen ahead of this gate): what a
    #: round may pull once it has had time to arrive by itself.
    ahead: dict[str, tuple[int, float]] = field(default_factory=dict)
    last_signed: tuple[str, int] | None = None
    #: The kept-alive connection to the peer (used under ``lock``); None until the
    #: next request opens one.
    conn: http.client.HTTPConnection | None = None

    def snapshot(self, now: int) -> PeerLink:
        return PeerLink(
            self.url,
            self.source,
            self.device,
            self.last_contact,
            self.last_error,
            self.error_at,
            dict(self.known or {}),
            now,
        )


class PeerExchange:
    """Pushes, rounds and pulls between this gate (over ``db``) and its peers.

    ``urls`` are the configured peers; ``discovered`` (optional) returns the peers found
    by mDNS, url -> device, each time it is called. ``bind`` is the local address to
    send from (the peer service's listen address when it names one). ``emit`` gets the
    journal lines (``peer`` on a change of a peer's state, ``alarm`` for forks and
    unreachable peers)."""

    def __init__(
        self,
        db: CheckpointThread,
        *,
        device: str,
        urls: Iterable[str] = (),
        discovered: Callable[[], dict[str, str]] | None = None,
        emit: Emit,
        interval: float = 1.0,
        fanout: int = 3,
        direct_peers: int = 8,
        bind: str | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.device = device
        self.emit = emit
        self.interval = interval
        self.fanout = max(1, fanout)
        self.direct_peers = direct_peers
        self.bind = bind
        self.clock = clock
        self.rng = rng or random.Random()
        self.discovered = discovered
        self.links: dict[str, Link] = {}
        for url in urls:
            self._add(url, "config")
        self.signer = db.call(lambda cp: cp.signer)
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="peer-net")
        self._wanted: dict[str, int] = {}
        self._wanted_lock = threading.Lock()
        self._turn = itertools.count()
        self._unreachable: set[str] = set()
        #: This gate's newest records as last read (after seq, lines), for the pushes.
        self._fresh: tuple[int, list[str]] = (0, [])
        self._fresh_head = 0
        records = db.call(lambda cp: cp.files.records_path)
        self._log_files = (records, records.with_name(records.name + "-wal"))
        self._log_seen: list[Any] = []
        self._log_read_at = 0.0
        self._alarm_lock = threading.Lock()
        #: What pushes marked ``?relay=1`` brought, to pass on: device -> (the seq held
        #: before, the seq held now).
        self._relay_pending: dict[str, tuple[int, int]] = {}
        self._relay_lock = threading.Lock()
        self._next_relay = 0.0  # monotonic
        self._own_relay_queued = False
        self.pushed = 0  # records sent, for the figures
        self.relayed = 0  # of which passed on for another gate
        self.pulled = 0
        self.requests = 0  # requests sent
        self.connections = 0  # connections opened

    # -- peers ------------------------------------------------------------------------

    def _add(self, url: str, source: str, device: str | None = None) -> None:
        url = url.rstrip("/")
        if url not in self.links and len(self.links) < MAX_PEERS:
            self.links[url] = Link(url, source, device)

    def _refresh_discovered(self) -> None:
        if self.discovered is None:
            return
        found = {url.rstrip("/"): device for url, device in self.discovered().items()}
        for url, device in found.items():
            self._add(url, "mdns", device)
        for url in [u for u, link in self.links.items() if link.source == "mdns"]:
            if url not in found:
                link = self.links.pop(url)
                if link.lock.acquire(blocking=False):  # else its socket goes with the link
                    try:
                        self._disconnect(link)
                    finally:
                        link.lock.release()

    def want(self, gaps: dict[str, int]) -> None:
        """Devices with records held aside behind a gap (from a push this gate got):
        the next round pulls them from the peers that hold more."""
        with self._wanted_lock:
            for device, seq in gaps.items():
                self._wanted[device] = max(seq, self._wanted.get(device, 0))

    def relay(self, advanced: dict[str, tuple[int, int]]) -> None:
        """Records a push marked ``?relay=1`` brought (device -> (seq held before, seq
        held now)): passed on to every peer within :data:`RELAY_EVERY_S`."""
        with self._relay_lock:
            for device, (before, after) in advanced.items():
                was = self._relay_pending.get(device)
                if was is not None:
                    before, after = min(before, was[0]), max(after, was[1])
                self._relay_pending[device] = (before, after)

    # -- the loop ---------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Push and even out until ``stop``; then save the peers' state."""
        own = self._own_head()
        # Every peer is evened out once at the start: what it missed while this gate
        # was down is pushed, and what this gate missed is pulled.
        next_round = time.monotonic()
        next_save = time.monotonic() + SAVE_EVERY_S
        try:
            while not stop.is_set():
                now = time.monotonic()
                head = self._own_head() if self._log_changed() else own
                if head > own:
                    # Read once for every peer: most are exactly one push behind.
                    self._fresh = (
                        own,
                        self.db.call(
                            lambda cp, since=own: cp.peer_records(self.device, since, PUSH_BATCH)
                        ),
                    )
                    own = self._fresh_head = head
                    self._push_fresh(now)
                if self._relay_pending and now >= self._next_relay:
                    self._pass_on(now)
                    self._next_relay = now + RELAY_EVERY_S
                if now >= next_round:
                    self._refresh_discovered()
                    for link in self._round_peers(now):
                        self._pool.submit(self._round, link)
                    next_round = now + self.interval
                if now >= next_save:
                    self.save()
                    next_save = now + SAVE_EVERY_S
                stop.wait(TICK_S)
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
            for link in list(self.links.values()):
                self._disconnect(link)
            self.save()

    def _own_head(self) -> int:
        return self.db.call(lambda cp: cp.log.last_record()[0])

    def _log_changed(self) -> bool:
        """Whether records.db or its WAL changed since the last look: a commit by any
        process changes one of them. Two stats, where a query would cost a trip to the
        database thread twenty times a second on every gate of the venue."""
        seen = []
        for path in self._log_files:
            try:
                st = path.stat()
            except FileNotFoundError:
                seen.append(None)
                continue
            seen.append((st.st_mtime_ns, st.st_size, st.st_ino))
        # Timestamps are as coarse as the kernel's tick, and a WAL that restarted keeps
        # its size: the log is also read once a second whatever the stats say.
        changed = seen != self._log_seen or time.monotonic() - self._log_read_at >= 1.0
        self._log_seen = seen
        if changed:
            self._log_read_at = time.monotonic()
        return changed

    def _usable(self, now: float) -> list[Link]:
        return [link for link in self.links.values() if link.retry_at <= now]

    def _round_peers(self, now: float) -> list[Link]:
        """This round's peers: ``fanout`` of them in turn (each peer comes up every
        len/fanout rounds), plus every peer never read yet and, when a gap waits, any
        peer known to hold more of its device."""
        usable = self._usable(now)
        if not usable:
            return []
        start = next(self._turn) * self.fanout
        chosen = {usable[(start + i) % len(usable)].url for i in range(self.fanout)}
        chosen |= {link.url for link in usable if link.known is None}
        with self._wanted_lock:
            wanted = dict(self._wanted)
        for device, seq in wanted.items():
            chosen |= {
                link.url for link in usable if link.known and link.known.get(device, 0) > seq
            }
        return [self.links[url] for url in chosen if url in self.links]

    def _relayed(self) -> bool:
        """Whether this gate's records go through relays (more than ``direct_peers``)."""
        return len(self.links) > self.direct_peers

    def _settle_s(self) -> float:
        return RELAYED_SETTLE_S if self._relayed() else SETTLE_S

    def _push_fresh(self, now: float) -> None:
        """Send this gate's new records on their way: to every peer at once in a venue
        of up to ``direct_peers`` peers, else through the relays."""
        if not self._relayed():
            self._push_direct(self._usable(now))
        elif not self._own_relay_queued:
            self._own_relay_queued = True
            self._pool.submit(self._push_via_relays)

    def _push_direct(self, links: Iterable[Link]) -> None:
        for link in links:
            if not link.push_queued:
                link.push_queued = True
                self._pool.submit(self._push_own, link)

    def _push_via_relays(self) -> None:
        """Post this gate's new records, marked ``?relay=1``, to the first
        :data:`RELAYS` peers in address order that take them (every gate of a venue
        given the same list picks the same relays, so a few gates batch for all); when
        none does, to every peer directly."""
        self._own_relay_queued = False
        now = time.monotonic()
        usable = sorted(self._usable(now), key=lambda link: link.url)
        took = 0
        for link in usable:
            if took >= RELAYS:
                return
            with link.lock:
                if link.retry_at > time.monotonic():
                    continue
                try:
                    if link.known is None:
                        link.known = self._heads(link)
                        self._contacted(link)
                    self._push(link, {self.device: self._fresh_head}, relay=True)
                    took += 1
                except PeerError as exc:
                    self._failed(link, str(exc))
                except Exception as exc:
                    self._trouble(exc)
        if took == 0:
            self._push_direct(usable)

    def _pass_on(self, now: float) -> None:
        """As a relay: read once what pushes marked ``?relay=1`` brought, and post it
        to every peer in one request each (what is left over a batch waits for the next
        turn)."""
        with self._relay_lock:
            pending, self._relay_pending = self._relay_pending, {}

        def read(cp: Checkpoint) -> list[tuple[str, int, str]]:
            got: list[tuple[str, int, str]] = []
            for device, (before, after) in sorted(pending.items()):
                room = min(PUSH_BATCH - len(got), after - before)
                if room <= 0:
                    continue
                for line in cp.peer_records(device, before, room):
                    got.append((device, json.loads(line)["seq"], line))
            return got

        batch = self.db.call(read)
        taken: dict[str, int] = {}
        for device, seq, _ in batch:
            taken[device] = max(seq, taken.get(device, 0))
        left = {
            device: (taken.get(device, before), after)
            for device, (before, after) in pending.items()
            if taken.get(device, before) < after and (device in taken or len(batch) >= PUSH_BATCH)
        }
        if left:
            self.relay(left)
        if not batch:
            return
        for link in self._usable(now):
            with self._relay_lock:
                link.relay_out = (link.relay_out + batch)[-PUSH_BATCH:]
                if link.relay_queued:
                    continue
                link.relay_queued = True
            self._pool.submit(self._relay_to, link)

    def _relay_to(self, link: Link) -> None:
        """Post the records waiting for ``link``, less what it is known to hold; it is
        then known to hold what it took, unless some of it went aside behind a gap (it
        pulls the rest from the peers that hold more)."""
        with link.lock:
            with self._relay_lock:
                link.relay_queued = False
                batch, link.relay_out = link.relay_out, []
            if link.retry_at > time.monotonic():
                return  # backing off; the first round that reaches it evens it out
            known = link.known
            lines = [
                (device, seq, line)
                for device, seq, line in batch
                if device != link.device and (known is None or known.get(device, 0) < seq)
            ]
            if not lines:
                return
            try:
                reply, refused = self._post(link, [line for _, _, line in lines])
                self.relayed += len(lines)
                if known is not None and reply.get("held") == 0:
                    stopped = {r.get("device") for r in refused if isinstance(r, dict)}
                    for device, seq, _ in lines:
                        if device not in stopped and known.get(device, 0) < seq:
                            known[device] = seq
            except PeerError as exc:
                self._failed(link, str(exc))
            except Exception as exc:
                self._trouble(exc)

    # -- one peer (on the pool's threads; one task at a time per peer) -----------------

    def _push_own(self, link: Link) -> None:
        """Post this gate's new records to ``link``: the push that keeps the window."""
        with link.lock:
            link.push_queued = False
            if link.retry_at > time.monotonic():
                return  # backing off; the first round that reaches it evens it out
            try:
                if link.known is None:
                    link.known = self._heads(link)
                    self._contacted(link)
                self._push(link, {self.device: self._fresh_head})
            except PeerError as exc:
                self._failed(link, str(exc))
            except Exception as exc:  # the database failing: said, and tried again
                self._trouble(exc)

    def _round(self, link: Link) -> None:
        """Even out with ``link`` both ways, from its heads as read now. A peer busy
        with a push is skipped: the next round comes soon."""
        if not link.lock.acquire(blocking=False):
            return
        try:
            link.known = self._heads(link)
            self._contacted(link)
            settled = int(self.clock()) - self._settle_s()
            relay = self.db.call(lambda cp: cp.peer_heads(received_by=settled))
            self._push(link, {device: seq for device, (seq, _) in relay.items()})
            self._pull(link, self.db.call(lambda cp: cp.peer_heads()))
        except PeerError as exc:
            self._failed(link, str(exc))
        except Exception as exc:
            self._trouble(exc)
        finally:
            link.lock.release()

    def _trouble(self, exc: BaseException) -> None:
        self.emit(
            {
                "event": "warning",
                "time": int(self.clock()),
                "detail": f"peer exchange: {type(exc).__name__}: {exc}",
            }
        )

    def _push(self, link: Link, held: dict[str, int], relay: bool = False) -> None:
        """Post what the peer lacks of each device up to its seq in ``held``: every
        device in the same POST, at most :data:`PUSH_BATCH` records in all, until the
        peer has it all or refuses some (a fork on its side, a device it does not know
        yet: what it took is noted, the rest waits for the next round)."""
        assert link.known is not None
        known = link.known
        wanted = {d: seq for d, seq in held.items() if known.get(d, 0) < seq}
        while wanted:
            since = {d: known.get(d, 0) for d in wanted}
            lines = self._lines_to_push(since)
            if not lines:
                return
            _, refused = self._post(link, [line for _, line in lines], relay)
            stopped: dict[str, int] = {}
            for r in refused:
                if isinstance(r, dict) and type(r.get("seq")) is int:
                    device = r.get("device")
                    if device in wanted:
                        stopped[device] = min(r["seq"], stopped.get(device, r["seq"]))
            last_line = {device: line for device, line in lines}  # each device's newest
            sent = {device: json.loads(line)["seq"] for device, line in last_line.items()}
            for device, last in sent.items():
                if device in stopped:  # as far as it took them; the rest next round
                    known[device] = max(since[device], stopped[device] - 1)
                    del wanted[device]
                else:
                    known[device] = last
            full = len(lines) >= PUSH_BATCH  # devices left out for room come next
            wanted = {
                d: seq for d, seq in wanted.items() if (d in sent or full) and known.get(d, 0) < seq
            }

    def _post(
        self, link: Link, lines: list[str], relay: bool = False
    ) -> tuple[dict[str, Any], list[Any]]:
        """One push of ``lines``; the peer's reply and its ``refused`` list."""
        body = "".join(line + "\n" for line in lines).encode("utf-8")
        path = RECORDS_PATH + ("?relay=1" if relay else "")
        reply = self._request(link, "POST", path, body)
        self._contacted(link)
        refused = reply.get("refused") if isinstance(reply, dict) else None
        if not isinstance(refused, list):
            raise PeerError(f"{link.url} answered a push with {reply!r:.200}")
        self.pushed += len(lines)
        return reply, refused

    def _lines_to_push(self, since: dict[str, int]) -> list[tuple[str, str]]:
        """(device, line) of the records after ``since`` of each device, oldest
        first, :data:`PUSH_BATCH` at most in all: this gate's newest from the copy read
        for every peer, the rest in one trip to the database thread."""
        fresh = self._fresh
        out: list[tuple[str, str]] = []
        read: dict[str, int] = {}
        for device, after in sorted(since.items()):
            if device == self.device and fresh[0] == after and fresh[1]:
                out += [(device, line) for line in fresh[1]]
            else:
                read[device] = after
        if read:
            room = PUSH_BATCH - len(out)

            def records(cp: Checkpoint) -> list[tuple[str, str]]:
                got: list[tuple[str, str]] = []
                for device, after in sorted(read.items()):
                    if len(got) >= room:
                        break
                    got += [
                        (device, line) for line in cp.peer_records(device, after, room - len(got))
                    ]
                return got

            out += self.db.call(records)
        return out[:PUSH_BATCH]

    def _pull(self, link: Link, ours: dict[str, tuple[int, str]]) -> None:
        """Fetch what the peer holds beyond this gate, a page per device per round: for
        a device with a gap at once, else once the peer was seen ahead :data:`SETTLE_S`
        (:data:`RELAYED_SETTLE_S` through relays)
        ago and this gate has not caught up since."""
        assert link.known is not None
        with self._wanted_lock:
            wanted = set(self._wanted)
        now = time.monotonic()
        ahead = {}
        for device, theirs in sorted(link.known.items()):
            held = ours.get(device, (0, ""))[0]
            if device == self.device or theirs <= held:
                continue
            seen = link.ahead.get(device)
            lacking = seen is not None and seen[0] > held  # still short of what it had then
            ahead[device] = seen if lacking else (theirs, now)
            if device not in wanted and (not lacking or now - seen[1] < self._settle_s()):
                continue
            path = f"{RECORDS_PATH}?device={quote(device, safe='')}&since={held}"
            lines = self._read_lines(link, path)
            if not lines:
                continue
            at = int(self.clock())
            report = self.db.call(lambda cp, got=lines, at=at: cp.accept_peer_records(got, at))
            self.pulled += report.accepted
            for fork in report.forks:
                self.fork(fork, link.url)
            if report.gaps:
                self.want(report.gaps)
            with self._wanted_lock:
                if device in self._wanted and device not in report.gaps:
                    del self._wanted[device]
        link.ahead = ahead

    # -- the wire ---------------------------------------------------------------------

    def _connection(self, link: Link) -> tuple[http.client.HTTPConnection, bool]:
        """The link's kept-alive connection and True, or a new one and False. One the
        peer has closed since (it reads as ready: the end of the stream) is replaced."""
        conn = link.conn
        if conn is not None and conn.sock is not None:
            try:
                closed = bool(select.select([conn.sock], [], [], 0)[0])
            except (OSError, ValueError):
                closed = True
            if not closed:
                return conn, True
        self._disconnect(link)
        parts = urlsplit(link.url)
        if parts.scheme != "http" or not parts.hostname:
            raise PeerError(f"{link.url} is not an http:// URL of a peer")
        source = (self.bind, 0) if self.bind else None
        link.conn = http.client.HTTPConnection(
            parts.hostname, parts.port or 80, timeout=REQUEST_TIMEOUT_S, source_address=source
        )
        self.connections += 1
        return link.conn, False

    def _disconnect(self, link: Link) -> None:
        conn, link.conn = link.conn, None
        if conn is not None:
            conn.close()

    def _send(
        self, link: Link, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes, http.client.HTTPResponse]:
        """One request over the link's connection. A kept-alive connection that the
        peer closed as the request left is tried once more on a new one: every request
        here may be sent twice (a push held again is only acknowledged; a signed read
        seen twice is refused 409 and signed again). A peer that does not answer in time
        is not asked again: it is slow, and backs off."""
        for attempt in range(2):
            conn, reused = self._connection(link)
            self.requests += 1
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                raw = response.read(MAX_REPLY_BYTES + 1)
            except (OSError, http.client.HTTPException) as exc:
                self._disconnect(link)
                if reused and attempt == 0 and _closed_under_us(exc):
                    continue
                raise PeerError(f"{link.url}: {exc or type(exc).__name__}") from None
            break
        if response.will_close or len(raw) > MAX_REPLY_BYTES or not response.isclosed():
            self._disconnect(link)  # it ends it, or the rest of its reply is not read
        if response.status == 429 or response.status == 503:
            wait = response.getheader("Retry-After", "1")
            link.retry_at = time.monotonic() + (float(wait) if wait.isdigit() else 1.0)
            raise PeerError(f"{link.url} asks to wait {wait} s (HTTP {response.status})")
        if len(raw) > MAX_REPLY_BYTES:
            raise PeerError(f"{link.url} sent more than a page")
        return response.status, raw, response

    def _request(self, link: Link, method: str, path: str, body: bytes | None) -> Any:
        headers = {"Content-Type": "application/jsonl"} if body is not None else {}
        status, raw, _ = self._send(link, method, path, body, headers)
        if status != 200:
            raise PeerError(f"{link.url} answered {method} {path} with HTTP {status}")
        try:
            return json.loads(raw)
        except ValueError:
            raise PeerError(f"{link.url} answered {method} {path} with no JSON") from None

    def _heads(self, link: Link) -> dict[str, int]:
        heads = self._request(link, "GET", HEADS_PATH, None)
        if not isinstance(heads, dict) or not all(
            type(k) is str and type(v) is int and v >= 0 for k, v in heads.items()
        ):
            raise PeerError(f"{link.url} answered {HEADS_PATH} with something else than heads")
        return dict(heads)

    def _read_lines(self, link: Link, path: str) -> list[bytes]:
        """A signed read (it discloses admissions); a replay refusal (this gate read the
        same path within the second) is signed again a second later, once."""
        for _ in range(2):
            at = int(self.clock())
            if link.last_signed is not None and link.last_signed[0] == path:
                at = max(at, link.last_signed[1] + 1)
            link.last_signed = (path, at)
            headers = sign_request(self.signer, self.device, "GET", path, at, b"")
            status, raw, _ = self._send(link, "GET", path, None, headers)
            if status == 200:
                lines = [line for line in raw.split(b"\n") if line.strip()]
                return lines[:PAGE_RECORDS]
            if status != 409:
                break
        raise PeerError(f"{link.url} refused a signed read of {path} (HTTP {status})")

    # -- a peer's state ---------------------------------------------------------------

    def _contacted(self, link: Link) -> None:
        link.last_contact = int(self.clock())
        link.failures = 0
        link.retry_at = 0.0
        if link.down_since is not None:
            self.emit({"event": "peer", "time": link.last_contact, "url": link.url, "state": "up"})
        link.down_since = None
        self._unreachable_now(link, False)

    def _failed(self, link: Link, why: str) -> None:
        now = time.monotonic()
        link.failures += 1
        self._disconnect(link)
        link.known = None  # read its heads again when it is back
        link.last_error, link.error_at = why, int(self.clock())
        link.retry_at = max(link.retry_at, now + min(MAX_BACKOFF_S, 0.25 * 2**link.failures))
        if link.down_since is None:
            link.down_since = now
            self.emit(
                {
                    "event": "peer",
                    "time": link.error_at,
                    "url": link.url,
                    "state": "down",
                    "detail": why,
                }
            )
        if now - link.down_since >= UNREACHABLE_ALARM_S:
            self._unreachable_now(link, True)

    def _unreachable_now(self, link: Link, down: bool) -> None:
        """One ``peer_unreachable`` alarm for all the peers silent for
        :data:`UNREACHABLE_ALARM_S`, its detail naming each; raised again with the new
        list when one more falls silent or one of them answers, cleared when none is
        left."""
        with self._alarm_lock:
            if down == (link.url in self._unreachable):
                return
            (self._unreachable.add if down else self._unreachable.discard)(link.url)
            silent = sorted(self._unreachable)
            line: dict[str, Any] = {
                "event": "alarm" if silent else "alarm_cleared",
                "time": int(self.clock()),
                "alarm": "peer_unreachable",
            }
            if silent:
                line["detail"] = [
                    f"{url}: {self.links[url].last_error}" if url in self.links else url
                    for url in silent
                ]
            self.emit(line)

    def fork(self, fork: PeerFork, source: str) -> None:
        """Raise the alarm for a fork: two records signed by one device's key for one
        seq. Kept in peers.db as evidence (``gate peers status`` lists it)."""
        self.emit(
            {
                "event": "alarm",
                "time": int(self.clock()),
                "alarm": "peer_fork",
                "device": fork.device,
                "seq": fork.seq,
                "detail": [f"{fork.describe()}; sent by {source}"],
            }
        )

    def save(self) -> None:
        """Record the peers' state for ``gate peers status``."""
        now = int(self.clock())
        snapshot = [link.snapshot(now) for link in list(self.links.values())]
        down = sum(link.down_since is not None for link in list(self.links.values()))
        self.emit(
            {
                "event": "peers",
                "time": now,
                "peers": len(snapshot),
                "down": down,
                "pushed": self.pushed,
                "pulled": self.pulled,
                "relayed": self.relayed,
                "requests": self.requests,
                "connections": self.connections,
            }
        )
        try:
            self.db.call(lambda cp: cp.save_peer_links(snapshot))
        except Exception as exc:  # a full or read-only card: the exchange goes on
            self.emit(
                {
                    "event": "warning",
                    "time": now,
                    "detail": f"could not save the peers' state: {exc}",
                }
            )


def _closed_under_us(exc: BaseException) -> bool:
    """Whether a request failed because the peer had closed the connection (a reset, a
    broken pipe, the end of the stream before a status line), not for want of time."""
    return isinstance(exc, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected))


__all__ = ["MAX_PEERS", "PUSH_BATCH", "RELAYS", "RELAY_EVERY_S", "TICK_S", "PeerExchange"]
