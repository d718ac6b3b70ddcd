"""Peer records (PROTOCOL.md section 5, revision 1.2): what other gates on the LAN admitted.

When the hub is out of reach, gates tell each other their records, so that one ticket
cannot be used at two lanes more than a moment apart. Nothing is trusted for where it
came from: a record from a peer is held only when it proves itself, and only what is
held counts in the decision (checks 14 and 15, :mod:`verifier.ledger_state`):

- its ``device`` is active in this gate's ledger (``device`` events, ledger.db);
- its signature verifies under that device's key from the ledger;
- it continues that device's chain from the last record held for it: ``seq`` = held + 1
  and ``prev`` = the held record's hash (seq 1: 64 zeros).

A record already held (same device, seq and hash) is acknowledged again and changes
nothing. A record that verifies but lies beyond a gap is held aside, uncounted, until
the records before it arrive (the peer service pulls them); a gap is not an error. A
validly signed record that contradicts the chain held (another hash for a held seq, or a
``prev`` that is not the held hash) is refused and kept as evidence of a fork, reported
once with both hashes. Records of a device later marked inactive stay held; new ones
from it are refused. A record of this gate's own device is never stored here: its own
log (records.db) is the authority on it, and one that differs from it, or that it never
wrote, is evidence that another unit signs with this gate's key.

Where they live: ``peers.db``, a file of its own beside ``ledger.db`` and ``records.db``
(attached as ``peer``). Not records.db: its write lock is the lane's, and an admission's
synced commit must never wait behind a peer's batch being stored, nor may a busy LAN
slow the one file the hub cannot give back. Not ledger.db: that is the hub's ledger,
rebuilt from the hub when lost or damaged, and its write lock is held for seconds while
a catch-up applies; peer records are neither the hub's nor rebuilt by it (until it
publishes their ``redeem`` events), and fork evidence must outlive a resync. In a file
of its own they have their own write lock, taken only by the peer service; the lane
reads them from a snapshot inside its admission, as it reads the ledger. Losing peers.db
loses nothing a gate cannot learn again (from its peers, and from the hub's ``redeem``
events), so a missing one is simply made anew.

Records learned from peers are never uploaded by this gate: each gate uploads its own
log, and :meth:`~verifier.checkpoint.Checkpoint.export_records` reads records.db only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from errors import EncodingError

from .blocks import ZERO_HASH
from .canonical import canonical_json, parse_strict
from .keys import TAG_RECORD, verify
from .ledger_rules import ticket_bytes
from .ledger_state import LedgerState
from .record_log import RecordLog
from .records import ledger_event, record_hash, record_shape_error
from .time_floor import NO_FLOOR, TimeFloor
from .transactions import file_transaction

#: A record held aside may lie at most this many seqs past the last one held for its
#: device; one further ahead is refused (pull the records before it first). The bound
#: keeps what a device's key can make this gate store without counting it finite.
WAITING_WINDOW = 10_000
#: The most records :meth:`PeerStore.records` returns at once (``GET /v1/peer/records``).
PAGE_RECORDS = 1000
#: A line longer than this is refused unread (a record is a few hundred bytes).
MAX_LINE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class PeerRefusal:
    """A record refused, and why. ``device`` and ``seq`` are None when unreadable."""

    device: str | None
    seq: int | None
    why: str

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "seq": self.seq, "why": self.why}


@dataclass(frozen=True, slots=True)
class PeerFork:
    """Two hashes for one device and seq, both signed by that device's key: either its
    key is in two units, or it forked its own chain. ``held`` is the hash this gate
    holds at ``seq`` (None: a record of this gate's own device that it never wrote);
    ``other`` is the other, proved by the record ``evidence_seq`` (``seq`` itself, or
    ``seq + 1`` whose ``prev`` is ``other``)."""

    device: str
    seq: int
    held: str | None
    other: str
    evidence_seq: int

    def describe(self) -> str:
        held = f"{self.held[:16]}…" if self.held else "nothing (this gate never wrote it)"
        return (
            f"device {self.device!r} seq {self.seq}: held {held}, other "
            f"{self.other[:16]}… (proved by its record seq {self.evidence_seq})"
        )


@dataclass(frozen=True, slots=True)
class PeerLink:
    """A peer as this gate's exchange last saw it: where it is (``url``), how it was
    found (``source``: "config" or "mdns"), the device it says it is (mDNS only), when
    it last answered, the last error and when, and its heads as last read."""

    url: str
    source: str
    device: str | None = None
    last_contact: int | None = None
    last_error: str | None = None
    error_at: int | None = None
    heads: dict[str, int] = field(default_factory=dict)
    updated: int = 0


@dataclass(slots=True)
class PeerReport:
    """What one batch of peer records did.

    ``accepted``: lines newly held (and counted); ``again``: lines held before,
    acknowledged again; ``held``: lines held aside behind a gap; ``refused``: the rest,
    each with why; ``forks``: forks this batch brought to light for the first time
    (their records are among ``refused``); ``promoted``: records held aside by earlier
    batches that this one completed; ``gaps``: each device of the batch with records
    still aside, with the seq held for it (pull its records after that seq);
    ``advanced``: each device whose chain this batch extended, as (the seq held
    before, the seq held now): what a relay passes on.
    """

    accepted: int = 0
    again: int = 0
    held: int = 0
    refused: list[PeerRefusal] = field(default_factory=list)
    forks: list[PeerFork] = field(default_factory=list)
    promoted: int = 0
    gaps: dict[str, int] = field(default_factory=dict)
    advanced: dict[str, tuple[int, int]] = field(default_factory=dict)

    def reply(self) -> dict[str, Any]:
        """The reply of ``POST /v1/peer/records``: ``accepted`` counts every line now
        held, whether new or held before (acknowledged again); ``held`` the lines held
        aside behind a gap (docs/protocol.md)."""
        return {
            "accepted": self.accepted + self.again,
            "held": self.held,
            "refused": [r.as_dict() for r in self.refused],
        }


class PeerStore:
    """The peer records in peers.db over ``conn`` (a
    :class:`~verifier.state_files.StateFiles` connection), checked against ``ledger``
    (devices' keys) and this gate's own ``log``."""

    def __init__(
        self, conn: sqlite3.Connection, *, ledger: LedgerState, log: RecordLog, public_key: bytes
    ) -> None:
        self.conn = conn
        self.ledger = ledger
        self.log = log
        self.device = log.device
        self.public_key = public_key

    # -- taking records ----------------------------------------------------------------

    def accept(self, lines: Iterable[str | bytes], now: int) -> PeerReport:
        """Take records from a peer (any devices, any order), in one transaction on
        peers.db alone: records.db is never locked, so the lane never waits for it."""
        report = PeerReport()
        readable: list[tuple[dict[str, Any], str]] = []
        for line in lines:
            record, problem = _read(line)
            if problem is not None:
                report.refused.append(problem)
            else:
                readable.append((record, canonical_json(record).decode("utf-8")))
        # Oldest first within each device: a batch that fills a gap is taken whole.
        readable.sort(key=lambda item: (item[0]["device"], item[0]["seq"]))
        aside: set[tuple[str, int]] = set()
        with file_transaction(self.conn, "peer"):
            for record, body in readable:
                self._take(record, body, now, report, aside)
            still = [
                key
                for key in sorted(aside)
                if self.conn.execute(
                    "SELECT 1 FROM peer.peer_waiting WHERE device = ? AND seq = ?", key
                ).fetchone()
            ]
            report.held = len(still)
            for device in sorted({d for d, _ in still}):
                report.gaps[device] = self._head(device)[0]
        return report

    def _take(
        self,
        record: dict[str, Any],
        body: str,
        now: int,
        report: PeerReport,
        aside: set[tuple[str, int]],
    ) -> None:
        device, seq = record["device"], record["seq"]
        digest = record_hash(record)

        def refuse(why: str) -> None:
            report.refused.append(PeerRefusal(device, seq, why))

        if device == self.device:
            self._take_own(record, body, digest, now, report)
            return
        held = self.conn.execute(
            "SELECT hash, body FROM peer.peer_records WHERE device = ? AND seq = ?", (device, seq)
        ).fetchone()
        if held is not None and held[1] == body:
            report.again += 1
            return
        info = self.ledger.device_info(device)
        if info is None:
            refuse(f"device {device!r} is not in this gate's ledger (no device event names it)")
            return
        if not verify(info.key, bytes.fromhex(record["sig"]), TAG_RECORD, digest):
            refuse(f"the signature does not verify under device {device!r}'s key")
            return
        if held is not None:
            if held[0] == digest:  # the same record signed again: nothing new
                report.again += 1
                return
            refuse(self._fork(report, device, seq, held[0], digest, seq, body, now))
            return
        if not info.active:
            refuse(f"device {device!r} is not active in this gate's ledger (revoked)")
            return
        head_seq, head_hash = self._head(device)
        if seq == head_seq + 1:
            if record["prev"] == head_hash:
                self._settle_waiting(report, device, seq, digest, now)
                self._hold(record, body, digest, now)
                report.accepted += 1
                promoted = self._promote(device, seq, digest.hex(), now, report, aside)
                report.promoted += promoted
                before = report.advanced.get(device, (head_seq, 0))[0]
                report.advanced[device] = (before, seq + promoted)
                return
            if seq == 1:
                refuse("seq 1 does not follow 64 zeros: not the start of a chain")
                return
            refuse(
                self._fork(
                    report,
                    device,
                    seq - 1,
                    bytes.fromhex(head_hash),
                    bytes.fromhex(record["prev"]),
                    seq,
                    body,
                    now,
                )
            )
            return
        if seq - head_seq > WAITING_WINDOW:
            refuse(
                f"seq {seq} is more than {WAITING_WINDOW} past seq {head_seq}, the last held "
                "for this device: its records after that come first"
            )
            return
        waiting = self.conn.execute(
            "SELECT hash FROM peer.peer_waiting WHERE device = ? AND seq = ?", (device, seq)
        ).fetchone()
        if waiting is not None and waiting[0] != digest:
            refuse(self._fork(report, device, seq, waiting[0], digest, seq, body, now))
            return
        if waiting is None:
            self.conn.execute(
                "INSERT INTO peer.peer_waiting(device, seq, hash, body, received) "
                "VALUES (?, ?, ?, ?, ?)",
                (device, seq, digest, body, now),
            )
        aside.add((device, seq))

    def _take_own(
        self, record: dict[str, Any], body: str, digest: bytes, now: int, report: PeerReport
    ) -> None:
        """A record naming this gate's own device, relayed back to it: its log decides."""
        seq = record["seq"]
        own = self.conn.execute(
            "SELECT hash, body FROM rec.records WHERE seq = ?", (seq,)
        ).fetchone()
        if own is not None and own[1] == body:
            report.again += 1
            return
        if not verify(self.public_key, bytes.fromhex(record["sig"]), TAG_RECORD, digest):
            report.refused.append(
                PeerRefusal(self.device, seq, "the signature does not verify under this gate's key")
            )
            return
        if own is not None and own[0] == digest:
            report.again += 1
            return
        why = self._fork(report, self.device, seq, own[0] if own else None, digest, seq, body, now)
        report.refused.append(PeerRefusal(self.device, seq, why))

    def _settle_waiting(
        self, report: PeerReport, device: str, seq: int, digest: bytes, now: int
    ) -> None:
        """``device``'s record ``seq`` (``digest``) is being accepted: a record held aside
        at that seq is no longer waited for, and if it differs it is evidence of a fork."""
        row = self.conn.execute(
            "SELECT hash, body FROM peer.peer_waiting WHERE device = ? AND seq = ?", (device, seq)
        ).fetchone()
        if row is None:
            return
        self.conn.execute(
            "DELETE FROM peer.peer_waiting WHERE device = ? AND seq = ?", (device, seq)
        )
        if row[0] != digest:
            self._fork(report, device, seq, digest, row[0], seq, row[1], now)

    def _hold(self, record: dict[str, Any], body: str, digest: bytes, now: int) -> None:
        """Hold an accepted record, with what it means for the decision: the same as the
        ledger event the hub will make of it."""
        self.conn.execute(
            "INSERT INTO peer.peer_records(device, seq, hash, body, received) "
            "VALUES (?, ?, ?, ?, ?)",
            (record["device"], record["seq"], digest, body, now),
        )
        event = ledger_event(record)
        if event is None:
            return
        ticket = ticket_bytes(event["ticket"])
        if event["op"] == "redeem":
            self.conn.execute(
                "INSERT OR IGNORE INTO peer.peer_admissions(device, seq, ticket, step, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (event["device"], event["seq"], ticket, event["step"], event["at"]),
            )
        else:
            self.conn.execute(
                "INSERT OR IGNORE INTO peer.peer_voids(device, seq, ticket) VALUES (?, ?, ?)",
                (event["device"], event["seq"], ticket),
            )

    def _promote(
        self,
        device: str,
        seq: int,
        digest: str,
        now: int,
        report: PeerReport,
        aside: set[tuple[str, int]],
    ) -> int:
        """Take the records held aside that now continue ``device``'s chain from
        (``seq``, ``digest``); how many."""
        taken = 0
        while True:
            row = self.conn.execute(
                "SELECT hash, body FROM peer.peer_waiting WHERE device = ? AND seq = ?",
                (device, seq + 1),
            ).fetchone()
            if row is None:
                return taken
            self.conn.execute(
                "DELETE FROM peer.peer_waiting WHERE device = ? AND seq = ?", (device, seq + 1)
            )
            aside.discard((device, seq + 1))
            record = json.loads(row[1])
            if record["prev"] != digest:
                self._fork(
                    report,
                    device,
                    seq,
                    bytes.fromhex(digest),
                    bytes.fromhex(record["prev"]),
                    seq + 1,
                    row[1],
                    now,
                )
                return taken
            self._hold(record, row[1], row[0], now)
            taken += 1
            seq, digest = seq + 1, row[0].hex()

    def _fork(
        self,
        report: PeerReport,
        device: str,
        seq: int,
        held: bytes | None,
        other: bytes,
        evidence_seq: int,
        body: str,
        now: int,
    ) -> str:
        """Keep ``body`` as evidence that ``device`` has two hashes at ``seq``; report
        the fork if it is new; the refusal's words."""
        fork = PeerFork(device, seq, held.hex() if held else None, other.hex(), evidence_seq)
        new = self.conn.execute(
            "INSERT OR IGNORE INTO peer.peer_forks(device, seq, hash, held, body, received) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (device, seq, other, held, body, now),
        ).rowcount
        if new:
            report.forks.append(fork)
        return f"fork: {fork.describe()}"

    # -- reading -----------------------------------------------------------------------

    def _head(self, device: str) -> tuple[int, str]:
        """(seq, hash hex) of the last record held for ``device``; (0, 64 zeros) if none."""
        row = self.conn.execute(
            "SELECT seq, hash FROM peer.peer_records WHERE device = ? ORDER BY seq DESC LIMIT 1",
            (device,),
        ).fetchone()
        return (0, ZERO_HASH) if row is None else (row[0], row[1].hex())

    def heads(self, received_by: int | None = None) -> dict[str, tuple[int, str]]:
        """For every device this gate holds records of (its own included): the (seq,
        hash hex) of the last one. What ``GET /v1/peer/heads`` serves, and where a pull
        to fill a gap starts. With ``received_by``, a peer's records count only if
        held by then (what a relay passes on: newer ones are still on their way from
        their own gate to every other)."""
        # SQLite's max() with a bare column: hash comes from the row of the max seq.
        # A peer's chain is held from seq 1 without gaps and in order of arrival, so
        # the records held by a time are a prefix of it.
        heads = {
            device: (seq, digest.hex())
            for device, seq, digest in self.conn.execute(
                "SELECT device, max(seq), hash FROM peer.peer_records "
                "WHERE received <= ? GROUP BY device ORDER BY device",
                (received_by if received_by is not None else 2**62,),
            )
        }
        own = self.log.last_record()
        if own[0] > 0:
            heads[self.device] = own
        return heads

    def time_floor(self) -> TimeFloor:
        """The newest time the peers' admissions held prove, as this gate's own do
        (:meth:`~verifier.record_log.RecordLog.time_floor`): a gate's clock and a
        wallet's agreeing, so the lower of the two. A peer's record is held only when
        its device's signature verifies, so only an enrolled gate can raise it."""
        row = self.conn.execute(
            "SELECT device, seq, min(at, step * 15) FROM peer.peer_admissions "
            "WHERE step IS NOT NULL ORDER BY min(at, step * 15) DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return NO_FLOOR
        return TimeFloor(row[2], f"{row[0]}'s admission record {row[1]}")

    def records(self, device: str, since: int, limit: int = PAGE_RECORDS) -> list[str]:
        """The canonical JSON of ``device``'s records with seq > ``since`` that this gate
        holds (its own from its log, a peer's as accepted), oldest first, at most
        ``limit`` (and never more than :data:`PAGE_RECORDS`). Records held aside are not
        served: they are not held until the chain before them is."""
        limit = max(0, min(limit, PAGE_RECORDS))
        if device == self.device:
            sql = "SELECT body FROM rec.records WHERE seq > ? ORDER BY seq LIMIT ?"
            return [r[0] for r in self.conn.execute(sql, (since, limit))]
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT body FROM peer.peer_records WHERE device = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (device, since, limit),
            )
        ]

    def save_links(self, links: Iterable[PeerLink]) -> None:
        """Replace the peers on record with ``links`` (what ``gate peers status`` shows)."""
        with file_transaction(self.conn, "peer"):
            self.conn.execute("DELETE FROM peer.peer_links")
            self.conn.executemany(
                "INSERT INTO peer.peer_links(url, source, device, last_contact, last_error, "
                "error_at, heads, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        link.url,
                        link.source,
                        link.device,
                        link.last_contact,
                        link.last_error,
                        link.error_at,
                        json.dumps(link.heads, sort_keys=True),
                        link.updated,
                    )
                    for link in links
                ],
            )

    def links(self) -> list[PeerLink]:
        """The peers as the exchange last saved them, by url."""
        return [
            PeerLink(url, source, device, contact, error, error_at, json.loads(heads), updated)
            for url, source, device, contact, error, error_at, heads, updated in self.conn.execute(
                "SELECT url, source, device, last_contact, last_error, error_at, heads, updated "
                "FROM peer.peer_links ORDER BY url"
            )
        ]

    def forks(self) -> list[PeerFork]:
        """Every fork this gate holds evidence of, by device and seq."""
        out = []
        for device, seq, other, held, body in self.conn.execute(
            "SELECT device, seq, hash, held, body FROM peer.peer_forks ORDER BY device, seq, hash"
        ):
            evidence = json.loads(body)["seq"]
            out.append(PeerFork(device, seq, held.hex() if held else None, other.hex(), evidence))
        return out


def _read(line: str | bytes) -> tuple[dict[str, Any], None] | tuple[None, PeerRefusal]:
    """A line as a record of the right shape, or the refusal saying why not."""
    if len(line) > MAX_LINE_BYTES:
        return None, PeerRefusal(None, None, f"longer than {MAX_LINE_BYTES} bytes: not a record")
    try:
        record = parse_strict(line)
    except EncodingError as exc:
        return None, PeerRefusal(None, None, f"not a record: {exc}")
    problem = record_shape_error(record)
    if problem is None:
        return record, None
    device = record.get("device") if type(record) is dict else None
    seq = record.get("seq") if type(record) is dict else None
    return None, PeerRefusal(
        device if type(device) is str else None, seq if type(seq) is int else None, problem
    )


__all__ = [
    "MAX_LINE_BYTES",
    "PAGE_RECORDS",
    "WAITING_WINDOW",
    "PeerFork",
    "PeerLink",
    "PeerRefusal",
    "PeerReport",
    "PeerStore",
]
