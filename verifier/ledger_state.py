"""The gate's copy of the ledger: applying blocks, and the view the decision reads.

A block is checked by the pure rules of :mod:`verifier.ledger_rules` (signature, height,
prev, time, every event against the chain held) and only then written, in one
transaction on ``ledger.db``: it applies whole or not at all, and holds only
``ledger.db``'s write lock, so an admission (``records.db``) never waits for it.

The same object is the :class:`~verifier.decision.LedgerView` the decision reads: a
ticket, its earlier holders, and the admissions that count for it. Those admissions
are the ledger's ``redeem`` events, this gate's own, from its record log, and (revision
1.2) the peer records held in ``peers.db``, which is why the counting query reads all
three files; it lives here because it is the ledger as the decision sees it. It also
answers which key a device signs with and whether it is active (``device`` events),
which is what a peer record is checked against.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .blocks import Block
from .decision import Admission, TicketInfo
from .ledger_rules import EMPTY_HEAD, Head, check_events, check_successor, ticket_bytes
from .sql_facts import SqlFacts
from .ticket_stage import TicketStage
from .time_floor import NO_FLOOR, TimeFloor
from .transactions import file_transaction, savepoint


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A device as the ledger's ``device`` events describe it."""

    key: bytes
    active: bool


class LedgerState:
    """The ledger copy over ``conn`` (a :class:`~verifier.state_files.StateFiles`
    connection). ``device`` is this gate's id: its own admissions come from its record
    log, and the ledger's echo of them is not counted twice."""

    def __init__(self, conn: sqlite3.Connection, *, ledger_key: bytes, device: str | None) -> None:
        self.conn = conn
        self.ledger_key = ledger_key
        self.device = device

    # -- the chain ---------------------------------------------------------------------

    def head(self) -> Head:
        row = self.conn.execute(
            "SELECT height, hash, time FROM blocks ORDER BY height DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return EMPTY_HEAD
        return Head(row[0], row[1].hex(), row[2])

    def time_floor(self) -> TimeFloor:
        """The newest block's time: the ledger authority signed it, and a block's time is
        never less than its predecessor's, so the head has the newest."""
        head = self.head()
        if head.time is None:
            return NO_FLOOR
        return TimeFloor(head.time, f"block {head.height}")

    def apply_block(self, block: Block, stage: TicketStage | None = None) -> bool:
        """Apply one block whole. Return False when it is already held.

        Without ``stage`` the block is one transaction of its own. With one (a first
        sync's batch, :mod:`verifier.ticket_stage`) it is a savepoint of the stage's
        transaction, its issues staged, visible to other connections at the stage's
        next flush; the rules and the rows written are the same.

        Raise :class:`BlockRejected` (nothing applied) when the signature, height, prev,
        time or any event is invalid (``verifier.ledger_rules``), and
        :class:`ForkDetected` for a validly signed block that differs from the one held
        at its height.
        """
        if stage is None:
            with file_transaction(self.conn, "main"):
                return self._apply(block, None)
        try:
            with savepoint(self.conn, "block"):
                applied = self._apply(block, stage)
        except sqlite3.IntegrityError:
            # A ticket issued again that the stage's index refused: the rules, asked
            # with every id looked up, say which event (and if they do not, the error
            # was something else, and stands).
            check_events(block, stage.facts(block, every_ticket=True))
            raise
        if applied:
            stage.note_applied()
        return applied

    def _apply(self, block: Block, stage: TicketStage | None) -> bool:
        """Check and write ``block`` inside the caller's transaction or savepoint."""
        conn = self.conn
        head = self.head()
        held = None
        if block.height <= head.height:
            held = conn.execute(
                "SELECT hash FROM blocks WHERE height=?", (block.height,)
            ).fetchone()[0]
        if not check_successor(block, head, self.ledger_key, held):
            return False
        check_events(block, _facts(conn) if stage is None else stage.facts(block))
        _apply_events(conn, block, stage)
        conn.execute(
            "INSERT INTO blocks(height, hash, time, n_events) VALUES (?,?,?,?)",
            (block.height, block.hash, block.time, len(block.events)),
        )
        return True

    def check_events(self, block: Block) -> None:
        """Raise :class:`BlockRejected` if ``block``'s events would be refused on top of
        the chain held; change nothing."""
        check_events(block, _facts(self.conn))

    def status(self) -> dict[str, Any]:
        """The head and what the ledger holds; ``admissions`` counts every admission
        that counts, this gate's own included."""
        head = self.head()
        count = self.conn.execute
        return {
            "height": head.height,
            "head": head.hash,
            "time": head.time,
            "events": count("SELECT count(*) FROM shows").fetchone()[0],
            "tickets": count("SELECT count(*) FROM tickets").fetchone()[0],
            "revoked": count("SELECT count(*) FROM revocations").fetchone()[0],
            "admissions": count(
                f"SELECT count(*) FROM ({_COUNTED_ALL})", {"device": self.device}
            ).fetchone()[0],
        }

    # -- the ledger view the decision reads --------------------------------------------

    def ticket(self, ticket: bytes) -> TicketInfo | None:
        """The ticket, and in the same statement what the decision reads after it: how
        many admissions count for it, and the time floor of this state (the newest
        block's time, this gate's and its peers' newest admissions). One statement
        starts one read of each file (a lock, an unlock and a stat each), where a
        lookup each cost four
        (bench/README.md, "Where a check's time goes")."""
        row = self.conn.execute(_TICKET, (self.device, ticket)).fetchone()
        if row is None:
            return None
        zones = tuple(json.loads(row[4])) if row[4] != "[]" else ()
        # The floor as LedgerState.time_floor, RecordLog.time_floor and
        # PeerStore.time_floor make it, the highest (the first on a tie, as highest()):
        # chosen on the integers, so only the winner's TimeFloor and words are made.
        block, own, peer = row[10], row[12], row[15]
        if own is not None and (block is None or own > block):
            if peer is not None and peer > own:
                floor = TimeFloor(peer, f"{row[13]}'s admission record {row[14]}")
            else:
                floor = TimeFloor(own, f"admission record {row[11]}")
        elif peer is not None and (block is None or peer > block):
            floor = TimeFloor(peer, f"{row[13]}'s admission record {row[14]}")
        elif block is not None:
            floor = TimeFloor(block, f"block {row[9]}")
        else:
            floor = NO_FLOOR
        return TicketInfo(
            event=row[0],
            holder=row[1],
            valid_from=row[2],
            until=row[3],
            zones=zones,
            entries=row[5],
            label=row[6],
            revoked=row[7],
            counted=row[8],
            floor=floor,
        )

    def previous_holders(self, ticket: bytes) -> Sequence[bytes]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT holder FROM previous_holders WHERE ticket=? ORDER BY height", (ticket,)
            )
        ]

    def tickets_by_label(self, label: str, limit: int = 20) -> list[bytes]:
        """The ids of tickets whose label is ``label``, ignoring ASCII case; at most
        ``limit``, in id order (a steward's lookup; the index is ``tickets_by_label``)."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT id FROM tickets WHERE label = ? COLLATE NOCASE ORDER BY id LIMIT ?",
                (label, limit),
            )
        ]

    def transfers(self, ticket: bytes) -> list[tuple[bytes, int]]:
        """Each earlier holder key of ``ticket`` with the height of the block that
        transferred the ticket away from it, oldest first."""
        return [
            (r[0], r[1])
            for r in self.conn.execute(
                "SELECT holder, height FROM previous_holders WHERE ticket=? ORDER BY height",
                (ticket,),
            )
        ]

    def device_info(self, device: str) -> DeviceInfo | None:
        """The key ``device`` signs its records with and whether it is active, as the
        newest ``device`` event naming it says; None when no event names it."""
        row = self.conn.execute(
            "SELECT key, active FROM main.devices WHERE device = ?", (device,)
        ).fetchone()
        return None if row is None else DeviceInfo(key=row[0], active=bool(row[1]))

    def admissions(self, ticket: bytes) -> Sequence[Admission]:
        return [
            Admission(device=r[0], seq=r[1], step=r[2], at=r[3])
            for r in self.conn.execute(_COUNTED, {"device": self.device, "ticket": ticket})
        ]


# The admissions that count for a ticket (``:ticket``; _ALL: every ticket), each (device,
# seq) pair once: this gate's own, from its record log; every gate's ``redeem`` events
# from the ledger; and the admissions of peer records held (peers.db), minus those a
# local ``voided`` record, a ledger ``void`` or a peer's ``voided`` record cancelled (a
# void counts only if it names the same ticket). Where two sources hold one pair, the
# more authoritative one speaks: the log for this gate's own admissions (the ledger's
# echo of them is not counted again), the ledger for a peer's (a ``redeem`` of a peer
# record already held changes nothing).
_COUNTED_TEMPLATE = """
SELECT :device AS device, l.seq, l.step, l.at FROM rec.local_admissions l
 WHERE {local}
   AND NOT EXISTS (SELECT 1 FROM rec.local_voids v WHERE v.seq = l.seq AND v.ticket = l.ticket)
   AND NOT EXISTS (SELECT 1 FROM main.voids v WHERE v.device IS :device AND v.seq = l.seq
                   AND v.ticket = l.ticket)
