"""The hub's core with real gate checkpoints: blocks the gates accept, records held
exactly once, double entries across gates found, every gate learning the others'."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from errors import BlockRejected
from sync import Authority, Intake
from verifier import Checkpoint, Policy, verify_records
from verifier.blocks import read_blocks

from ..ledgerkit import NOW, code, issue, show, ticket_id

POLICY = Policy(events=frozenset({"show"}))


@pytest.fixture
def hub(tmp_path: Path) -> Authority:
    (tmp_path / "hub").mkdir()
    authority = Authority(tmp_path / "hub")
    authority.append([show()], NOW - 600)
    authority.append([issue("solo"), issue("pair", entries=2), issue("late")], NOW - 500)
    yield authority
    authority.close()


def gate(tmp_path: Path, hub: Authority, name: str) -> Checkpoint:
    state = tmp_path / name
    state.mkdir()
    cp = Checkpoint(state, device=name, ledger_key=hub.public_key, policy=POLICY)
    assert cp.apply_lines(read_blocks(list(hub.blocks_since(-1)))).error is None
    return cp


def records(cp: Checkpoint) -> list[str]:
    return list(cp.export_records())


def test_blocks_are_ones_a_gate_accepts(hub: Authority, tmp_path: Path) -> None:
    cp = gate(tmp_path, hub, "north-1")
    assert cp.ledger.head().hash == hub.head()[1]
    assert cp.check(code("solo"), NOW).reason == "ok"
    cp.close()


def test_an_invalid_block_is_never_signed(hub: Authority) -> None:
    before = list(hub.blocks_since(-1))
    with pytest.raises(BlockRejected, match="not defined"):
        hub.append([issue("x", event="no-such-show")], NOW)
    with pytest.raises(BlockRejected, match="already exists"):
        hub.append([issue("solo")], NOW)
    assert list(hub.blocks_since(-1)) == before


def test_reopen_and_rebuild_the_derived_ledger(hub: Authority, tmp_path: Path) -> None:
    head = hub.head()
    hub.close()
    (tmp_path / "hub" / "ledger.db").unlink()  # lost, or behind after a crash
    again = Authority(tmp_path / "hub")
    assert again.head() == head
    assert again.heartbeat(NOW)["height"] == head[0] + 1
    again.close()


def test_offline_gates_reconcile_exactly_once(hub: Authority, tmp_path: Path) -> None:
    gates = {n: gate(tmp_path, hub, n) for n in ("north-1", "south-2", "east-3")}
    intake = Intake(hub.db)
    for name, cp in gates.items():
        intake.register(name, cp.public_key, NOW)
    # The network is down: "solo" (one entry) is admitted at two gates.
    assert gates["north-1"].admit(code("solo"), NOW).reason == "ok"
    assert gates["south-2"].admit(code("solo"), NOW + 1).reason == "ok"
    assert gates["east-3"].admit(code("pair"), NOW).reason == "ok"
    assert gates["north-1"].admit("not a ticket", NOW).reason == "not_a_ticket"

    for name, cp in gates.items():
        result = intake.accept(name, records(cp), NOW + 60)
        assert result.error is None and result.accepted == len(records(cp))
        again = intake.accept(name, records(cp), NOW + 61)  # the ack was lost: resent
        assert (again.accepted, again.duplicates, again.error) == (0, len(records(cp)), None)

    block = hub.heartbeat(NOW + 70)
    assert sorted((e["op"], e["device"]) for e in block["events"]) == [
        ("redeem", "east-3"), ("redeem", "north-1"), ("redeem", "south-2")]
    [conflict] = hub.conflicts()
    assert conflict.ticket == ticket_id("solo") and conflict.entries == 1
    assert [a[0] for a in conflict.admissions] == ["north-1", "south-2"]

    for cp in gates.values():
        assert cp.apply_lines(read_blocks(list(hub.blocks_since(cp.ledger.head().height)))).error \
            is None
    # Every gate now knows every admission.
    assert gates["east-3"].check(code("solo", NOW + 15), NOW + 15).reason == "already_used"
    assert gates["north-1"].check(code("pair", NOW + 15), NOW + 15).reason == "ok"
    # ... and the hub holds each log once, verifiable.
    for name, cp in gates.items():
        held = [r[0] for r in hub.db.execute(
            "SELECT body FROM records WHERE device = ? ORDER BY seq", (name,))]
        assert held == records(cp)
        assert verify_records(held, cp.public_key, device=name) == len(held)
    for cp in gates.values():
        cp.close()


def test_refusals_name_the_seq(hub: Authority, tmp_path: Path) -> None:
    cp = gate(tmp_path, hub, "north-1")
    other = gate(tmp_path, hub, "rogue")
    intake = Intake(hub.db)
    assert intake.accept("north-1", [], NOW).error == "device 'north-1' is not enrolled"
    intake.register("north-1", cp.public_key, NOW)
    for token in (code("solo"), code("late"), "x", "y"):
        cp.admit(token, NOW)
    lines = records(cp)
    gap = intake.accept("north-1", [lines[0], lines[2]], NOW)
    assert (gap.acked, gap.accepted) == (1, 1) and "gap" in (gap.error or "")
    forged = json.loads(lines[1])
    forged["reason"] = "override"
    bad = intake.accept("north-1", [forged], NOW)
    assert bad.acked == 1 and "signature" in (bad.error or "")
    other.admit("z", NOW)
    conflicting = intake.accept("north-1", records(other)[:1], NOW)  # another chain's seq 1
    assert "seq 1 conflicts" in (conflicting.error or "")
    rest = intake.accept("north-1", lines[1:], NOW)
    assert (rest.acked, rest.accepted, rest.error) == (4, 3, None)
    with pytest.raises(ValueError, match="another key"):
        intake.register("north-1", other.public_key, NOW)
    intake.revoke("north-1", NOW)
    assert "revoked" in (intake.accept("north-1", lines, NOW).error or "")
    cp.close()
    other.close()


def test_voids_reach_the_ledger(hub: Authority, tmp_path: Path) -> None:
    cp = gate(tmp_path, hub, "north-1")
    intake = Intake(hub.db)
    intake.register("north-1", cp.public_key, NOW)
    first = cp.admit(code("late"), NOW)
    cp.void(first.seq, NOW + 20)
    assert intake.accept("north-1", records(cp), NOW + 30).error is None
    block = hub.heartbeat(NOW + 40)
    assert [e["op"] for e in block["events"]] == ["redeem", "void"]
    assert hub.conflicts() == []
    other = gate(tmp_path, hub, "south-2")
    assert other.check(code("late", NOW + 45), NOW + 45).reason == "ok"  # voided: usable
    cp.close()
    other.close()


def test_a_big_batch_is_checked_whole_then_signed_in_several_blocks(
        hub: Authority, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sale larger than one block travels as several; a bad row anywhere in it (here
    the last) signs nothing at all, not the blocks before it."""
    import sync.authority

    monkeypatch.setattr(sync.authority, "MAX_BLOCK_EVENTS", 4)
    before = list(hub.blocks_since(-1))
    bad = [issue(f"bulk{i}") for i in range(9)] + [issue("solo")]  # solo exists already
    with pytest.raises(BlockRejected, match=f"ticket {ticket_id('solo')} already exists"):
        hub.publish(bad, NOW)
    assert list(hub.blocks_since(-1)) == before
    blocks = hub.publish(bad[:9], NOW)
    assert [len(b["events"]) for b in blocks] == [4, 4, 1]
    cp = gate(tmp_path, hub, "north-1")
    assert cp.check(code("bulk8"), NOW).reason == "ok"
    cp.close()


