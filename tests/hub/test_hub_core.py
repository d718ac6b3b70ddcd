"""The hub's core with real gate checkpoints: blocks the gates accept, records held
exactly once, double entries across gates found, every gate learning the others'."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from errors import BlockRejected, HubRefusal, StoreCorrupt
from hub import Authority, Intake
from verifier import Checkpoint, Policy, verify_records
from verifier.blocks import block_hash, read_blocks

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
    state.mkdir(mode=0o700)
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


def test_reopen_and_rebuild_facts_left_behind(hub: Authority, tmp_path: Path) -> None:
    """Facts not level with the blocks (here: the last block's tickets missing) are
    rebuilt from the blocks when the hub opens; the rules then see every ticket."""
    head = hub.head()
    hub.db.execute("DELETE FROM tickets")
    hub.db.execute("UPDATE meta SET value = ? WHERE key = 'facts_height'", (head[0] - 1,))
    hub.close()
    again = Authority(tmp_path / "hub")
    assert again.head() == head
    assert again.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 3
    with pytest.raises(BlockRejected, match="already exists"):
        again.append([issue("solo")], NOW)
    assert again.heartbeat(NOW)["height"] == head[0] + 1
    again.close()


def test_a_stored_block_that_fails_the_rules_stops_the_rebuild(
    hub: Authority, tmp_path: Path
) -> None:
    hub.db.execute(
        "UPDATE blocks SET body = replace(body, '\"entries\":2', '\"entries\":3') WHERE height = 1"
    )
    hub.db.execute("DELETE FROM meta")
    hub.close()
    with pytest.raises(StoreCorrupt, match="stored block 1 does not pass"):
        Authority(tmp_path / "hub")


def admit_offline_and_upload(hub: Authority, tmp_path: Path) -> dict[str, Checkpoint]:
    """Three gates offline: "solo" (one entry) admitted at two of them, "pair" at one,
    "late" admitted and voided at one; every log uploaded and published."""
    gates = {n: gate(tmp_path, hub, n) for n in ("north-1", "south-2", "east-3")}
    intake = Intake(hub.db)
    for name, cp in gates.items():
        intake.register(name, cp.public_key, NOW)
    assert gates["north-1"].admit(code("solo"), NOW).reason == "ok"
    assert gates["south-2"].admit(code("solo"), NOW + 1).reason == "ok"
    assert gates["east-3"].admit(code("pair"), NOW).reason == "ok"
    late = gates["east-3"].admit(code("late"), NOW + 2)
    gates["east-3"].void(late.seq, NOW + 20)
    for name, cp in gates.items():
        assert intake.accept(name, records(cp), NOW + 60).error is None
    hub.heartbeat(NOW + 70)
    return gates


def test_an_old_hub_directory_opens_with_its_facts_rebuilt(hub: Authority, tmp_path: Path) -> None:
    """A hub directory from before the facts lived in hub.db: its hub.db has the blocks
    but no facts tables, and a ledger.db beside it (here unreadable, to show it is not
    read). It opens, rebuilds the facts from the blocks in one go, reports the same
    conflicts, and goes on refusing what a gate would refuse."""
    gates = admit_offline_and_upload(hub, tmp_path)
    before, head = hub.conflicts(), hub.head()
    assert [c.ticket for c in before] == [ticket_id("solo")]
    hub.close()
    old = sqlite3.connect(tmp_path / "hub" / "hub.db")
    old.executescript(
        "DROP TABLE meta; DROP TABLE shows; DROP TABLE tickets; "
        "DROP TABLE redeems; DROP TABLE voids;"
    )
    old.close()
    (tmp_path / "hub" / "ledger.db").write_bytes(b"not a database any more")

    again = Authority(tmp_path / "hub")
    assert again.head() == head
    assert again.conflicts() == before
    count = again.db.execute
    assert count("SELECT value FROM meta WHERE key = 'facts_height'").fetchone() == (str(head[0]),)
    assert (
        count("SELECT count(*) FROM redeems").fetchone(),
        count("SELECT count(*) FROM voids").fetchone(),
    ) == ((4,), (1,))
    with pytest.raises(BlockRejected, match="already exists"):
        again.append([issue("pair")], NOW + 80)
    with pytest.raises(BlockRejected, match="not defined"):
        again.append([issue("x", event="no-such-show")], NOW + 80)
    block = again.append([issue("after")], NOW + 80)
    for cp in gates.values():
        assert (
            cp.apply_lines(read_blocks(list(again.blocks_since(cp.ledger.head().height)))).error
            is None
        )
        assert cp.ledger.head().hash == block_hash(block).hex()
        cp.close()
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
        ("redeem", "east-3"),
        ("redeem", "north-1"),
        ("redeem", "south-2"),
    ]
    [conflict] = hub.conflicts()
    assert conflict.ticket == ticket_id("solo") and conflict.entries == 1
    assert [a[0] for a in conflict.admissions] == ["north-1", "south-2"]

    for cp in gates.values():
        assert (
            cp.apply_lines(read_blocks(list(hub.blocks_since(cp.ledger.head().height)))).error
            is None
        )
    # Every gate now knows every admission (asked after the block that told them: a gate
    # does not decide on a clock behind the newest block it holds).
    assert gates["east-3"].check(code("solo", NOW + 75), NOW + 75).reason == "already_used"
    assert gates["north-1"].check(code("pair", NOW + 75), NOW + 75).reason == "ok"
    # ... and the hub holds each log once, verifiable.
    for name, cp in gates.items():
        held = [
            r[0]
            for r in hub.db.execute(
                "SELECT body FROM records WHERE device = ? ORDER BY seq", (name,)
            )
        ]
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
    with pytest.raises(HubRefusal, match="another key"):
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


def test_a_void_naming_another_ticket_does_not_stand_in_for_the_right_one(
    hub: Authority, tmp_path: Path
) -> None:
    """A void is known by its device, seq and ticket: admission 1 voided first naming the
    wrong ticket and then its own is voided, at the hub as at the gates; and a hub.db
    that keyed voids by (device, seq) alone is rekeyed, its facts rebuilt, at open."""
    late, solo = ticket_id("late"), ticket_id("solo")
    hub.append(
        [
            {"op": "redeem", "ticket": late, "device": "north-1", "seq": 1, "step": 1, "at": NOW},
            {"op": "void", "ticket": solo, "device": "north-1", "seq": 1},
            {"op": "void", "ticket": late, "device": "north-1", "seq": 1},
        ],
        NOW,
    )

    def voids(authority: Authority) -> list[tuple]:
        return authority.db.execute("SELECT seq, ticket FROM voids ORDER BY ticket").fetchall()

    assert len(voids(hub)) == 2
    cp = gate(tmp_path, hub, "south-2")
    assert cp.check(code("late", NOW + 45), NOW + 45).reason == "ok"
    cp.close()
    hub.db.execute("DROP TABLE voids")
    hub.db.execute(
        "CREATE TABLE voids (device TEXT NOT NULL, seq INTEGER NOT NULL, ticket BLOB NOT NULL, "
        "PRIMARY KEY (device, seq)) WITHOUT ROWID"
    )
    hub.close()
    again = Authority(tmp_path / "hub")
    key = [r[1] for r in sorted(again.db.execute("PRAGMA table_info(voids)"), key=lambda r: r[5])]
    assert key[-3:] == ["device", "seq", "ticket"]
    assert len(voids(again)) == 2
    again.close()


def test_a_big_batch_is_checked_whole_then_signed_in_several_blocks(
    hub: Authority, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sale larger than one block travels as several; a bad row anywhere in it (here
    the last) signs nothing at all, not the blocks before it."""
    from hub import authority

    monkeypatch.setattr(authority, "MAX_BLOCK_EVENTS", 4)
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
    hub: Authority, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub import authority

    monkeypatch.setattr(authority, "MAX_BLOCK_EVENTS", 3)
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