UNION ALL
SELECT a.device, a.seq, a.step, a.at FROM main.admissions a
 WHERE {ledger}
   AND NOT (a.device IS :device
            AND EXISTS (SELECT 1 FROM rec.local_admissions l WHERE l.seq = a.seq))
   AND NOT EXISTS (SELECT 1 FROM main.voids v WHERE v.device = a.device AND v.seq = a.seq
                   AND v.ticket = a.ticket)
   AND NOT (a.device IS :device
            AND EXISTS (SELECT 1 FROM rec.local_voids v WHERE v.seq = a.seq
                        AND v.ticket = a.ticket))
   AND NOT EXISTS (SELECT 1 FROM peer.peer_voids v WHERE v.device = a.device
                   AND v.seq = a.seq AND v.ticket = a.ticket)
UNION ALL
SELECT p.device, p.seq, p.step, p.at FROM peer.peer_admissions p
 WHERE {peer}
   AND p.device IS NOT :device
   AND NOT EXISTS (SELECT 1 FROM main.admissions a WHERE a.device = p.device AND a.seq = p.seq)
   AND NOT EXISTS (SELECT 1 FROM main.voids v WHERE v.device = p.device AND v.seq = p.seq
                   AND v.ticket = p.ticket)
   AND NOT EXISTS (SELECT 1 FROM peer.peer_voids v WHERE v.device = p.device
                   AND v.seq = p.seq AND v.ticket = p.ticket)
