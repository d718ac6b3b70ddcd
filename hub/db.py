"""The reference hub's own state: one SQLite file, ``hub.db``, in the hub directory.

``hub.db`` is the hub's source of truth: the signed blocks exactly as served, the
enrolled devices, every record received, and the ``redeem``/``void`` events waiting
for the next block. Beside it, ``ledger.db`` is a verifier store holding the same chain
(derived from ``hub.db`` and rebuilt from it when they disagree): the authority applies
each block there before publishing it, so the hub never signs a block a gate would
refuse, and it reads ticket entries and admissions there to find double entries.
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
CREATE TABLE IF NOT EXISTS pending (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL           -- a redeem or void event for the next block
);
"""


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
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(f"{path} cannot be used: {exc}") from None
    return conn

