"""The reference hub's state: one SQLite file, ``hub.db``, in the hub directory.

``hub.db`` holds everything the hub knows, so one transaction can change any of it:
the signed blocks exactly as served, the enrolled devices, every record received, the
``redeem``/``void`` events waiting for the next block, the operator token's hash, and
the ledger facts derived from the blocks (``hub.facts``: shows, tickets with their
entries and revocation, redeems, voids, the devices' keys), which the ledger rules and
the conflict report read. The facts of a block are written in the transaction that
stores it, so they can never disagree with the blocks; ``meta.facts_height`` says which
block they are level with.

Older hubs kept the facts in a second file, ``ledger.db`` (a copy of the gate's store);
a ``hub.db`` from then has no facts yet, and the authority rebuilds them from its blocks
when it opens it. ``ledger.db`` is not read any more.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from errors import StoreCorrupt, StoreError

HUB_DB = "hub.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY,
    hash   TEXT NOT NULL,
    time   INTEGER NOT NULL,
    body   TEXT NOT NULL          -- canonical JSON line, as served
);
CREATE TABLE IF NOT EXISTS devices (
    device     TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    enrolled   INTEGER NOT NULL,
    revoked    INTEGER            -- Unix time, NULL while enrolled
);
CREATE TABLE IF NOT EXISTS records (
    device   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    hash     TEXT NOT NULL,
    body     TEXT NOT NULL,       -- canonical JSON, exactly as the gate signed it
    received INTEGER NOT NULL,
    PRIMARY KEY (device, seq)
);
CREATE TABLE IF NOT EXISTS enrol_codes (
    code_hash TEXT PRIMARY KEY,   -- SHA-256 of the one-time code; the code is never stored
    expires   INTEGER NOT NULL,
    used      INTEGER,            -- Unix time it was used, NULL while unused
    device    TEXT
);
CREATE TABLE IF NOT EXISTS seen_requests (
    signature TEXT PRIMARY KEY,   -- a signed request already served: a replay is refused
    at        INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS operator_token (
    id     INTEGER PRIMARY KEY CHECK (id = 1),  -- one at a time: a new token replaces it
    sha256 TEXT NOT NULL,         -- SHA-256 of the bearer token; the token is never stored
    made   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL           -- a redeem or void event for the next block
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,       -- facts_height: the block the facts are level with
    value TEXT NOT NULL
) WITHOUT ROWID;

-- The ledger facts (hub/facts.py), derived from the blocks in the same transaction.
CREATE TABLE IF NOT EXISTS shows (
    event TEXT PRIMARY KEY        -- defined by an `event` op
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tickets (
    id      BLOB PRIMARY KEY,     -- the 16 bytes of the ticket id
    entries INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS redeems (
    device TEXT NOT NULL,         -- an admission a gate uploaded, as published
    seq    INTEGER NOT NULL,
    ticket BLOB NOT NULL,
    at     INTEGER NOT NULL,
    PRIMARY KEY (device, seq)
);
CREATE INDEX IF NOT EXISTS redeems_by_ticket ON redeems (ticket);
{voids}
CREATE TABLE IF NOT EXISTS ledger_devices (
    device TEXT PRIMARY KEY,      -- as the published `device` events say (revision 1.2);
    key    TEXT NOT NULL,         -- `devices` above is who may upload, this is the ledger
    active INTEGER NOT NULL
) WITHOUT ROWID;
"""


# A void's identity is its device, seq and ticket: it cancels the redeem at (device, seq)
# only when it names that redeem's ticket, so a void naming another ticket must not take
# the place of the matching one (as the gates key theirs, verifier/schema.py LEDGER_V5).
VOIDS = """CREATE TABLE IF NOT EXISTS voids (
    device TEXT NOT NULL,         -- cancels the redeem with the same device, seq, ticket
    seq    INTEGER NOT NULL,
    ticket BLOB NOT NULL,
    PRIMARY KEY (device, seq, ticket)
) WITHOUT ROWID;"""
SCHEMA = SCHEMA.replace("{voids}", VOIDS)


def _rekey_voids(conn: sqlite3.Connection) -> None:
    """A hub.db whose voids are keyed by (device, seq) alone, from before: the table is
    made again and the facts are marked not level, so the authority rebuilds them from
    the stored blocks (``Authority._level_facts``) under the new key."""
    columns = conn.execute("PRAGMA table_info(voids)").fetchall()
    key = [row[1] for row in sorted(columns, key=lambda row: row[5]) if row[5]]
    if key == ["device", "seq", "ticket"]:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DROP TABLE voids")
        conn.execute(VOIDS)
        conn.execute("DELETE FROM meta WHERE key = 'facts_height'")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def open_hub_db(hub_dir: Path) -> sqlite3.Connection:
    """Open (creating) ``hub.db``: WAL, synced commits, the schema in place."""
    if not hub_dir.is_dir():
        raise StoreError(f"hub directory {hub_dir} does not exist")
    path = hub_dir / HUB_DB
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        problem = conn.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            conn.close()
            raise StoreCorrupt(f"{path} is damaged ({problem}); the hub will not run on it")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
        _rekey_voids(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(f"{path} cannot be used: {exc}") from None
    return conn