"""
_COUNTED = _COUNTED_TEMPLATE.format(
    local="l.ticket = :ticket", ledger="a.ticket = :ticket", peer="p.ticket = :ticket"
)
_COUNTED_ALL = _COUNTED_TEMPLATE.format(local="1", ledger="1", peer="1")

# A ticket with what the decision reads besides, in one statement (LedgerState.ticket):
# the count of the admissions that count for it (_COUNTED), the head block (as head()
# reads it) and this gate's newest admission by the time it proves (as
# RecordLog.time_floor reads it: the same expression, so the same index step). Its
# parameters are numbered (?1 the device, ?2 the ticket), bound from a tuple: binding by
# name looks each name up in a dict at every decision.
_TICKET = f"""
SELECT t.event, t.holder, t.valid_from, t.until, t.zones, t.entries, t.label, r.reason,
       (SELECT count(*) FROM ({_COUNTED})),
       b.height, b.time, f.seq, min(f.at, f.step * 15),
       pf.device, pf.seq, min(pf.at, pf.step * 15)
  FROM main.tickets t
  LEFT JOIN main.revocations r ON r.ticket = t.id
  LEFT JOIN main.blocks b ON b.height = (SELECT max(height) FROM main.blocks)
  LEFT JOIN rec.local_admissions f ON f.seq = (
       SELECT seq FROM rec.local_admissions WHERE step IS NOT NULL
        ORDER BY min(at, step * 15) DESC LIMIT 1)
  LEFT JOIN peer.peer_admissions pf ON pf.rowid = (
       SELECT rowid FROM peer.peer_admissions WHERE step IS NOT NULL
        ORDER BY min(at, step * 15) DESC LIMIT 1)
 WHERE t.id = :ticket
