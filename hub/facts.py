"""The ledger facts the hub keeps in ``hub.db``: what the rules and the conflict report read.

The gate's store keeps a full copy of the ledger for its decisions (holders, zones,
validity); the hub needs much less, and keeps it beside its blocks in its own tables
(``hub.db``): the shows defined, each ticket's entries and whether it is revoked, the
published ``redeem`` and ``void`` events, and each device's key and whether it is
active as the published ``device`` events say (``ledger_devices``). :func:`hub_facts` is the
:class:`~verifier.ledger_rules.LedgerFacts` the chain and event rules
(``verifier.ledger_rules``, the gates' own) are applied over before the authority signs
a block, :func:`over_admitted` is the double-entry report, and :func:`device_events_due`
is what keeps the published devices in step with the enrolled ones.

Every function here works inside the caller's transaction: :func:`add_block` is called
in the transaction that stores the block, so blocks and facts commit together.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from errors import BlockRejected, EncodingError, StoreCorrupt
from verifier.blocks import Block, parse_block
from verifier.keys import is_valid_point
from verifier.ledger_rules import EMPTY_HEAD, Head, check_events, check_successor, ticket_bytes
from verifier.sql_facts import SqlFacts

FACTS_HEIGHT = "facts_height"

# The admissions that count: published redeems not cancelled by a void naming the same
# device, seq and ticket (the gates count them the same way).
_COUNTED = """
SELECT r.device, r.seq, r.ticket, r.at FROM redeems r
 WHERE NOT EXISTS (SELECT 1 FROM voids v WHERE v.device = r.device AND v.seq = r.seq
                   AND v.ticket = r.ticket)
"""


def hub_facts(conn: sqlite3.Connection) -> SqlFacts:
    """What the chain rules read of ``hub.db``, in the caller's transaction."""
    return SqlFacts(
        conn,
        shows_sql="SELECT event FROM shows",
        tickets_sql="SELECT id, revoked FROM tickets WHERE id IN ({marks})",
        devices_sql="SELECT device, key FROM ledger_devices WHERE device IN ({marks})",
    )


def head(conn: sqlite3.Connection) -> Head:
    """The newest block stored (:data:`~verifier.ledger_rules.EMPTY_HEAD` when none)."""
    row = conn.execute(
        "SELECT height, hash, time FROM blocks ORDER BY height DESC LIMIT 1"
    ).fetchone()
    return EMPTY_HEAD if row is None else Head(row[0], row[1], row[2])


