"""The SQLite schemas of a gate's state (ledger.db, records.db, peers.db), and their migrations.

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

# Version 4 (PROTOCOL.md revision 1.2) keeps each device a `device` event named: the key
# it signs its records with and whether it is active, which is what a peer record is
# checked against (verifier.peer_records). A gate before it refused every block with a
# `device` event (an unknown op), so no block it applied has one to replay.
LEDGER_V4 = """
CREATE TABLE devices (
    device TEXT PRIMARY KEY,
    key    BLOB NOT NULL,
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    height INTEGER NOT NULL       -- the block of the newest `device` event naming it
) WITHOUT ROWID;
"""

# Version 5 makes a void's identity its device, seq *and ticket*: a void cancels the
# admission at (device, seq) only when it names that admission's ticket (the decision's
# statement asks exactly that), so a void naming another ticket must not take the place
# of the one that names the right ticket. Keyed by (device, seq) alone, the first void
# stored for a seq won and a later, matching one was dropped: a device that voided seq 1
# naming the wrong ticket, then the right one, left its admission counted
# (tests/test_properties.py found it).
LEDGER_V5 = """
CREATE TABLE voids_v5 (
    device TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    ticket BLOB NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('local', 'ledger')),
    PRIMARY KEY (device, seq, ticket)
) WITHOUT ROWID;
INSERT INTO main.voids_v5(device, seq, ticket, origin)
    SELECT device, seq, ticket, origin FROM main.voids;
DROP TABLE main.voids;
ALTER TABLE main.voids_v5 RENAME TO voids;
"""

#: MIGRATIONS[i] upgrades ledger.db at version i to version i + 1.
MIGRATIONS: tuple[str, ...] = (SCHEMA_V1, LEDGER_V2, LEDGER_V3, LEDGER_V4, LEDGER_V5)
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

# peers.db: records this gate learned from its peers on the LAN (PROTOCOL.md section 5),
# each accepted only when it verifies under its device's key from the ledger and
# continues that device's chain as held here. A file of its own (verifier.peer_records
# says why): the peer service writes it under its own lock, never records.db's.
PEERS_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Each device's chain as far as this gate holds it, from seq 1 with no gaps.
-- body is the record's canonical JSON including sig.
CREATE TABLE peer_records (
    device   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    hash     BLOB NOT NULL,
    body     TEXT NOT NULL,
    received INTEGER NOT NULL,
    PRIMARY KEY (device, seq)
);

-- What the decision counts of them: admissions (admitted records with a ticket) ...
CREATE TABLE peer_admissions (
    device TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    ticket BLOB NOT NULL,
    step   INTEGER,
    at     INTEGER NOT NULL,
    PRIMARY KEY (device, seq)
);
CREATE INDEX peer_admissions_by_ticket ON peer_admissions (ticket);

-- ... and voids: seq is the voided admission's (the voided record's ref).
CREATE TABLE peer_voids (
    device TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    ticket BLOB NOT NULL,
    PRIMARY KEY (device, seq)
) WITHOUT ROWID;

-- Records that verify but lie beyond a gap in their device's chain: held aside, not
-- counted, until the records before them arrive.
CREATE TABLE peer_waiting (
    device   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    hash     BLOB NOT NULL,
    body     TEXT NOT NULL,
    received INTEGER NOT NULL,
    PRIMARY KEY (device, seq)
);

-- Evidence of forks: two hashes for one device and seq. held is the hash this gate holds
-- at seq (NULL: none: a record of this gate's own device that it never wrote); hash is
-- the other, proved by body, a validly signed record that is either the other record
-- at seq itself or its successor at seq + 1, whose prev is hash.
CREATE TABLE peer_forks (
    device   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    hash     BLOB NOT NULL,
    held     BLOB,
    body     TEXT NOT NULL,
    received INTEGER NOT NULL,
    PRIMARY KEY (device, seq, hash)
) WITHOUT ROWID;
"""

# The peers this gate exchanges with, as its peer exchange last saw them (``gate peers
# status`` reads it; the exchange writes it every few seconds, not at every message).
# heads is the peer's GET /v1/peer/heads as last read, JSON {device: seq}.
PEERS_V2 = """
CREATE TABLE peer_links (
    url          TEXT PRIMARY KEY,
    source       TEXT NOT NULL,
    device       TEXT,
    last_contact INTEGER,
    last_error   TEXT,
    error_at     INTEGER,
    heads        TEXT NOT NULL,
    updated      INTEGER NOT NULL
) WITHOUT ROWID;
"""

# The newest time a peer's admission proves (verifier.time_floor), one index step away,
# as records.db's local_admissions_by_time: the expression must stay the query's.
PEERS_V3 = """
CREATE INDEX peer_admissions_by_time ON peer_admissions (min(at, step * 15))
    WHERE step IS NOT NULL;
"""

# Version 4: a peer's void is identified by its ticket too, as ledger.db's voids are
# from version 5 (the reason is there).
PEERS_V4 = """
CREATE TABLE peer_voids_v4 (
    device TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    ticket BLOB NOT NULL,
    PRIMARY KEY (device, seq, ticket)
) WITHOUT ROWID;
INSERT INTO peer.peer_voids_v4(device, seq, ticket)
    SELECT device, seq, ticket FROM peer.peer_voids;
DROP TABLE peer.peer_voids;
ALTER TABLE peer.peer_voids_v4 RENAME TO peer_voids;
"""

#: PEERS_MIGRATIONS[i] upgrades peers.db at version i to version i + 1.
PEERS_MIGRATIONS: tuple[str, ...] = (PEERS_V1, PEERS_V2, PEERS_V3, PEERS_V4)
