"""The SQLite schemas of a gate's state (ledger.db and records.db), and their migrations.

``PRAGMA user_version`` holds the schema version. Each entry of ``MIGRATIONS`` takes the
database from version i to i+1 and runs in the same transaction that bumps the
version, so an interrupted upgrade leaves the previous version intact.

Ticket ids and keys are stored as raw bytes: a 1,000,000-ticket ledger is half the
size it would be in hex, and the decision looks a ticket up by the 16 bytes the token
carries without converting them.
"""

from __future__ import annotations

SCHEMA_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- The chain: one row per applied block (the head is the highest height).
CREATE TABLE blocks (
    height   INTEGER PRIMARY KEY,
    hash     BLOB NOT NULL,
    time     INTEGER NOT NULL,
    n_events INTEGER NOT NULL
);

-- Shows defined by `event` ops.
CREATE TABLE shows (
    event  TEXT PRIMARY KEY,
    name   TEXT NOT NULL,
    starts INTEGER NOT NULL,
    ends   INTEGER NOT NULL
) WITHOUT ROWID;

-- Tickets with their current holder key. zones: JSON list text, '[]' means any.
CREATE TABLE tickets (
    id         BLOB PRIMARY KEY,
    event      TEXT NOT NULL,
    holder     BLOB NOT NULL,
    valid_from INTEGER NOT NULL,
    until      INTEGER NOT NULL,
    zones      TEXT NOT NULL,
    entries    INTEGER NOT NULL,
    label      TEXT NOT NULL,
    height     INTEGER NOT NULL
) WITHOUT ROWID;

-- Every earlier holder key of a ticket (the current one is in tickets.holder).
CREATE TABLE previous_holders (
    ticket BLOB NOT NULL,
    holder BLOB NOT NULL,
    height INTEGER NOT NULL,
    PRIMARY KEY (ticket, holder)
) WITHOUT ROWID;

CREATE TABLE revocations (
    ticket BLOB PRIMARY KEY,
    reason TEXT NOT NULL,
    height INTEGER NOT NULL
) WITHOUT ROWID;

-- Admissions that count: this gate's own (origin 'local', from its record log) and
-- every gate's `redeem` events (origin 'ledger'). One row per (device, seq).
CREATE TABLE admissions (
    device TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    ticket BLOB NOT NULL,
    step   INTEGER,
    at     INTEGER NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('local', 'ledger')),
    PRIMARY KEY (device, seq)
);
CREATE INDEX admissions_by_ticket ON admissions (ticket);

-- Admissions that did not happen: local `voided` records and ledger `void` events.
CREATE TABLE voids (
    device TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    ticket BLOB NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('local', 'ledger')),
    PRIMARY KEY (device, seq)
) WITHOUT ROWID;

-- This gate's signed, hash-chained decision log (PROTOCOL.md section 3).
-- body is the record's canonical JSON including sig, exactly as exported.
CREATE TABLE records (
    seq  INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    body TEXT NOT NULL
);
"""

# Version 2 moves the record log and this gate's own admissions and voids out of the
# ledger file into records.db (RECORDS_V1), so an admission's synced commit never waits
# for a block that is being applied: each file has its own write lock. The store copies
# the rows into records.db and commits there before this runs (see StateFiles._migrate).
LEDGER_V2 = """
DELETE FROM main.admissions WHERE origin = 'local';
DELETE FROM main.voids WHERE origin = 'local';
DROP TABLE main.records;
"""

# Version 3 indexes tickets by label, case-insensitively (ASCII), for a steward's lookup
# over the control socket ("the GA ticket of Ann"): without it a lookup by label scans
# the whole ticket table on the lane's thread, between two decisions.
LEDGER_V3 = """
CREATE INDEX tickets_by_label ON tickets (label COLLATE NOCASE);
"""

#: MIGRATIONS[i] upgrades ledger.db at version i to version i + 1.
MIGRATIONS: tuple[str, ...] = (SCHEMA_V1, LEDGER_V2, LEDGER_V3)
SCHEMA_VERSION = len(MIGRATIONS)

# records.db: this gate's decision log and what it implies for the decision. It is the
# one thing a gate cannot get back from the hub, so it lives apart from the ledger copy
# (which can be rebuilt by a sync) and is written only by decisions.
RECORDS_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- This gate's signed, hash-chained decision log (PROTOCOL.md section 3).
-- body is the record's canonical JSON including sig, exactly as exported.
CREATE TABLE records (
    seq  INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    body TEXT NOT NULL
);

-- This gate's admissions (records admitted with a ticket), by record seq.
CREATE TABLE local_admissions (
    seq    INTEGER PRIMARY KEY,
    ticket BLOB NOT NULL,
    step   INTEGER,
    at     INTEGER NOT NULL
);
CREATE INDEX local_admissions_by_ticket ON local_admissions (ticket);

-- This gate's voided admissions: seq is the admission's seq (the record's ref).
CREATE TABLE local_voids (
    seq    INTEGER PRIMARY KEY,
    ticket BLOB NOT NULL
);
"""

# Version 2 indexes this gate's admissions by the time each proves (the lower of the
# gate's clock and the wallet's, ``verifier.record_log.RecordLog.time_floor``), so the
# newest is one index step for every decision rather than a scan of the day's entries.
# The expression must stay exactly the one the query orders by.
RECORDS_V2 = """
CREATE INDEX local_admissions_by_time ON local_admissions (min(at, step * 15))
    WHERE step IS NOT NULL;
"""

#: RECORDS_MIGRATIONS[i] upgrades records.db at version i to version i + 1.
RECORDS_MIGRATIONS: tuple[str, ...] = (RECORDS_V1, RECORDS_V2)

# records.db's meta: the upload cursor (the last seq the hub acknowledged) and the Unix
# time of the last sync exchange with nothing wrong. Both were kept in ledger.db's meta
# before; the state moves them over at open (``StateFiles._move_to_records``).
UPLOAD_CURSOR_KEY = "hub_acked_seq"
LAST_EXCHANGE_KEY = "hub_last_success"
MOVED_TO_RECORDS = (UPLOAD_CURSOR_KEY, LAST_EXCHANGE_KEY)
