"""The gate's state in two SQLite files: the ledger copy, and the record log.

``ledger.db`` holds the chain as applied (tickets, holders, revocations, every gate's
``redeem`` and ``void`` events); ``records.db`` holds this gate's signed decision log
and its own admissions. They are two files so that each has its own write lock: an
admission's commit never waits behind a block being applied, however big the block or
the catch-up (one connection sees both, ``records.db`` attached as ``rec``). The record
log is also the one thing a gate cannot get back from the hub, while a damaged ledger
copy can simply be moved aside and synced again.

Durability comes first: WAL with ``synchronous=FULL`` on both, so a committed admission
survives a power cut, and every change is one transaction in one file (a block in
``ledger.db``, an admission and its record in ``records.db``) that applies whole or not
at all. The files are checked at open and the gate refuses to run on a damaged one
rather than guess.

The store is also the :class:`~verifier.decision.LedgerView` the decision reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import uuid
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from errors import (
    DeviceKeyError,
    DeviceMismatch,
    StoreCorrupt,
    StoreError,
)

from .blocks import ZERO_HASH, Block
from .decision import Admission, TicketInfo
from .ledger_rules import EMPTY_HEAD, Head, check_events, check_successor
from .schema import MIGRATIONS, RECORDS_MIGRATIONS, SCHEMA_VERSION
from .transactions import file_transaction, immediate_transaction

DB_FILE = "ledger.db"
RECORDS_FILE = "records.db"


def _tid(text: str) -> bytes:
    """16 raw bytes of a canonical UUID text (already validated by the block parser)."""
    return bytes.fromhex(text.replace("-", ""))


class LedgerStore:
    """One open state database. ``close()`` is safe twice; use it as a context manager.

    ``ledger_key`` is pinned in the file on first open: a state directory never mixes
    chains from two authorities. ``device`` (and the device key, :meth:`pin_device_key`)
    are pinned the same way, because the record log is one device's chain.

    ``records=False`` keeps no record log on disk (an in-memory one stands in): the
    hub's verifier copy of the chain is a store too, but it is no device.
    """

    def __init__(self, state_dir: str | Path, *, ledger_key: bytes, device: str | None = None,
                 integrity: str = "quick", records: bool = True) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / DB_FILE
        self.records_path = self.state_dir / RECORDS_FILE
        self.ledger_key = ledger_key
        self.device = device
        self._conn: sqlite3.Connection | None = None
        if not self.state_dir.is_dir():
            raise StoreError(f"state_dir {self.state_dir} does not exist or is not a directory "
                             "(create it, owned by the gate's user, mode 0700)")
        records_missing = not _has_content(self.records_path)
        _create_private(self.path)
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                                         cached_statements=64)
            self._open_file("main", self.path, integrity)
            if records:
                self._refuse_lost_log(records_missing)
                _create_private(self.records_path)
                self._open_file("rec", self.records_path, integrity)
            else:
                self._conn.execute("ATTACH DATABASE ':memory:' AS rec")
            self._migrate()
            self._pin("ledger_key", ledger_key.hex(), "ledger key")
            if device is not None:
                self._pin("device", device, "device id")
                self._pin("device", device, "device id", schema="rec")
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreCorrupt(f"{self.path} cannot be used: {exc}") from None
        except BaseException:
            self.close()
            raise

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.path} is closed")
        return self._conn

    def _open_file(self, schema: str, path: Path, integrity: str) -> None:
        """Check one of the two files and set its journal; a damaged one is refused with
        its own name. (The header is not read with ``open()``: closing any descriptor of
        a database file drops every SQLite lock this process holds on it.)"""
        try:
            if schema != "main":
                self.conn.execute(f"ATTACH DATABASE ? AS {schema}", (str(path),))
            self._verify_integrity(integrity, schema, path)
            self.conn.execute(f"PRAGMA {schema}.journal_mode=WAL")
            self.conn.execute(f"PRAGMA {schema}.synchronous=FULL")
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise StoreCorrupt(f"{path} is damaged: not a SQLite database (bad header); "
                                   "the gate will not run on it. Move it aside and "
                                   "re-provision") from None
            raise StoreCorrupt(f"{path} cannot be used: {exc}") from None

    def _verify_integrity(self, level: str, schema: str, path: Path) -> None:
        if level == "none":
            return
        pragma = "integrity_check" if level == "full" else "quick_check"
        rows = self.conn.execute(f"PRAGMA {schema}.{pragma}(5)").fetchall()
        problems = [r[0] for r in rows if r[0] != "ok"]
        if problems:
            first = " ".join(str(problems[0]).split())[:200]
            raise StoreCorrupt(f"{path} is damaged ({first}); the gate will not run "
                               "on it. Move it aside and re-provision")

    def _refuse_lost_log(self, records_missing: bool) -> None:
        """A ledger.db that a device has used (schema 2 or later, device pinned) with no
        records.db beside it has lost its record log: starting a new log at seq 1 would
        be refused by the hub and forget admissions not yet uploaded."""
        version = self.conn.execute("PRAGMA main.user_version").fetchone()[0]
        if not records_missing or version < 2:
            return
        row = self.conn.execute("SELECT value FROM main.meta WHERE key='device'").fetchone()
        if row is not None:
            raise StoreError(f"{self.records_path} is missing or empty but {self.path} "
                             f"belongs to device {row[0]!r}: this gate's record log is lost. "
                             "Restore records.db from the gate's disk, or re-provision the "
                             "gate (new device key, fresh state_dir)")

    def _migrate(self) -> None:
        self._migrate_schema("rec", self.records_path, RECORDS_MIGRATIONS)
        version = self._migrate_schema("main", self.path, MIGRATIONS, stop=1)
        if version == 1 and SCHEMA_VERSION > 1:
            self._adopt_v1_records()
        self._migrate_schema("main", self.path, MIGRATIONS)

    def _migrate_schema(self, schema: str, path: Path, migrations: tuple[str, ...],
                        stop: int | None = None) -> int:
        """Run ``migrations`` on ``schema`` up to version ``stop`` (default: all)."""
        target = len(migrations) if stop is None else stop
        version = self.conn.execute(f"PRAGMA {schema}.user_version").fetchone()[0]
        if version > len(migrations):
            raise StoreError(f"{path} has schema version {version}, newer than this "
                             f"Gatehouse understands ({len(migrations)}); upgrade the software")
        while version < target:
            # Both files are locked while a schema changes: only ever at open.
            with immediate_transaction(self.conn):
                for statement in _statements(migrations[version]):
                    self.conn.execute(_qualify(statement, schema))
                version += 1
                self.conn.execute(f"PRAGMA {schema}.user_version={version}")
        return version

    def _adopt_v1_records(self) -> None:
        """Copy a version-1 ledger.db's record log, own admissions and voids into
        records.db, committed there before the ledger migration drops them. Each file
        commits on its own, so the copy is idempotent: a crash in between copies again."""
        with immediate_transaction(self.conn):
            self.conn.execute("INSERT OR IGNORE INTO rec.records(seq, hash, body) "
                              "SELECT seq, hash, body FROM main.records")
            self.conn.execute("INSERT OR IGNORE INTO rec.local_admissions(seq, ticket, step, at) "
                              "SELECT seq, ticket, step, at FROM main.admissions "
                              "WHERE origin = 'local'")
            self.conn.execute("INSERT OR IGNORE INTO rec.local_voids(seq, ticket) "
                              "SELECT seq, ticket FROM main.voids WHERE origin = 'local'")
            self.conn.execute("INSERT OR IGNORE INTO rec.meta(key, value) SELECT key, value "
                              "FROM main.meta WHERE key IN ('device', 'device_public_key')")

    def _pin(self, key: str, value: str, what: str, schema: str = "main") -> None:
        held = self.meta(key, schema)
        if held is None:
            with self._write(schema):
                self.conn.execute(f"INSERT OR IGNORE INTO {schema}.meta(key, value) "
                                  "VALUES (?, ?)", (key, value))
            held = self.meta(key, schema)
        if held != value:
            path = self.path if schema == "main" else self.records_path
            raise DeviceMismatch(f"{path} belongs to {what} {held!r}, but the "
                                 f"configuration gives {value!r}; use the state_dir that "
                                 "belongs to this configuration")

    def pin_device_key(self, public_key: bytes) -> None:
        """Refuse a device key other than the one this state's record log was signed with."""
        try:
            self._pin("device_public_key", public_key.hex(), "device key", schema="rec")
        except DeviceMismatch:
            raise DeviceKeyError(f"{self.state_dir / 'device.key'} is not the key this "
                                 f"state's record log was signed with ("
                                 f"{(self.device_public_key() or '')[:16]}…); re-provision "
                                 "the gate") from None

    def device_public_key(self) -> str | None:
        """The device key this state's record log is signed with (hex), once pinned."""
        return self.meta("device_public_key", "rec")

    def set_meta(self, key: str, value: str) -> None:
        """Store a small fact about the ledger copy (e.g. the hub's acknowledged cursor)."""
        with self.ledger_write() as conn:
            conn.execute("INSERT INTO main.meta(key, value) VALUES (?, ?) ON CONFLICT(key) "
                         "DO UPDATE SET value = excluded.value", (key, value))

    def meta(self, key: str, schema: str = "main") -> str | None:
        row = self.conn.execute(f"SELECT value FROM {schema}.meta WHERE key=?",
                                (key,)).fetchone()
        return None if row is None else row[0]

    def ledger_write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One write transaction on ledger.db only: committed whole or rolled back."""
        return self._write("main")

    def records_write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One write transaction on records.db only: it takes records.db's write lock
        and reads ledger.db from a snapshot, so a block being applied never delays it."""
        return self._write("rec")

    def _write(self, schema: str) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return file_transaction(self.conn, schema)

    # -- the chain ---------------------------------------------------------------------

    def head(self) -> Head:
        row = self.conn.execute(
            "SELECT height, hash, time FROM blocks ORDER BY height DESC LIMIT 1").fetchone()
        if row is None:
            return EMPTY_HEAD
        return Head(row[0], row[1].hex(), row[2])

    def apply_block(self, block: Block) -> bool:
        """Apply one block in one transaction. Return False when it is already held.

        Raise :class:`BlockRejected` (nothing applied) when the signature, height, prev,
        time or any event is invalid (``verifier.ledger_rules``), and
        :class:`ForkDetected` for a validly signed block that differs from the one held
        at its height.
        """
        with self.ledger_write() as conn:
            head = self.head()
            held = None
            if block.height <= head.height:
                held = conn.execute("SELECT hash FROM blocks WHERE height=?",
                                    (block.height,)).fetchone()[0]
            if not check_successor(block, head, self.ledger_key, held):
                return False
            check_events(block, _SqlFacts(conn))
            _apply_events(conn, block)
            conn.execute("INSERT INTO blocks(height, hash, time, n_events) VALUES (?,?,?,?)",
                         (block.height, block.hash, block.time, len(block.events)))
        return True

    def check_events(self, block: Block) -> None:
        """Raise :class:`BlockRejected` if ``block``'s events would be refused on top of
        the chain held; change nothing."""
        check_events(block, _SqlFacts(self.conn))

    def status(self) -> dict[str, Any]:
        head = self.head()
        count = self.conn.execute
        return {
            "height": head.height,
            "head": head.hash,
            "time": head.time,
            "events": count("SELECT count(*) FROM shows").fetchone()[0],
            "tickets": count("SELECT count(*) FROM tickets").fetchone()[0],
            "revoked": count("SELECT count(*) FROM revocations").fetchone()[0],
            "admissions": count(f"SELECT count(*) FROM ({_COUNTED_ALL})",
                                {"device": self.device}).fetchone()[0],
            "records": count("SELECT count(*) FROM rec.records").fetchone()[0],
        }

    # -- the ledger view the decision reads --------------------------------------------

    def ticket(self, ticket: bytes) -> TicketInfo | None:
        row = self.conn.execute(
            "SELECT t.event, t.holder, t.valid_from, t.until, t.zones, t.entries, t.label, "
            "r.reason FROM tickets t LEFT JOIN revocations r ON r.ticket = t.id "
            "WHERE t.id = ?", (ticket,)).fetchone()
        if row is None:
            return None
        zones = tuple(json.loads(row[4])) if row[4] != "[]" else ()
        return TicketInfo(event=row[0], holder=row[1], valid_from=row[2], until=row[3],
                          zones=zones, entries=row[5], label=row[6], revoked=row[7])

    def previous_holders(self, ticket: bytes) -> Sequence[bytes]:
        return [r[0] for r in self.conn.execute(
            "SELECT holder FROM previous_holders WHERE ticket=? ORDER BY height", (ticket,))]

    def admissions(self, ticket: bytes) -> Sequence[Admission]:
        return [Admission(device=r[0], seq=r[1], step=r[2], at=r[3]) for r in self.conn.execute(
            _COUNTED, {"device": self.device, "ticket": ticket})]

    # -- the record log ----------------------------------------------------------------

    def last_record(self) -> tuple[int, str]:
        """(seq, hash hex) of the newest record; (0, 64 zeros) when the log is empty."""
        row = self.conn.execute(
            "SELECT seq, hash FROM rec.records ORDER BY seq DESC LIMIT 1").fetchone()
        return (0, ZERO_HASH) if row is None else (row[0], row[1].hex())

    def add_record(self, conn: sqlite3.Connection, record: dict[str, Any], digest: bytes,
                   body: str) -> None:
        """Insert a record and its effect on admissions; call inside
        :meth:`records_write`."""
        conn.execute("INSERT INTO rec.records(seq, hash, body) VALUES (?, ?, ?)",
                     (record["seq"], digest, body))
        ticket = record["ticket"]
        if record["result"] == "admitted" and ticket is not None:
            conn.execute("INSERT OR IGNORE INTO rec.local_admissions(seq, ticket, step, at) "
                         "VALUES (?, ?, ?, ?)",
                         (record["seq"], _tid(ticket), record["step"], record["at"]))
        elif record["result"] == "voided" and ticket is not None:
            conn.execute("INSERT OR IGNORE INTO rec.local_voids(seq, ticket) VALUES (?, ?)",
                         (record["ref"], _tid(ticket)))

    def admitted_ticket(self, seq: int) -> str | None:
        """The ticket of this gate's admission ``seq`` if it still counts, else None."""
        row = self.conn.execute(
            "SELECT l.ticket FROM rec.local_admissions l WHERE l.seq = :seq AND NOT EXISTS "
            "(SELECT 1 FROM rec.local_voids v WHERE v.seq = l.seq AND v.ticket = l.ticket) "
            "AND NOT EXISTS (SELECT 1 FROM main.voids v WHERE v.device IS :device AND "
            "v.seq = l.seq AND v.ticket = l.ticket)",
            {"seq": seq, "device": self.device}).fetchone()
        return None if row is None else str(uuid.UUID(bytes=row[0]))

    def record_bodies(self, since: int = 0) -> Iterator[str]:
        """The canonical JSON of every record with seq > ``since``, in order."""
        cursor = self.conn.execute("SELECT body FROM rec.records WHERE seq > ? ORDER BY seq",
                                   (since,))
        for (body,) in cursor:
            yield body

    def record_hash_at(self, seq: int) -> str:
        row = self.conn.execute("SELECT hash FROM rec.records WHERE seq=?",
                                (seq,)).fetchone()
        return ZERO_HASH if row is None else row[0].hex()


