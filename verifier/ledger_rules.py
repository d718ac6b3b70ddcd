"""The ledger's chain rules (PROTOCOL.md section 2), as pure functions of what is held.

``parse_block`` checks what a block says on its own (shape, types, holder keys); the
rules here need the chain: the next height, ``prev``, time that never goes back, the
authority's signature, and the event rules that need the ledger (an ``issue`` only for
a defined event and a ticket not yet issued; ``transfer``, ``revoke``, ``redeem`` and
``void`` only of a ticket that exists; no ``transfer`` of a revoked ticket; a ``device``
event never gives a known device another key).

Two parties apply them: the gate's ledger copy (``verifier.ledger_state``, SQLite) and
the hub's ledger authority (``hub``, its own schema), which checks every block with
exactly these functions before it signs it, so it can never publish a block a gate
would refuse. Neither side's storage is visible here: what is held reaches the rules
through :class:`LedgerFacts`, asked once per block for every ticket the block names
(one batched lookup, not one per event), and once for the devices it names.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from errors import BlockRejected, ForkDetected

from .blocks import ZERO_HASH, Block, signature_valid


@dataclass(frozen=True, slots=True)
class Head:
    """The newest block held: height -1 and 64 zeros when the ledger is empty."""

    height: int
    hash: str
    time: int | None


EMPTY_HEAD = Head(-1, ZERO_HASH, None)


class LedgerFacts(Protocol):
    """What the event rules need to know of the ledger held before a block."""

    def defined_shows(self) -> Collection[str]:
        """The event ids defined so far (``event`` ops)."""
        ...

    def known_tickets(self, ids: Collection[bytes]) -> Mapping[bytes, bool]:
        """Of ``ids`` (16-byte ticket ids), those issued so far, each mapped to whether
        it is revoked. Ids not issued are simply absent."""
        ...

    def device_keys(self, ids: Collection[str]) -> Mapping[str, bytes]:
        """Of ``ids`` (device ids), those a ``device`` event named so far, each mapped to
        its 32-byte key. Asked only of blocks that carry ``device`` events."""
        ...


def ticket_bytes(text: str) -> bytes:
    """16 raw bytes of a canonical UUID text (already validated by the block parser)."""
    return bytes.fromhex(text.replace("-", ""))


def check_successor(
    block: Block, head: Head, ledger_key: bytes, held_hash: bytes | None = None
) -> bool:
    """May ``block`` follow ``head``? True: apply it. False: it is already held.

    ``held_hash`` is the hash held at ``block.height`` when that height is held (the
    caller looks it up only then). Raise :class:`BlockRejected` for a bad signature, a
    gap, a wrong ``prev`` or time going back, and :class:`ForkDetected` for a validly
    signed block that differs from the one held at its height.
    """

    def reject(reason: str, detail: str) -> BlockRejected:
        return BlockRejected(reason, detail, height=block.height)

    if not signature_valid(block, ledger_key):
        raise reject(
            "signature",
            "signature is not the pinned ledger key's "
            f"({ledger_key.hex()[:16]}…), or the block was edited after signing",
        )
    if block.height <= head.height:
        if held_hash == block.hash:
            return False
        held = held_hash.hex()[:16] if held_hash is not None else "?"
        raise ForkDetected(
            "fork",
            f"differs from the block held at this height (held "
            f"{held}…, offered {block.hash.hex()[:16]}…); the ledger "
            "authority forked its chain",
            height=block.height,
        )
    if block.height != head.height + 1:
        raise reject("height", f"height gap: the next block is {head.height + 1}")
    if block.prev != head.hash:
        raise reject(
            "prev",
            f"prev {block.prev[:16]}… is not the hash of block {head.height} ({head.hash[:16]}…)",
        )
    if head.time is not None and block.time < head.time:
        raise reject("time", f"time {block.time} is before block {head.height}'s time {head.time}")
    return True


def check_events(block: Block, facts: LedgerFacts) -> None:
    """Raise :class:`BlockRejected` (reason ``event``) naming the first event, in order,
    that breaks a rule on top of ``facts``; return when the whole block may be applied.

    Events apply in order, so an ``issue`` may follow the ``event`` that defines its
    show in the same block, and a ``transfer`` may follow a ``revoke`` only to be
    refused. Nothing is changed: the caller applies the block after this returns.
    """
    shows = set(facts.defined_shows())
    named = {ticket_bytes(ev["ticket"]) for ev in block.events if "ticket" in ev}
    revoked: dict[bytes, bool] = dict(facts.known_tickets(named)) if named else {}
    devices = {ev["device"] for ev in block.events if ev["op"] == "device"}
    keys: dict[str, bytes] = dict(facts.device_keys(devices)) if devices else {}

    def reject(detail: str) -> BlockRejected:
        return BlockRejected("event", detail, height=block.height)

    for index, ev in enumerate(block.events):
        op = ev["op"]
        if op == "event":
            shows.add(ev["event"])
            continue
        if op == "device":  # revision 1.2: a device id keeps one key for ever
            key = bytes.fromhex(ev["key"])
            held = keys.setdefault(ev["device"], key)
            if held != key:
                raise reject(
                    f"event {index} (device): device {ev['device']!r} has key "
                    f"{held.hex()[:16]}…, not {ev['key'][:16]}…; a device id keeps one key"
                )
            continue
        tid = ticket_bytes(ev["ticket"])
        if op == "issue":
            if ev["event"] not in shows:
                raise reject(
                    f"event {index} (issue): ticket {ev['ticket']} is for event "
                    f"{ev['event']!r}, which is not defined"
                )
            if tid in revoked:
                raise reject(f"event {index} (issue): ticket {uuid.UUID(bytes=tid)} already exists")
            revoked[tid] = False
            continue
        if tid not in revoked:
            raise reject(f"event {index} ({op}): ticket {ev['ticket']} does not exist")
        if op == "transfer" and revoked[tid]:
            raise reject(f"event {index} (transfer): ticket {ev['ticket']} is revoked")
        if op == "revoke":
            revoked[tid] = True


__all__ = ["EMPTY_HEAD", "Head", "LedgerFacts", "check_events", "check_successor", "ticket_bytes"]