""".replace(":device", "?1").replace(":ticket", "?2")


def _facts(conn: sqlite3.Connection) -> SqlFacts:
    """What the chain rules read of ledger.db, in the caller's transaction."""
    return SqlFacts(
        conn,
        shows_sql="SELECT event FROM shows",
        tickets_sql=(
            "SELECT t.id, EXISTS(SELECT 1 FROM revocations r WHERE r.ticket = t.id) "
            "FROM tickets t WHERE t.id IN ({marks})"
        ),
        devices_sql="SELECT device, key FROM main.devices WHERE device IN ({marks})",
    )


def _apply_events(conn: sqlite3.Connection, block: Block, stage: TicketStage | None) -> None:
    """Apply a block's events in order inside the caller's transaction, after
    :func:`~verifier.ledger_rules.check_events` has accepted them. Runs of ``issue``
    events, the bulk of any sale, are inserted with one ``executemany``, into
    ``tickets`` or, with a ``stage``, into the stage."""
    height = block.height
    issues: list[tuple[object, ...]] = []

    def flush_issues() -> None:
        if issues and stage is not None:
            stage.add_issues(issues)
            issues.clear()
        elif issues:
            conn.executemany(
                "INSERT INTO tickets(id, event, holder, valid_from, until, zones, entries, "
                "label, height) VALUES (?,?,?,?,?,?,?,?,?)",
                issues,
            )
            issues.clear()

    for ev in block.events:
        op = ev["op"]
        if op == "issue":
            issues.append(
                (
                    ticket_bytes(ev["ticket"]),
                    ev["event"],
                    bytes.fromhex(ev["holder"]),
                    ev["from"],
                    ev["until"],
                    _zones_text(ev["zones"]),
                    ev["entries"],
                    ev["label"],
                    height,
                )
            )
            continue
        flush_issues()
        if op == "event":
            conn.execute(
                "INSERT INTO shows(event, name, starts, ends) VALUES (?,?,?,?) "
                "ON CONFLICT(event) DO UPDATE SET name=excluded.name, "
                "starts=excluded.starts, ends=excluded.ends",
                (ev["event"], ev["name"], ev["starts"], ev["ends"]),
            )
            continue
        if op == "device":  # the rules made sure a known device keeps its key
            conn.execute(
                "INSERT INTO main.devices(device, key, active, height) VALUES (?,?,?,?) "
                "ON CONFLICT(device) DO UPDATE SET active=excluded.active, "
                "height=excluded.height",
                (ev["device"], bytes.fromhex(ev["key"]), int(ev["active"]), height),
            )
            continue
        tid = ticket_bytes(ev["ticket"])
        if op == "transfer":
            conn.execute(
                "INSERT OR IGNORE INTO previous_holders(ticket, holder, height) "
                "SELECT id, holder, ? FROM tickets WHERE id=?",
                (height, tid),
            )
            holder = bytes.fromhex(ev["holder"])
            conn.execute("UPDATE tickets SET holder=? WHERE id=?", (holder, tid))
            if stage is not None:  # a ticket is held in one of the two, never both
                stage.transfer(tid, holder, height)
        elif op == "revoke":
            conn.execute(
                "INSERT OR IGNORE INTO revocations(ticket, reason, height) VALUES (?,?,?)",
                (tid, ev["reason"], height),
            )
        elif op == "redeem":
            conn.execute(
                "INSERT OR IGNORE INTO admissions(device, seq, ticket, step, at, origin)"
                " VALUES (?,?,?,?,?,'ledger')",
                (ev["device"], ev["seq"], tid, ev["step"], ev["at"]),
            )
        elif op == "void":
            conn.execute(
                "INSERT OR IGNORE INTO voids(device, seq, ticket, origin) VALUES (?,?,?,'ledger')",
                (ev["device"], ev["seq"], tid),
            )
    flush_issues()


def _zones_text(zones: list[str]) -> str:
    """The stored form of a zone list; most tickets have none, so skip the encoder."""
    return json.dumps(zones, ensure_ascii=False, separators=(",", ":")) if zones else "[]"


__all__ = ["DeviceInfo", "LedgerState"]