# The admissions that count for a ticket (``:ticket``; _ALL: every ticket): this gate's
# own, from its record log, and every gate's ``redeem`` events from the ledger, minus
# those a local ``voided`` record or a ledger ``void`` cancelled (a void counts only if
# it names the same ticket). The log is authoritative for this gate's own admissions,
# so the ledger's echo of them (same device and seq) is not counted twice.
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
"""
_COUNTED = _COUNTED_TEMPLATE.format(local="l.ticket = :ticket", ledger="a.ticket = :ticket")
_COUNTED_ALL = _COUNTED_TEMPLATE.format(local="1", ledger="1")


def _has_content(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0


def _create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if missing. SQLite would create it with the
    umask's mode; the ledger and the log are the gate's business only (the -wal and -shm
    files copy this mode)."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _qualify(statement: str, schema: str) -> str:
    """Point a schema script's CREATE statements at ``schema`` (ATTACHed files need it)."""
    for kind in ("TABLE ", "INDEX ", "UNIQUE INDEX "):
        if statement.startswith(f"CREATE {kind}"):
            return f"CREATE {kind}{schema}." + statement[len(f"CREATE {kind}"):]
    return statement


def _statements(script: str) -> list[str]:
    """Split a schema script into statements (executescript would commit our transaction)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    return out


class _SqlFacts:
    """:class:`~verifier.ledger_rules.LedgerFacts` over ledger.db, in the caller's
    transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def defined_shows(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT event FROM shows")}

    def known_tickets(self, ids: Collection[bytes]) -> dict[bytes, bool]:
        found: dict[bytes, bool] = {}
        wanted = list(ids)
        for i in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[i:i + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(self.conn.execute(
                "SELECT t.id, EXISTS(SELECT 1 FROM revocations r WHERE r.ticket = t.id) "
                f"FROM tickets t WHERE t.id IN ({marks})", chunk).fetchall())
        return {tid: bool(revoked) for tid, revoked in found.items()}


#: Ticket ids per ``IN (...)`` lookup (well under SQLite's limit on bound parameters).
_LOOKUP_CHUNK = 900


def _apply_events(conn: sqlite3.Connection, block: Block) -> None:
    """Apply a block's events in order inside the caller's transaction, after
    :func:`~verifier.ledger_rules.check_events` has accepted them. Runs of ``issue``
    events, the bulk of any sale, are inserted with one ``executemany``."""
    height = block.height
    issues: list[tuple[Any, ...]] = []

    def flush_issues() -> None:
        if issues:
            conn.executemany(
                "INSERT INTO tickets(id, event, holder, valid_from, until, zones, entries, "
                "label, height) VALUES (?,?,?,?,?,?,?,?,?)", issues)
            issues.clear()

    for ev in block.events:
        op = ev["op"]
        if op == "issue":
            issues.append((_tid(ev["ticket"]), ev["event"], bytes.fromhex(ev["holder"]),
                           ev["from"], ev["until"], _zones_text(ev["zones"]),
                           ev["entries"], ev["label"], height))
            continue
        flush_issues()
        if op == "event":
            conn.execute("INSERT INTO shows(event, name, starts, ends) VALUES (?,?,?,?) "
                         "ON CONFLICT(event) DO UPDATE SET name=excluded.name, "
                         "starts=excluded.starts, ends=excluded.ends",
                         (ev["event"], ev["name"], ev["starts"], ev["ends"]))
            continue
        tid = _tid(ev["ticket"])
        if op == "transfer":
            conn.execute("INSERT OR IGNORE INTO previous_holders(ticket, holder, height) "
                         "SELECT id, holder, ? FROM tickets WHERE id=?", (height, tid))
            conn.execute("UPDATE tickets SET holder=? WHERE id=?",
                         (bytes.fromhex(ev["holder"]), tid))
        elif op == "revoke":
            conn.execute("INSERT OR IGNORE INTO revocations(ticket, reason, height) "
                         "VALUES (?,?,?)", (tid, ev["reason"], height))
        elif op == "redeem":
            conn.execute("INSERT OR IGNORE INTO admissions(device, seq, ticket, step, at, origin)"
                         " VALUES (?,?,?,?,?,'ledger')",
                         (ev["device"], ev["seq"], tid, ev["step"], ev["at"]))
        elif op == "void":
            conn.execute("INSERT OR IGNORE INTO voids(device, seq, ticket, origin) "
                         "VALUES (?,?,?,'ledger')", (ev["device"], ev["seq"], tid))
    flush_issues()


def _zones_text(zones: list[str]) -> str:
    """The stored form of a zone list; most tickets have none, so skip the encoder."""
    return json.dumps(zones, ensure_ascii=False, separators=(",", ":")) if zones else "[]"
