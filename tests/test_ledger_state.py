"""The ledger copy: forks, gaps, whole blocks, event rules, entries, transfers and voids."""

from __future__ import annotations

from pathlib import Path

import pytest

from errors import (
    BlockRejected,
    ForkDetected,
)
from verifier import Checkpoint, parse_block
from verifier.blocks import read_blocks

from .ledgerkit import NOW, LedgerKit, code, issue, show, signer, simple_ledger, ticket_id
from .statekit import POLICY, apply, gate


def test_fork_is_refused_and_reported(state_dir: Path) -> None:
    kit = simple_ledger(3)
    with gate(state_dir, kit) as cp:
        assert apply(cp, kit).error is None
        other = LedgerKit()
        other.append([show()])
        other.append([issue("someone-else")])  # same authority, different block 1
        with pytest.raises(ForkDetected, match="block 1"):
            cp.ledger.apply_block(parse_block(other.lines()[1]))
        assert cp.status()["tickets"] == 3


def test_forged_block_at_held_height_is_a_plain_rejection(state_dir: Path) -> None:
    kit = simple_ledger(1)
    forger = LedgerKit(authority=signer("forger"))
    forger.append([show()])
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        with pytest.raises(BlockRejected) as info:
            cp.ledger.apply_block(parse_block(forger.lines()[0]))
        assert not isinstance(info.value, ForkDetected)
        assert info.value.reason == "signature"


def test_height_gap_and_prev_mismatch(state_dir: Path) -> None:
    kit = simple_ledger(1)
    kit.append([])
    kit.append([])
    with gate(state_dir, kit) as cp:
        cp.apply_lines(read_blocks(kit.lines()[:2]))
        with pytest.raises(BlockRejected, match="height gap"):
            cp.ledger.apply_block(parse_block(kit.lines()[3]))
        assert cp.ledger.head().height == 1


def test_a_block_applies_whole_or_not_at_all(state_dir: Path) -> None:
    kit = simple_ledger(2)
    # Valid issues first, then a transfer of an unknown ticket: none of it may stay.
    kit.append(
        [
            issue("late-1"),
            issue("late-2"),
            {
                "op": "transfer",
                "ticket": ticket_id("nobody"),
                "holder": signer("x").public_key.hex(),
            },
        ]
    )
    with gate(state_dir, kit) as cp:
        report = apply(cp, kit)
        assert report.error is not None and report.error.height == 2
        assert "does not exist" in str(report.error)
        assert cp.status()["tickets"] == 2
        assert cp.ledger.ticket(bytes.fromhex(ticket_id("late-1").replace("-", ""))) is None


def test_issue_needs_a_defined_event_and_a_new_ticket(state_dir: Path, tmp_path: Path) -> None:
    kit = simple_ledger(1)
    kit.append([issue("t0")])
    with gate(state_dir, kit) as cp:
        report = apply(cp, kit)
        assert report.height == 1 and "already exists" in str(report.error)
    kit2 = LedgerKit()
    kit2.append([show("one")])
    kit2.append([issue("a", event="two")])
    (tmp_path / "s2").mkdir(mode=0o700)
    with Checkpoint(tmp_path / "s2", device="n", ledger_key=kit2.key, policy=POLICY) as cp:
        report = apply(cp, kit2)
        assert report.height == 0 and "not defined" in str(report.error)


def test_entries_redeems_and_voids(state_dir: Path) -> None:
    kit = LedgerKit()
    kit.append([show()])
    kit.append([issue("multi", entries=2), issue("single")])
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        assert cp.admit(code("multi", NOW), NOW).reason == "ok"
        # The same code again is a replay; a fresh code is the second entry.
        assert cp.admit(code("multi", NOW), NOW).reason == "replayed"
        assert cp.admit(code("multi", NOW + 15), NOW + 15).reason == "ok"
        assert cp.admit(code("multi", NOW + 30), NOW + 30).reason == "already_used"
        # Another gate redeemed "single" offline; the ledger tells us.
        kit.append(
            [
                {
                    "op": "redeem",
                    "ticket": ticket_id("single"),
                    "device": "south-2",
                    "seq": 7,
                    "step": NOW // 15 - 4,
                    "at": NOW - 60,
                }
            ]
        )
        apply(cp, kit)
        d = cp.check(code("single", NOW), NOW)
        assert (d.reason, d.first_device, d.first_at) == ("already_used", "south-2", NOW - 60)
        # ... and then voided it: no one passed. The ticket may be used again.
        kit.append([{"op": "void", "ticket": ticket_id("single"), "device": "south-2", "seq": 7}])
        apply(cp, kit)
        assert cp.admit(code("single", NOW), NOW).reason == "ok"


