"""The ledger authority of the reference hub: signs, validates, stores and serves blocks.

Every block is checked with the gates' own chain and event rules
(``verifier.ledger_rules``) over the facts the hub keeps in ``hub.db`` (``hub.facts``)
before it is signed, stored and served, so the authority can never publish a block a
gate would refuse: an issue for an undefined event, a transfer of a revoked ticket, a
bad holder key are refused here, with the gate's own message, and nothing is signed.
The block and its facts are stored in one transaction, under ``hub.db``'s write lock
taken before the head is read, so another process of this hub (the server's heartbeat,
an operator's command) appending at the same time simply goes first. The ``redeem``
and ``void`` events that record intake queued go into the next block, heartbeats
included, so gates learn of each other's admissions.

The hub never opens the gate's store: what it needs of the ledger is in its own tables.
The signing key lives in the hub directory as ``authority.key`` (mode 0600), made the
same careful way as a gate's device key.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from errors import BlockRejected, InvalidArgument
from verifier.blocks import block_hash, make_block, parse_block
from verifier.canonical import canonical_json
from verifier.device_key import load_device_key
from verifier.keys import Signer
from verifier.ledger_rules import check_events, check_successor
from verifier.transactions import immediate_transaction as transaction

from . import facts
from .db import HUB_DB, open_hub_db

AUTHORITY_KEY = "authority.key"

#: The most events one block carries. A gate parses a block whole (a Raspberry Pi with
#: a 150 MB budget), so a big sale or a burst of redeems travels as several blocks.
MAX_BLOCK_EVENTS = 5000
#: The most blocks of queued redeems and voids one heartbeat publishes.
MAX_BLOCKS_PER_BEAT = 40


@dataclass(frozen=True, slots=True)
class Conflict:
    """A ticket admitted more times than its entries, across gates (offline double entry)."""

    ticket: str
    entries: int
    admissions: tuple[tuple[str, int, int], ...]  # (device, seq, at), oldest first


class Authority:
    """The hub's ledger authority over ``hub_dir``. ``close()`` is safe twice."""

    def __init__(self, hub_dir: str | Path) -> None:
        self.hub_dir = Path(hub_dir)
        self.db = open_hub_db(self.hub_dir)
        try:
            self.signer: Signer = load_device_key(self.hub_dir, name=AUTHORITY_KEY)
            self._level_facts()
        except BaseException:
            self.db.close()
            raise

    @property
    def public_key(self) -> bytes:
        return self.signer.public_key

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Authority:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _level_facts(self) -> None:
        """Rebuild the facts from the stored blocks, in one transaction, when they are
        not level with them: a ``hub.db`` from a hub that kept them in ``ledger.db``, or
        blocks put in by other means (a benchmark's prepared ledger)."""
        if facts.facts_height(self.db) == facts.head(self.db).height:
            return  # the usual case, read without the write lock
        with transaction(self.db):
            if facts.facts_height(self.db) != facts.head(self.db).height:
                facts.rebuild(self.db, self.public_key, str(self.hub_dir / HUB_DB))

    def head(self) -> tuple[int, str, int | None]:
        head = facts.head(self.db)
        return head.height, head.hash, head.time

    def publish(self, events: list[dict[str, Any]], now: int) -> list[dict[str, Any]]:
        """Sign and publish ``events`` in blocks of at most :data:`MAX_BLOCK_EVENTS`.

        The whole batch is checked first, as if it were one block, so a bad row anywhere
        in a 100,000-ticket import signs nothing (:class:`BlockRejected`).
        """
        if len(events) <= MAX_BLOCK_EVENTS:
            return [self.append(events, now)]
        height, prev, last_time = self.head()
        whole = make_block(
            self.signer,
            height + 1,
            prev,
            max(now, last_time if last_time is not None else now),
            events,
        )
        check_events(parse_block(canonical_json(whole)), facts.hub_facts(self.db))
        return [
            self.append(events[i : i + MAX_BLOCK_EVENTS], now)
            for i in range(0, len(events), MAX_BLOCK_EVENTS)
        ]

    def append(self, events: list[dict[str, Any]], now: int) -> dict[str, Any]:
        """Sign and publish the next block: ``events`` then queued redeems and voids, up
        to :data:`MAX_BLOCK_EVENTS` in all (the rest wait for the next block).

        Raises :class:`BlockRejected` (nothing signed, nothing dequeued) when the block
        would be invalid for a gate. The write lock is taken before the head is read, so
        a block another process of this hub appended first is built upon.
        """
        if len(events) > MAX_BLOCK_EVENTS:
            raise InvalidArgument(
                f"{len(events)} events is more than one block carries "
                f"({MAX_BLOCK_EVENTS}); use publish()"
            )
        with transaction(self.db):
            return self.append_in_transaction(events, now)

    def append_in_transaction(self, events: list[dict[str, Any]], now: int) -> dict[str, Any]:
        """:meth:`append` inside the caller's open transaction on ``hub.db`` (which holds
        the write lock), so that what the caller changed besides (a device enrolled)
        stands or falls with the block."""
        if len(events) > MAX_BLOCK_EVENTS:
            raise InvalidArgument(
                f"{len(events)} events is more than one block carries ({MAX_BLOCK_EVENTS})"
            )
        head = facts.head(self.db)
        pending = self.db.execute(
            "SELECT id, event FROM pending ORDER BY id LIMIT ?",
            (MAX_BLOCK_EVENTS - len(events),),
        ).fetchall()
        body = list(events) + [json.loads(event) for _, event in pending]
        block = make_block(
            self.signer,
            head.height + 1,
            head.hash,
            max(now, head.time if head.time is not None else now),
            body,
        )
        line = canonical_json(block).decode("utf-8")
        parsed = parse_block(line)  # the gates' own checks, then their chain rules
        check_successor(parsed, head, self.public_key)
        check_events(parsed, facts.hub_facts(self.db))
        facts.add_block(self.db, parsed)
        self.db.execute(
            "INSERT INTO blocks(height, hash, time, body) VALUES (?,?,?,?)",
            (block["height"], block_hash(block).hex(), block["time"], line),
        )
        if pending:
            self.db.execute("DELETE FROM pending WHERE id <= ?", (pending[-1][0],))
        return block

    def heartbeat(self, now: int) -> dict[str, Any]:
        """A block with no events of its own: tells the gates how fresh their copy is,
        and carries the queued redeems and voids (several blocks when many are queued)."""
        block = self.append([], now)
        for _ in range(MAX_BLOCKS_PER_BEAT - 1):
            if not self.db.execute("SELECT 1 FROM pending LIMIT 1").fetchone():
                break
            block = self.append([], now)
        return block

    def blocks_page(self, height: int, max_bytes: int) -> list[str]:
        """Blocks above ``height`` in order, as many as fit in ``max_bytes`` (at least
        one): a gate far behind pulls page after page with bounded memory on both sides."""
        page: list[str] = []
        size = 0
        for body in self.blocks_since(height):
            if page and size + len(body) + 1 > max_bytes:
                break
            page.append(body)
            size += len(body) + 1
        return page

    def blocks_since(self, height: int) -> Iterator[str]:
        """The canonical JSON lines of every block above ``height``, in order.

        Read lazily from the hub's connection, so consume it on the hub's own thread.
        """
        cursor = self.db.execute(
            "SELECT body FROM blocks WHERE height > ? ORDER BY height", (height,)
        )
        for (body,) in cursor:
            yield body

    def conflicts(self) -> list[Conflict]:
        """Tickets with more counted admissions than entries, from the published ledger."""
        return [
            Conflict(
                ticket=str(uuid.UUID(bytes=ticket)), entries=entries, admissions=tuple(admissions)
            )
            for ticket, entries, admissions in facts.over_admitted(self.db)
        ]


__all__ = ["AUTHORITY_KEY", "MAX_BLOCK_EVENTS", "Authority", "BlockRejected", "Conflict"]
