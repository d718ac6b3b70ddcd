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
at about 30 bytes a ticket stays in its own page cache. :meth:`TicketStage.flush` then
inserts the staged rows into ``tickets`` in id order (appends to an empty table, one
pass over a held one) and commits. (One temp table keyed by id was tried: about as much
CPU here, but its 130 MiB for 1,000,000 tickets is then written to the temp file at
random places, which an SD card takes worst; the heap is written in order, and the
index, the only random part, stays in the cache.)

"Ticket must be new" is not asked of the stage ticket by ticket: the id index's primary
key refuses a staged id issued again when the block is written, and the block is then
checked again with every id looked up (:class:`StagedFacts`), which names the event and
the ticket as the per-block path does. Tickets held before the stage began are looked
up as before; a first sync has none. Everything else a block does (its ``blocks`` row,
shows, devices, transfers, revocations, redeems, voids) is written to ``ledger.db`` as
the per-block path writes it, in the same transaction.

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

from .blocks import Block
from .ledger_rules import ticket_bytes
from .sql_facts import LOOKUP_CHUNK, SqlFacts

#: The staged tickets' table and its id index, in the connection's temp schema.
STAGE = "temp.ticket_stage"
STAGE_IDS = "temp.ticket_stage_ids"
#: Staged tickets after which the stage is merged into ``tickets`` and committed: it
#: bounds what a crash loses and what the temp schema holds (about 30 MiB of id index
#: and 110 MiB of rows for 1,000,000 tickets; the rows spill to a temp file).
SEGMENT_TICKETS = 1_000_000
#: ledger.db's page cache while the stage is merged (KiB): SQLite's sorter takes as much
#: again for its runs, and the merge only appends.
MERGE_CACHE_KIB = 16 * 1024
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
        #: Whether ``tickets`` held any ticket when the stage began: if not, every
        #: ticket it holds until the stage is closed went through the stage's index.
        self.held_before = True
        self._open = False
        self._temp_cache: int | None = None

    # -- the transaction -----------------------------------------------------------------

    def __enter__(self) -> TicketStage:
        conn = self.conn
        self._temp_cache = conn.execute("PRAGMA temp.cache_size").fetchone()[0]
        conn.execute(f"PRAGMA temp.cache_size=-{STAGE_CACHE_KIB}")
        # A heap appended in arrival order (AUTOINCREMENT: a position is never used
        # twice, even after a flush empties the heap), and the id index of every ticket
        # staged since the stage began, a flush keeping it (pos: the heap row, gone
        # once merged).
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS ticket_stage "
            f"(pos INTEGER PRIMARY KEY AUTOINCREMENT, {_COLUMNS})"
        )
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS ticket_stage_ids "
            "(id BLOB PRIMARY KEY, pos INTEGER NOT NULL) WITHOUT ROWID"
        )
        try:
            self._begin()
        except BaseException:
            self._drop()
            raise
        held = conn.execute("SELECT EXISTS(SELECT 1 FROM main.tickets)").fetchone()[0]
        self.held_before = bool(held)
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
            self._drop()  # a flush that could not begin again left nothing to commit
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
        if not self.staged:
            return
        conn = self.conn
        cache = conn.execute("PRAGMA main.cache_size").fetchone()[0]
        conn.execute(f"PRAGMA main.cache_size=-{MERGE_CACHE_KIB}")
        try:
            conn.execute(
                f"INSERT INTO main.tickets({_COLUMNS}) SELECT {_COLUMNS} FROM {STAGE} ORDER BY id"
            )
        finally:
            conn.execute(f"PRAGMA main.cache_size={cache}")
        conn.execute(f"DELETE FROM {STAGE}")
        self.staged = 0

    def _drop(self) -> None:
        """Give the temp schema's pages back (a lane's resident memory stays small)."""
        try:
            self.conn.execute("DROP TABLE IF EXISTS temp.ticket_stage")
            self.conn.execute("DROP TABLE IF EXISTS temp.ticket_stage_ids")
            self.conn.execute("DELETE FROM temp.sqlite_sequence WHERE name = 'ticket_stage'")
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
        last = conn.execute(f"SELECT coalesce(max(pos), 0) FROM {STAGE}").fetchone()[0]
        conn.executemany(f"INSERT INTO {STAGE}({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", rows)
        # A ticket staged before and issued again stops here (IntegrityError): the
        # caller checks the block again with every id looked up, which refuses it. In
        # id order, the index's inserts walk its leaves once (about 10% less CPU).
        conn.execute(
            f"INSERT INTO {STAGE_IDS}(id, pos) SELECT id, pos FROM {STAGE} WHERE pos > ? "
            "ORDER BY id",
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
            f"SELECT id, holder, ? FROM {STAGE} WHERE pos = ?",
            (height, row[0]),
        )
        conn.execute(f"UPDATE {STAGE} SET holder = ? WHERE pos = ?", (holder, row[0]))

    def note_applied(self) -> None:
        """A block was applied whole: flush when the stage holds a segment."""
        if self.staged >= self.segment:
            self.flush()

    def facts(self, block: Block, *, every_ticket: bool = False) -> StagedFacts:
        """The rules' view of ``block``: ``ledger.db`` in this transaction, and the
        stage. ``every_ticket``: look up the ids only issued too (see the module)."""
        if every_ticket:
            looked_up = None
        else:
            looked_up = {
                ticket_bytes(ev["ticket"])
                for ev in block.events
                if ev["op"] != "issue" and "ticket" in ev
            }
        return StagedFacts(self.conn, held_before=self.held_before, looked_up=looked_up)


class StagedFacts(SqlFacts):
    """:class:`~verifier.ledger_rules.LedgerFacts` of ``ledger.db`` plus the stage: a
    ticket is known when either holds it, revoked when ``revocations`` says so.

    ``looked_up``: the ids to look up in the stage (None: all of them); an id left out
    is only issued by the block, and the stage's index refuses it if it is staged.
    ``held_before``: whether ``tickets`` held tickets before the stage (if not, every
    one it holds is in the stage's index, and it is not asked)."""

    def __init__(
        self, conn: sqlite3.Connection, *, held_before: bool, looked_up: set[bytes] | None
    ) -> None:
        super().__init__(
            conn,
            shows_sql="SELECT event FROM main.shows",
            tickets_sql=(
                "SELECT t.id, EXISTS(SELECT 1 FROM main.revocations r WHERE r.ticket = t.id) "
                "FROM main.tickets t WHERE t.id IN ({marks})"
            ),
            devices_sql="SELECT device, key FROM main.devices WHERE device IN ({marks})",
        )
        self.held_before = held_before
        self.looked_up = looked_up

    def known_tickets(self, ids: Collection[bytes]) -> dict[bytes, bool]:
        found = super().known_tickets(ids) if self.held_before else {}
        wanted = [
            tid
            for tid in ids
            if tid not in found and (self.looked_up is None or tid in self.looked_up)
        ]
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
