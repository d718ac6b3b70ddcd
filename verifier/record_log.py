"""This gate's record log in ``records.db``: appending signed records, and the upload cursor.

Every decision a gate records is appended here as one signed, hash-chained record
(:mod:`verifier.records` makes them), together with what it implies for later
decisions: an admission with a ticket counts against that ticket, a ``voided`` record
cancels one. The log is the one thing a gate cannot get back from the hub, so what
belongs to it lives in its file: the upload cursor (the last seq the hub acknowledged)
too, which a ledger copy moved aside and synced again must not take with it.

An append is made inside :meth:`RecordLog.appending`, the write transaction on
``records.db`` alone: the caller decides inside it (reading ``ledger.db`` from a
snapshot) and appends the decision's record, so two processes can never both admit the
last entry of a ticket, and the record is committed, synced, when the block ends.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager

from errors import StoreError

from .blocks import ZERO_HASH
from .canonical import canonical_json
from .keys import Signer
from .ledger_rules import ticket_bytes
from .records import make_record
from .schema import LAST_EXCHANGE_KEY, UPLOAD_CURSOR_KEY
from .time_floor import NO_FLOOR, TimeFloor
from .transactions import file_transaction


class RecordLog:
    """``device``'s record log over ``conn`` (a :class:`~verifier.state_files.StateFiles`
    connection), signed by ``signer``."""

    def __init__(self, conn: sqlite3.Connection, *, device: str, signer: Signer) -> None:
        self.conn = conn
        self.device = device
        self.signer = signer

    # -- appending ---------------------------------------------------------------------

    def appending(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction on records.db only, committed whole or rolled back: it
        takes records.db's write lock and reads ledger.db from a snapshot, so a block
        being applied never delays it. :meth:`append` is called inside it."""
        return file_transaction(self.conn, "rec")

    def append(
        self,
        at: int,
        ticket: str | None,
        step: int | None,
        result: str,
        reason: str,
        *,
        ref: int | None = None,
        note: str | None = None,
    ) -> int:
        """Sign and append the next record, with its effect on admissions; return its
        seq. Only inside :meth:`appending`."""
        conn = self.conn
        if not conn.in_transaction:
            raise StoreError("a record is appended only inside RecordLog.appending()")
        last_seq, last_hash = self.last_record()
        seq = last_seq + 1
        record, digest = make_record(
            self.signer,
            device=self.device,
            seq=seq,
            prev=last_hash,
            at=at,
            ticket=ticket,
            step=step,
            result=result,
            reason=reason,
            ref=ref,
            note=note,
        )
        conn.execute(
            "INSERT INTO rec.records(seq, hash, body) VALUES (?, ?, ?)",
            (seq, digest, canonical_json(record).decode("utf-8")),
        )
        if ticket is not None:
            if result == "admitted":
                conn.execute(
                    "INSERT OR IGNORE INTO rec.local_admissions(seq, ticket, step, at)"
                    " VALUES (?, ?, ?, ?)",
                    (seq, ticket_bytes(ticket), step, at),
                )
            elif result == "voided":
                conn.execute(
                    "INSERT OR IGNORE INTO rec.local_voids(seq, ticket) VALUES (?, ?)",
                    (ref, ticket_bytes(ticket)),
                )
        return seq

    # -- reading -----------------------------------------------------------------------

    def last_record(self) -> tuple[int, str]:
        """(seq, hash hex) of the newest record; (0, 64 zeros) when the log is empty."""
        row = self.conn.execute(
            "SELECT seq, hash FROM rec.records ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return (0, ZERO_HASH) if row is None else (row[0], row[1].hex())

    def time_floor(self) -> TimeFloor:
        """The newest time this gate's own admissions prove.

        An admission by the decision is this gate's clock (``at``) and a wallet's (the
        code's ``step``) agreeing within the code window, so it proves the lower of the
        two: no single clock that was wrong (a gate set hours ahead, then put right; a
        phone far ahead) can raise the floor. Refusals, overrides and voids carry the
        gate's clock alone and prove nothing. One step of the ``local_admissions_by_time``
        index (records.db version 2)."""
        row = self.conn.execute(
            "SELECT seq, min(at, step * 15) FROM rec.local_admissions WHERE step IS NOT NULL "
            "ORDER BY min(at, step * 15) DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return NO_FLOOR
        return TimeFloor(row[1], f"admission record {row[0]}")

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM rec.records").fetchone()[0]

    def admitted_ticket(self, seq: int) -> str | None:
        """The ticket of this gate's admission ``seq`` if it still counts, else None."""
        row = self.conn.execute(
            "SELECT l.ticket FROM rec.local_admissions l WHERE l.seq = :seq AND NOT EXISTS "
            "(SELECT 1 FROM rec.local_voids v WHERE v.seq = l.seq AND v.ticket = l.ticket) "
            "AND NOT EXISTS (SELECT 1 FROM main.voids v WHERE v.device IS :device AND "
            "v.seq = l.seq AND v.ticket = l.ticket)",
            {"seq": seq, "device": self.device},
        ).fetchone()
        return None if row is None else str(uuid.UUID(bytes=row[0]))

    def bodies(self, since: int = 0) -> Iterator[str]:
        """The canonical JSON of every record with seq > ``since``, in order."""
        cursor = self.conn.execute(
            "SELECT body FROM rec.records WHERE seq > ? ORDER BY seq", (since,)
        )
        for (body,) in cursor:
            yield body

    # -- the upload cursor -------------------------------------------------------------

    def upload_cursor(self) -> int:
        """The last seq the hub acknowledged holding (0: none yet)."""
        return int(self._meta(UPLOAD_CURSOR_KEY) or 0)

    def set_upload_cursor(self, seq: int) -> None:
        self._set_meta(UPLOAD_CURSOR_KEY, str(seq))

    def last_exchange(self) -> int | None:
        """Unix time of the last sync exchange with nothing wrong, if any."""
        value = self._meta(LAST_EXCHANGE_KEY)
        return int(value) if value else None

    def set_last_exchange(self, now: int) -> None:
        self._set_meta(LAST_EXCHANGE_KEY, str(now))

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM rec.meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: str) -> None:
        with file_transaction(self.conn, "rec"):
            self.conn.execute(
                "INSERT INTO rec.meta(key, value) VALUES (?, ?) ON CONFLICT(key) "
                "DO UPDATE SET value = excluded.value",
                (key, value),
            )


__all__ = ["RecordLog"]