def test_many_queued_redeems_travel_in_bounded_blocks(
        hub: Authority, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sync.authority

    monkeypatch.setattr(sync.authority, "MAX_BLOCK_EVENTS", 3)
    hub.publish([issue(f"fan{i}") for i in range(10)], NOW - 400)
    cp = gate(tmp_path, hub, "north-1")
    for i in range(10):
        assert cp.admit(code(f"fan{i}"), NOW).reason == "ok"
    intake = Intake(hub.db)
    intake.register("north-1", cp.public_key, NOW)
    assert intake.accept("north-1", records(cp), NOW).acked == 10
    height = hub.head()[0]
    hub.heartbeat(NOW + 10)
    new = [json.loads(b) for b in hub.blocks_since(height)]
    assert [len(b["events"]) for b in new] == [3, 3, 3, 1]
    assert sum(e["op"] == "redeem" for b in new for e in b["events"]) == 10
    cp.close()


def test_blocks_come_in_pages(hub: Authority) -> None:
    for i in range(6):
        hub.append([issue(f"page{i}")], NOW - 300)
    everything = list(hub.blocks_since(-1))
    size = len(everything[2]) + len(everything[3]) + 2
    first = hub.blocks_page(1, size)
    assert first == everything[2:4]
    assert hub.blocks_page(-1, 1) == everything[:1]  # at least one block, whatever the cap
    assert hub.blocks_page(hub.head()[0], 10**6) == []
