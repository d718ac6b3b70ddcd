"""What the chain rules need to know, read from an SQLite database by two queries.

:func:`~verifier.ledger_rules.check_events` asks the ledger held for its defined shows
and, in one batch each, for the tickets and the devices a block names. The gate's ledger copy
(``ledger.db``) and the hub's own database (``hub.db``) keep those facts in different
tables, so each passes its own three queries; the batching (``IN (...)`` in chunks well
under SQLite's limit on bound parameters) is written once, here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

#: Ticket ids per ``IN (...)`` lookup.
LOOKUP_CHUNK = 900


class SqlFacts:
    """:class:`~verifier.ledger_rules.LedgerFacts` over ``conn``, in its current
    transaction.

    ``shows_sql`` selects one column, the defined event ids. ``tickets_sql`` selects
    ``(id, revoked)`` rows and contains ``{marks}`` where the ``IN (...)`` list of
    placeholders goes, e.g. ``SELECT id, revoked FROM tickets WHERE id IN ({marks})``.
    ``devices_sql`` likewise selects ``(device, key)`` rows, the key as 32 bytes or as
    64 hex.
    """

    def __init__(
        self, conn: sqlite3.Connection, *, shows_sql: str, tickets_sql: str, devices_sql: str
    ) -> None:
        self.conn = conn
        self.shows_sql = shows_sql
        self.tickets_sql = tickets_sql
        self.devices_sql = devices_sql

    def defined_shows(self) -> set[str]:
        return {row[0] for row in self.conn.execute(self.shows_sql)}

    def known_tickets(self, ids: Collection[bytes]) -> dict[bytes, bool]:
        found: dict[bytes, bool] = {}
        wanted = list(ids)
        for i in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[i : i + LOOKUP_CHUNK]
            sql = self.tickets_sql.format(marks=",".join("?" * len(chunk)))
            found.update((tid, bool(revoked)) for tid, revoked in self.conn.execute(sql, chunk))
        return found

    def device_keys(self, ids: Collection[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        wanted = list(ids)
        for i in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[i : i + LOOKUP_CHUNK]
            sql = self.devices_sql.format(marks=",".join("?" * len(chunk)))
            found.update(
                (device, key if isinstance(key, bytes) else bytes.fromhex(key))
                for device, key in self.conn.execute(sql, chunk)
            )
        return found


__all__ = ["LOOKUP_CHUNK", "SqlFacts"]
