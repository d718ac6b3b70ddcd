"""Records a lane makes besides decisions: lane closed, steward overrides, no-passage voids."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from errors import Refused
from verifier import Checkpoint, Policy, verify_records
from verifier.blocks import read_blocks

from .ledgerkit import NOW, code, simple_ledger, ticket_id


@pytest.fixture
def lane(state_dir: Path) -> Checkpoint:
    kit = simple_ledger(3)
    cp = Checkpoint(
        state_dir, device="north-1", ledger_key=kit.key, policy=Policy(events=frozenset({"show"}))
    )
    cp.apply_lines(read_blocks(kit.lines()))
    yield cp
    cp.close()


def records(cp: Checkpoint) -> list[dict]:
    return [json.loads(b) for b in cp.export_records()]


def test_closed_lane_refuses_and_records(lane: Checkpoint) -> None:
    lane.policy = replace(lane.policy, closed=True)
    d = lane.admit(code("t0"), NOW)
    assert (d.result, d.reason, d.ticket) == ("rejected", "lane_closed", ticket_id("t0"))
    assert lane.admit("hello", NOW).reason == "lane_closed"
    lane.policy = replace(lane.policy, closed=False)
    assert lane.admit(code("t0"), NOW).reason == "ok"  # nothing was used up
    assert [r["reason"] for r in records(lane)] == ["lane_closed", "lane_closed", "ok"]


def test_void_after_no_passage_frees_the_ticket(lane: Checkpoint) -> None:
    first = lane.admit(code("t1"), NOW)
    assert lane.void(first.seq, NOW + 10) == 2
    with pytest.raises(Refused, match="not an admission"):
        lane.void(first.seq, NOW + 11)  # already voided
    assert lane.admit(code("t1", NOW + 15), NOW + 15).reason == "ok"
    voided = records(lane)[1]
    assert (voided["result"], voided["reason"], voided["ref"], voided["ticket"]) == (
        "voided",
        "no_passage",
        1,
        ticket_id("t1"),
    )
    assert verify_records(lane.export_records(), lane.public_key) == 3


def test_override_with_and_without_a_ticket(lane: Checkpoint) -> None:
    with pytest.raises(Refused, match="reason"):
        lane.override(NOW, "  ")
    lane.override(NOW, "wheelchair user, companion gate")
    lane.override(NOW, "phone died; ID checked at box office", ticket=ticket_id("t2"))
    assert lane.check(code("t2"), NOW).reason == "already_used"
    rows = records(lane)
    assert [(r["result"], r["reason"], r["ticket"]) for r in rows] == [
        ("admitted", "override", None),
        ("admitted", "override", ticket_id("t2")),
    ]
    assert rows[1]["note"] == "phone died; ID checked at box office"
