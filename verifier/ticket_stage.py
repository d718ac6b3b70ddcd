"""A staged build of the ``tickets`` table: a first sync's issues appended, then merged in
ticket-id order.

Ticket ids are random UUIDs, so a sale's ``issue`` events arrive in random id order and,
inserted one by one, each lands at a random place of ``tickets`` (a ``WITHOUT ROWID``
B-tree keyed by id). Once the table outgrows the page cache every insert reads and
dirties a page of its own: about 36 µs a ticket on a 1,000,000-ticket first sync, and
every block's "ticket already exists" lookup misses the cache the same way.

A :class:`TicketStage` holds one write transaction on ``ledger.db`` across many blocks
and keeps the tickets they issue in a table of the connection's ``temp`` schema (never
in ``ledger.db``'s WAL): an append-only heap of rows plus an index of their ids, which
at about 30 bytes a ticket stays in its own page cache, so the rule lookups and the
duplicate checks never touch the disk. :meth:`TicketStage.flush` then inserts the staged
rows into ``tickets`` in id order (appends to an empty table, one pass over a held one)
and commits. Everything else a block does (its ``blocks`` row, shows, devices,
transfers, revocations, redeems, voids) is written to ``ledger.db`` as the per-block path
writes it, in the same transaction.

What stays exactly as the per-block path (:meth:`LedgerState.apply_block
<verifier.ledger_state.LedgerState.apply_block>` without a stage): the rules (the same
:func:`~verifier.ledger_rules.check_events`, asked of the stage and ``ledger.db``
together), the rows written, and "a block applies whole or not at all": each block is a
savepoint of the transaction, released only when all of it is written. What differs is
when a block becomes visible to other connections: at the next flush (every
:data:`SEGMENT_TICKETS` staged tickets, and when the stage is closed), not at once. A
crash before a flush loses the blocks since the last one, and the next sync applies
them again: ``ledger.db`` only ever holds a whole prefix of the chain.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from types import TracebackType

from .sql_facts import LOOKUP_CHUNK, SqlFacts

#: The staged tickets' table and its id index, in the connection's temp schema.
STAGE = "temp.ticket_stage"
STAGE_IDS = "temp.ticket_stage_ids"
#: Staged tickets after which the stage is merged into ``tickets`` and committed: it
#: bounds what a crash loses and what the temp schema holds (about 30 MiB of id index
#: and 110 MiB of rows for 1,000,000 tickets; the rows spill to a temp file).
SEGMENT_TICKETS = 1_000_000
#: The temp schema's page cache while a stage is open (KiB): the id index of a whole
#: segment fits, so the "already exists" checks never read a page back.
STAGE_CACHE_KIB = 40 * 1024

_COLUMNS = "id, event, holder, valid_from, until, zones, entries, label, height"


class TicketStage:
    """One write transaction on ``ledger.db`` (``conn``'s ``main``) across many blocks,
    the tickets they issue staged in ``temp``. A context manager: entering begins,
    leaving flushes (merges and commits) what was applied, or rolls back when the flush
    itself fails. ``close()`` is safe twice."""

    def __init__(self, conn: sqlite3.Connection, *, segment: int = SEGMENT_TICKETS) -> None:
        self.conn = conn
        self.segment = segment
        self.staged = 0
        self._open = False
        self._temp_cache: int | None = None

    # -- the transaction -----------------------------------------------------------------

    def __enter__(self) -> TicketStage:
        conn = self.conn
        self._temp_cache = conn.execute("PRAGMA temp.cache_size").fetchone()[0]
        conn.execute(f"PRAGMA temp.cache_size=-{STAGE_CACHE_KIB}")
        # A heap appended in arrival order, and the id -> row index the rules look up.
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS ticket_stage ({_COLUMNS})")
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS ticket_stage_ids "
            "(id BLOB PRIMARY KEY, pos INTEGER NOT NULL) WITHOUT ROWID"
        )
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Merge and commit what was applied (every block applied was checked whole, so
        it is kept even when the caller stops on an error); roll back if that fails."""
        if not self._open:
            return
        self._open = False
        try:
            self._merge()
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        finally:
            self._drop()

    def flush(self) -> None:
        """Merge the staged tickets into ``tickets``, commit, and begin again."""
        self._merge()
        self.conn.execute("COMMIT")
        self._open = False
        self._begin()

    def _begin(self) -> None:
        # The same deferred transaction as verifier.transactions.file_transaction: a
        # write that changes nothing takes ledger.db's write lock and no other file's.
        self.conn.execute("BEGIN")
        try:
            self.conn.execute("UPDATE main.meta SET value = value WHERE 0")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self._open = True

    def _merge(self) -> None:
        """Insert the staged rows into ``tickets`` in id order (SQLite's sorter reads the
        heap once, in order), and empty the stage."""
        if self.staged:
            self.conn.execute(
                f"INSERT INTO main.tickets({_COLUMNS}) SELECT {_COLUMNS} FROM {STAGE} ORDER BY id"
            )
            self.conn.execute(f"DELETE FROM {STAGE}")
            self.conn.execute(f"DELETE FROM {STAGE_IDS}")
            self.staged = 0

    def _drop(self) -> None:
        """Give the temp schema's pages back (a lane's resident memory stays small)."""
        try:
            self.conn.execute("DROP TABLE IF EXISTS temp.ticket_stage")
            self.conn.execute("DROP TABLE IF EXISTS temp.ticket_stage_ids")
            if self._temp_cache is not None:
                self.conn.execute(f"PRAGMA temp.cache_size={self._temp_cache}")
        except sqlite3.Error:
            pass  # a connection that is failing: its temp schema goes with it

    # -- what a block does -----------------------------------------------------------------

    def add_issues(self, rows: list[tuple[object, ...]]) -> None:
        """Stage the ``tickets`` rows of a run of ``issue`` events (in ``_COLUMNS`` order),
        inside the caller's savepoint."""
        conn = self.conn
        # The new rows are those past the heap's end before them (not a counter kept
        # here: a savepoint rolled back takes its rows away again).
        last = conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {STAGE}").fetchone()[0]
        conn.executemany(f"INSERT INTO {STAGE}({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", rows)
        conn.execute(
            f"INSERT INTO {STAGE_IDS}(id, pos) SELECT id, rowid FROM {STAGE} WHERE rowid > ?",
            (last,),
        )
        self.staged += len(rows)

    def transfer(self, ticket: bytes, holder: bytes, height: int) -> None:
        """A ``transfer`` of a staged ticket (no-op for one in ``tickets``): remember the
        previous holder as the per-block path does, then change it."""
        conn = self.conn
        row = conn.execute(f"SELECT pos FROM {STAGE_IDS} WHERE id = ?", (ticket,)).fetchone()
        if row is None:
            return
        conn.execute(
            "INSERT OR IGNORE INTO main.previous_holders(ticket, holder, height) "
            f"SELECT id, holder, ? FROM {STAGE} WHERE rowid = ?",
            (height, row[0]),
        )
        conn.execute(f"UPDATE {STAGE} SET holder = ? WHERE rowid = ?", (holder, row[0]))

    def note_applied(self) -> None:
        """A block was applied whole: flush when the stage holds a segment."""
        if self.staged >= self.segment:
            self.flush()

    def facts(self) -> StagedFacts:
        """The rules' view: ``ledger.db`` in this transaction, and the stage."""
        return StagedFacts(self.conn)


class StagedFacts(SqlFacts):
    """:class:`~verifier.ledger_rules.LedgerFacts` of ``ledger.db`` plus the stage: a
    ticket is known when either holds it, revoked when ``revocations`` says so."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(
            conn,
            shows_sql="SELECT event FROM main.shows",
            tickets_sql=(
                "SELECT t.id, EXISTS(SELECT 1 FROM main.revocations r WHERE r.ticket = t.id) "
                "FROM main.tickets t WHERE t.id IN ({marks})"
            ),
            devices_sql="SELECT device, key FROM main.devices WHERE device IN ({marks})",
        )

    def known_tickets(self, ids: Collection[bytes]) -> dict[bytes, bool]:
        found = super().known_tickets(ids)
        wanted = [tid for tid in ids if tid not in found]
        for i in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[i : i + LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                (tid, bool(revoked))
                for tid, revoked in self.conn.execute(
                    f"SELECT s.id, EXISTS(SELECT 1 FROM main.revocations r WHERE r.ticket = s.id)"
                    f" FROM {STAGE_IDS} s WHERE s.id IN ({marks})",
                    chunk,
                )
            )
        return found


__all__ = ["SEGMENT_TICKETS", "STAGE", "StagedFacts", "TicketStage"]