def test_redeem_of_our_own_admission_is_not_counted_twice(state_dir: Path) -> None:
    kit = LedgerKit()
    kit.append([show()])
    kit.append([issue("two", entries=2)])
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        first = cp.admit(code("two", NOW), NOW)
        assert first.reason == "ok"
        kit.append(
            [
                {
                    "op": "redeem",
                    "ticket": ticket_id("two"),
                    "device": "north-1",
                    "seq": first.seq,
                    "step": NOW // 15,
                    "at": NOW,
                }
            ]
        )
        apply(cp, kit)
        assert cp.admit(code("two", NOW + 15), NOW + 15).reason == "ok"


def test_transfer_keeps_every_previous_holder(state_dir: Path) -> None:
    kit = LedgerKit()
    kit.append([show()])
    kit.append([issue("gift")])
    for new in ("bob", "carol"):
        kit.append(
            [
                {
                    "op": "transfer",
                    "ticket": ticket_id("gift"),
                    "holder": signer(new).public_key.hex(),
                }
            ]
        )
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        assert cp.check(code("gift"), NOW).reason == "transferred"
        assert cp.check(code("gift", holder="bob"), NOW).reason == "transferred"
        assert cp.check(code("gift", holder="carol"), NOW).reason == "ok"
        assert cp.check(code("gift", holder="mallory"), NOW).reason == "bad_signature"


def test_revoked_ticket_cannot_be_transferred(state_dir: Path) -> None:
    kit = simple_ledger(1)
    kit.append([{"op": "revoke", "ticket": ticket_id("t0"), "reason": "fraud"}])
    kit.append(
        [{"op": "transfer", "ticket": ticket_id("t0"), "holder": signer("fence").public_key.hex()}]
    )
    with gate(state_dir, kit) as cp:
        report = apply(cp, kit)
        assert report.height == 2 and "revoked" in str(report.error)


def test_void_must_name_the_admitted_ticket(state_dir: Path) -> None:
    kit = LedgerKit()
    kit.append([show()])
    kit.append(
        [
            issue("a"),
            issue("b"),
            {
                "op": "redeem",
                "ticket": ticket_id("a"),
                "device": "south-2",
                "seq": 1,
                "step": NOW // 15 - 8,
                "at": NOW - 120,
            },
        ]
    )
    kit.append([{"op": "void", "ticket": ticket_id("b"), "device": "south-2", "seq": 1}])
    with gate(state_dir, kit) as cp:
        assert apply(cp, kit).error is None
        assert cp.check(code("a"), NOW).reason == "already_used"


def test_redeem_without_step_counts(state_dir: Path) -> None:
    """A steward's override admission with a ticket has no code step; it still counts."""
    kit = simple_ledger(1)
    kit.append(
        [
            {
                "op": "redeem",
                "ticket": ticket_id("t0"),
                "device": "south-2",
                "seq": 4,
                "step": None,
                "at": NOW - 30,
            }
        ]
    )
    with gate(state_dir, kit) as cp:
        assert apply(cp, kit).error is None
        assert cp.check(code("t0"), NOW).reason == "already_used"


def test_lone_surrogate_is_refused_not_a_crash(state_dir: Path) -> None:
    kit = simple_ledger(1)
    line = kit.lines()[1].replace('"label": "GA"', '"label": "\\ud800"')
    with gate(state_dir, kit) as cp:
        report = cp.apply_lines(read_blocks([kit.lines()[0], line]))
        assert report.height == 0 and "surrogate" in str(report.error)
