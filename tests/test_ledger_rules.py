"""The chain rules as pure functions: the same verdicts whatever storage holds the facts.

The gate's SQLite ledger copy and the hub's authority both apply these rules; here they
run over a plain dictionary, so a rule cannot hide in one side's SQL.
"""

from __future__ import annotations

import json
from collections.abc import Collection

import pytest

from errors import BlockRejected, ForkDetected
from tests.ledgerkit import LedgerKit, issue, show, signer, ticket_id
from verifier import parse_block
from verifier.blocks import ZERO_HASH
from verifier.ledger_rules import EMPTY_HEAD, Head, check_events, check_successor, ticket_bytes


class DictFacts:
    """Facts held in memory: shows, and ticket id -> revoked."""

    def __init__(self, shows: set[str] = frozenset(), tickets: dict[bytes, bool] | None = None):
        self.shows = set(shows)
        self.tickets = dict(tickets or {})
        self.asked: list[int] = []

    def defined_shows(self) -> set[str]:
        return self.shows

    def known_tickets(self, ids: Collection[bytes]) -> dict[bytes, bool]:
        self.asked.append(len(ids))
        return {t: self.tickets[t] for t in ids if t in self.tickets}


def block_of(events: list[dict], height: int = 0, kit: LedgerKit | None = None):
    kit = kit or LedgerKit()
    while len(kit.blocks) < height:
        kit.append([])
    return parse_block(json.dumps(kit.append(events)))


def tid(name: str) -> bytes:
    return ticket_bytes(ticket_id(name))


def test_issue_after_its_show_in_one_block_is_accepted_with_one_lookup():
    facts = DictFacts()
    check_events(block_of([show("s"), issue("a", event="s"), issue("b", event="s")]), facts)
    assert facts.asked == [2]  # one batched question for every ticket named


@pytest.mark.parametrize(
    ("events", "held", "message"),
    [
        (
            [issue("a", event="s"), show("s")],
            {},
            "event 0 \\(issue\\): .* for event 's', which is not",
        ),
        ([issue("a"), issue("a")], {}, "event 1 .* already exists"),
        ([issue("a")], {"a": False}, "event 0 .* already exists"),
        (
            [{"op": "transfer", "ticket": ticket_id("x"), "holder": signer("b").public_key.hex()}],
            {},
            "event 0 \\(transfer\\): .* does not exist",
        ),
        (
            [
                {"op": "revoke", "ticket": ticket_id("a"), "reason": "refund"},
                {
                    "op": "transfer",
                    "ticket": ticket_id("a"),
                    "holder": signer("b").public_key.hex(),
                },
            ],
            {"a": False},
            "event 1 \\(transfer\\): .* is revoked",
        ),
        (
            [
                {
                    "op": "redeem",
                    "ticket": ticket_id("x"),
                    "device": "d",
                    "seq": 1,
                    "step": 1,
                    "at": 1,
                }
            ],
            {},
            "event 0 \\(redeem\\)",
        ),
        (
            [{"op": "void", "ticket": ticket_id("x"), "device": "d", "seq": 1}],
            {},
            "event 0 \\(void\\)",
        ),
    ],
)
def test_event_rules_refuse_naming_the_event_and_ticket(events, held, message):
    facts = DictFacts({"show"}, {tid(name): revoked for name, revoked in held.items()})
    with pytest.raises(BlockRejected, match=message) as caught:
        check_events(block_of(events), facts)
    assert caught.value.reason == "event"


def test_revoked_tickets_may_still_be_revoked_redeemed_and_voided():
    facts = DictFacts({"show"}, {tid("a"): True})
    check_events(
        block_of(
            [
                {"op": "revoke", "ticket": ticket_id("a"), "reason": "again"},
                {
                    "op": "redeem",
                    "ticket": ticket_id("a"),
                    "device": "d",
                    "seq": 1,
                    "step": 1,
                    "at": 1,
                },
                {"op": "void", "ticket": ticket_id("a"), "device": "d", "seq": 1},
            ]
        ),
        facts,
    )


def test_successor_rules():
    kit = LedgerKit()
    first = parse_block(json.dumps(kit.append([])))
    second = parse_block(json.dumps(kit.append([])))
    assert check_successor(first, EMPTY_HEAD, kit.key)
    head = Head(0, first.hash.hex(), first.time)
    assert check_successor(second, head, kit.key)
    assert not check_successor(first, head, kit.key, held_hash=first.hash)  # already held
    with pytest.raises(ForkDetected):
        check_successor(first, head, kit.key, held_hash=b"\1" * 32)
    with pytest.raises(BlockRejected, match="height gap"):
        check_successor(second, EMPTY_HEAD, kit.key)
    with pytest.raises(BlockRejected, match="signature"):
        check_successor(first, EMPTY_HEAD, signer("someone else").public_key)
    with pytest.raises(BlockRejected, match="prev"):
        check_successor(second, Head(0, ZERO_HASH, None), kit.key)
    with pytest.raises(BlockRejected, match="time"):
        check_successor(second, Head(0, first.hash.hex(), second.time + 1), kit.key)
