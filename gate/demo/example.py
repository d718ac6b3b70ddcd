"""The demo's world: a ledger authority, attendees' wallets, and a small signed ledger.

Keys and ticket ids are derived from fixed names, so every run makes the same ledger
apart from its times and the demo's text can name people rather than hex.
"""

from __future__ import annotations

import hashlib
import uuid

from verifier import Signer, encode_token, make_block, step_of
from verifier.blocks import ZERO_HASH, block_hash

EVENT = "demo-night"


def demo_signer(name: str) -> Signer:
    return Signer(hashlib.sha256(f"gatehouse-demo:{name}".encode()).digest())


def demo_ticket(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"gatehouse-demo:{name}"))


def build_ledger(now: int) -> tuple[Signer, list[dict]]:
    """The example ledger: a show, seven tickets, a transfer, a refund, a heartbeat."""
    authority = demo_signer("authority")
    holders = {
        n: demo_signer(n).public_key.hex()
        for n in ("alice", "bob", "carol", "dave", "erin", "frank", "grace")
    }

    def issue(
        name: str, *, event: str = EVENT, zones: list[str] | None = None, label: str = "GA"
    ) -> dict:
        return {
            "op": "issue",
            "ticket": demo_ticket(name),
            "event": event,
            "holder": holders[name],
            "from": now - 3600,
            "until": now + 6 * 3600,
            "zones": zones or [],
            "entries": 1,
            "label": label,
        }

    bodies = [
        [
            {
                "op": "event",
                "event": EVENT,
                "name": "Demo Night",
                "starts": now,
                "ends": now + 5 * 3600,
            },
            {
                "op": "event",
                "event": "other-show",
                "name": "Another Show",
                "starts": now,
                "ends": now + 3600,
            },
        ],
        [
            issue("alice"),
            issue("bob"),
            issue("carol", zones=["south"], label="VIP"),
            issue("dave", event="other-show"),
            issue("erin"),
            issue("frank"),
        ],
        [
            {"op": "transfer", "ticket": demo_ticket("frank"), "holder": holders["grace"]},
            {"op": "revoke", "ticket": demo_ticket("erin"), "reason": "refund"},
        ],
        [],
    ]
    blocks, prev = [], ZERO_HASH
    for height, events in enumerate(bodies):
        block = make_block(authority, height, prev, now - 7200 + 600 * height, events)
        prev = block_hash(block).hex()
        blocks.append(block)
    return authority, blocks


def live_code(name: str, at: int, *, holder: str | None = None) -> str:
    """The code ``name``'s ticket shows at ``at``, signed by ``holder`` (default: ``name``)."""
    return encode_token(demo_signer(holder or name), demo_ticket(name), step_of(at))