def facts_height(conn: sqlite3.Connection) -> int | None:
    """The block the facts are level with; None when they were never built (a hub
    directory from before they lived in ``hub.db``)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (FACTS_HEIGHT,)).fetchone()
    return None if row is None else int(row[0])


def add_block(conn: sqlite3.Connection, block: Block) -> None:
    """Add the facts of ``block``, which the rules accepted on top of the facts held.

    Runs of ``issue`` events, the bulk of any sale, go in with one ``executemany``."""
    issues: list[tuple[Any, ...]] = []

    def flush_issues() -> None:
        if issues:
            conn.executemany("INSERT INTO tickets(id, entries) VALUES (?, ?)", issues)
            issues.clear()

    for ev in block.events:
        op = ev["op"]
        if op == "issue":
            issues.append((ticket_bytes(ev["ticket"]), ev["entries"]))
            continue
        flush_issues()
        if op == "event":
            conn.execute("INSERT OR IGNORE INTO shows(event) VALUES (?)", (ev["event"],))
        elif op == "revoke":
            conn.execute(
                "UPDATE tickets SET revoked = 1 WHERE id = ?", (ticket_bytes(ev["ticket"]),)
            )
        elif op == "redeem":
            conn.execute(
                "INSERT OR IGNORE INTO redeems(device, seq, ticket, at) VALUES (?, ?, ?, ?)",
                (ev["device"], ev["seq"], ticket_bytes(ev["ticket"]), ev["at"]),
            )
        elif op == "void":
            conn.execute(
                "INSERT OR IGNORE INTO voids(device, seq, ticket) VALUES (?, ?, ?)",
                (ev["device"], ev["seq"], ticket_bytes(ev["ticket"])),
            )
        elif op == "device":  # the rules made sure a known device keeps its key
            conn.execute(
                "INSERT INTO ledger_devices(device, key, active) VALUES (?, ?, ?) "
                "ON CONFLICT(device) DO UPDATE SET active = excluded.active",
                (ev["device"], ev["key"], int(ev["active"])),
            )
        # transfer: the holder is no fact the hub's rules or reports need
    flush_issues()
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
        "SET value = excluded.value",
        (FACTS_HEIGHT, str(block.height)),
    )


def rebuild(conn: sqlite3.Connection, ledger_key: bytes, where: str) -> int:
    """Build the facts again from every stored block, each checked by the gates' rules
    under ``ledger_key``; the number of blocks. :class:`StoreCorrupt` (naming ``where``
    and the height) for a stored block that does not pass."""
    for table in ("shows", "tickets", "redeems", "voids", "ledger_devices"):
        conn.execute(f"DELETE FROM {table}")
    conn.execute("DELETE FROM meta WHERE key = ?", (FACTS_HEIGHT,))
    held = EMPTY_HEAD
    heights = [r[0] for r in conn.execute("SELECT height FROM blocks ORDER BY height")]
    for height in heights:
        body, stored_hash = conn.execute(
            "SELECT body, hash FROM blocks WHERE height = ?", (height,)
        ).fetchone()
        try:
            block = parse_block(body)
            check_successor(block, held, ledger_key)
            check_events(block, hub_facts(conn))
        except (BlockRejected, EncodingError) as exc:
            raise StoreCorrupt(
                f"{where}: stored block {height} does not pass the ledger "
                f"rules ({exc}); the hub will not run on it"
            ) from None
        if block.height != height or block.hash.hex() != stored_hash:
            raise StoreCorrupt(f"{where}: stored block {height} does not match its row")
        add_block(conn, block)
        held = Head(block.height, stored_hash, block.time)
    return len(heights)


def device_events_due(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The ``device`` events that would bring the published devices level with the
    enrolled ones (``devices``): one for each device enrolled but never published, and
    one for each whose revocation is not published yet; none when they agree, so
    publishing them is idempotent. Oldest enrolment first.

    A device published with another key than it is enrolled with (which only a hand-
    edited ``hub.db`` can hold: enrolment refuses a known id with another key) is left
    out: the ledger rules would refuse the block, and a device id keeps its key. So is
    a key that is not a valid point (the holder-key rule), which no device key made
    from a seed is, but which enrolment before revision 1.2 did not check."""
    rows = conn.execute(
        "SELECT d.device, d.public_key, d.revoked IS NULL FROM devices d "
        "LEFT JOIN ledger_devices l ON l.device = d.device "
        "WHERE l.device IS NULL OR (l.key = d.public_key AND l.active != (d.revoked IS NULL)) "
        "ORDER BY d.enrolled, d.device"
    ).fetchall()
    return [
        {"op": "device", "device": device, "key": key, "active": bool(active)}
        for device, key, active in rows
        if is_valid_point(bytes.fromhex(key))  # else no block could carry it
    ]


def over_admitted(conn: sqlite3.Connection) -> list[tuple[bytes, int, list[tuple[str, int, int]]]]:
    """Tickets with more counted admissions than entries, in ticket id order: (ticket,
    entries, [(device, seq, at), ...] oldest first)."""
    found = []
    for ticket, entries in conn.execute(
        f"SELECT c.ticket, t.entries FROM ({_COUNTED}) c JOIN tickets t "
        "ON t.id = c.ticket GROUP BY c.ticket HAVING count(*) > t.entries "
        "ORDER BY c.ticket"
    ).fetchall():
        admissions = [
            (d, s, a)
            for d, s, _, a in conn.execute(
                f"SELECT * FROM ({_COUNTED}) WHERE ticket = ?", (ticket,)
            )
        ]
        found.append((ticket, entries, sorted(admissions, key=lambda x: (x[2], x[0], x[1]))))
    return found


__all__ = [
    "FACTS_HEIGHT",
    "add_block",
    "device_events_due",
    "facts_height",
    "head",
    "hub_facts",
    "over_admitted",
    "rebuild",
]
