"""The ledger store: forks, gaps, pins, damage, schema versions, entries and voids."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import pytest

from errors import (
    BlockRejected,
    DeviceKeyError,
    DeviceMismatch,
    ForkDetected,
    StoreCorrupt,
    StoreError,
)
from verifier import Checkpoint, Policy, parse_block, verify_records
from verifier.blocks import read_blocks
from verifier.canonical import canonical_json
from verifier.device_key import load_device_key
from verifier.records import make_record
from verifier.schema import SCHEMA_V1
from verifier.state_files import StateFiles, statements

from .ledgerkit import NOW, LedgerKit, code, issue, show, signer, simple_ledger, ticket_id

POLICY = Policy(events=frozenset({"show"}))


def gate(state_dir: Path, kit: LedgerKit, device: str = "north-1") -> Checkpoint:
    return Checkpoint(state_dir, device=device, ledger_key=kit.key, policy=POLICY)


def apply(cp: Checkpoint, kit: LedgerKit):
    return cp.apply_lines(read_blocks(kit.lines()))


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
    kit.append([issue("late-1"), issue("late-2"),
                {"op": "transfer", "ticket": ticket_id("nobody"),
                 "holder": signer("x").public_key.hex()}])
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
    (tmp_path / "s2").mkdir()
    with Checkpoint(tmp_path / "s2", device="n", ledger_key=kit2.key, policy=POLICY) as cp:
        report = apply(cp, kit2)
        assert report.height == 0 and "not defined" in str(report.error)


def test_ledger_key_and_device_are_pinned(state_dir: Path) -> None:
    kit = simple_ledger(1)
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
    with pytest.raises(DeviceMismatch, match="device id"):
        gate(state_dir, kit, device="south-9")
    other = LedgerKit(authority=signer("other authority"))
    with pytest.raises(DeviceMismatch, match="ledger key"):
        Checkpoint(state_dir, device="north-1", ledger_key=other.key, policy=POLICY)


def test_missing_state_dir(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        StateFiles(tmp_path / "nope", ledger_key=bytes(32))
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize("name", ["ledger.db", "records.db"])
@pytest.mark.parametrize("damage", ["header", "page"])
def test_damaged_database_is_refused_and_left_alone(state_dir: Path, damage: str,
                                                    name: str) -> None:
    kit = simple_ledger(300)
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        for i in range(300):
            cp.admit(code(f"t{i}"), NOW)
    db = state_dir / name
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(db.read_bytes())
    if damage == "header":
        data[0:16] = b"garbage garbage!"
    else:  # smash the b-tree page header of every page after the first few
        page = int.from_bytes(data[16:18], "big")
        assert len(data) > page * 4
        for start in range(page * 3, len(data), page):
            data[start:start + 12] = b"\xff" * 12
    db.write_bytes(bytes(data))
    before = {f.name: file_digest(f) for f in state_dir.iterdir()}
    with pytest.raises(StoreCorrupt, match=rf"{name} is damaged|{name} cannot be used"):
        gate(state_dir, kit)
    assert {f.name: file_digest(f) for f in state_dir.iterdir()} == before


@pytest.mark.parametrize("name", ["ledger.db", "records.db"])
def test_newer_schema_is_refused(state_dir: Path, name: str) -> None:
    kit = simple_ledger(1)
    with gate(state_dir, kit):
        pass
    conn = sqlite3.connect(state_dir / name)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(StoreError, match=f"{name} has schema version 99"):
        gate(state_dir, kit)


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
        kit.append([{"op": "redeem", "ticket": ticket_id("single"), "device": "south-2",
                     "seq": 7, "step": NOW // 15 - 4, "at": NOW - 60}])
        apply(cp, kit)
        d = cp.check(code("single", NOW), NOW)
        assert (d.reason, d.first_device, d.first_at) == ("already_used", "south-2", NOW - 60)
        # ... and then voided it: no one passed. The ticket may be used again.
        kit.append([{"op": "void", "ticket": ticket_id("single"), "device": "south-2",
                     "seq": 7}])
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
        kit.append([{"op": "redeem", "ticket": ticket_id("two"), "device": "north-1",
                     "seq": first.seq, "step": NOW // 15, "at": NOW}])
        apply(cp, kit)
        assert cp.admit(code("two", NOW + 15), NOW + 15).reason == "ok"


def test_transfer_keeps_every_previous_holder(state_dir: Path) -> None:
    kit = LedgerKit()
    kit.append([show()])
    kit.append([issue("gift")])
    for new in ("bob", "carol"):
        kit.append([{"op": "transfer", "ticket": ticket_id("gift"),
                     "holder": signer(new).public_key.hex()}])
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        assert cp.check(code("gift"), NOW).reason == "transferred"
        assert cp.check(code("gift", holder="bob"), NOW).reason == "transferred"
        assert cp.check(code("gift", holder="carol"), NOW).reason == "ok"
        assert cp.check(code("gift", holder="mallory"), NOW).reason == "bad_signature"


def test_revoked_ticket_cannot_be_transferred(state_dir: Path) -> None:
    kit = simple_ledger(1)
    kit.append([{"op": "revoke", "ticket": ticket_id("t0"), "reason": "fraud"}])
    kit.append([{"op": "transfer", "ticket": ticket_id("t0"),
                 "holder": signer("fence").public_key.hex()}])
    with gate(state_dir, kit) as cp:
        report = apply(cp, kit)
        assert report.height == 2 and "revoked" in str(report.error)


def test_void_must_name_the_admitted_ticket(state_dir: Path) -> None:
    kit = LedgerKit()
    kit.append([show()])
    kit.append([issue("a"), issue("b"),
                {"op": "redeem", "ticket": ticket_id("a"), "device": "south-2", "seq": 1,
                 "step": NOW // 15 - 8, "at": NOW - 120}])
    kit.append([{"op": "void", "ticket": ticket_id("b"), "device": "south-2", "seq": 1}])
    with gate(state_dir, kit) as cp:
        assert apply(cp, kit).error is None
        assert cp.check(code("a"), NOW).reason == "already_used"


def test_redeem_without_step_counts(state_dir: Path) -> None:
    """A steward's override admission with a ticket has no code step; it still counts."""
    kit = simple_ledger(1)
    kit.append([{"op": "redeem", "ticket": ticket_id("t0"), "device": "south-2", "seq": 4,
                 "step": None, "at": NOW - 30}])
    with gate(state_dir, kit) as cp:
        assert apply(cp, kit).error is None
        assert cp.check(code("t0"), NOW).reason == "already_used"


def test_lone_surrogate_is_refused_not_a_crash(state_dir: Path) -> None:
    kit = simple_ledger(1)
    line = kit.lines()[1].replace('"label": "GA"', '"label": "\\ud800"')
    with gate(state_dir, kit) as cp:
        report = cp.apply_lines(read_blocks([kit.lines()[0], line]))
        assert report.height == 0 and "surrogate" in str(report.error)


def test_lost_device_key_is_not_replaced(state_dir: Path) -> None:
    kit = simple_ledger(1)
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        cp.admit(code("t0"), NOW)
    (state_dir / "device.key").unlink()
    with pytest.raises(DeviceKeyError, match="re-provision"):
        gate(state_dir, kit)
    assert not (state_dir / "device.key").exists()


def test_lost_record_log_is_refused(state_dir: Path) -> None:
    """records.db is the one thing the hub cannot give back: without it the gate stops
    rather than start a new log at seq 1 under the same key."""
    kit = simple_ledger(1)
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        cp.admit(code("t0"), NOW)
    for name in ("records.db", "records.db-wal", "records.db-shm"):
        (state_dir / name).unlink(missing_ok=True)
    before = {f.name: file_digest(f) for f in state_dir.iterdir()}
    with pytest.raises(StoreError, match=r"records\.db is missing.*record log is lost"):
        gate(state_dir, kit)
    assert {f.name: file_digest(f) for f in state_dir.iterdir()} == before
    for name in ("ledger.db", "ledger.db-wal", "ledger.db-shm"):
        (state_dir / name).unlink(missing_ok=True)
    with pytest.raises(StoreError, match="record log is lost"):  # both gone, key kept
        gate(state_dir, kit)
    assert not (state_dir / "ledger.db").exists()


def test_lost_ledger_copy_is_synced_again_and_the_log_still_counts(state_dir: Path) -> None:
    """A damaged ledger.db can be moved aside: the next sync rebuilds it, and this gate's
    own admissions, which live in records.db, still count."""
    kit = simple_ledger(2)
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        cp.admit(code("t0"), NOW)
    for name in ("ledger.db", "ledger.db-wal", "ledger.db-shm"):
        (state_dir / name).unlink(missing_ok=True)
    with gate(state_dir, kit) as cp:
        assert cp.status()["height"] == -1 and cp.status()["records"] == 1
        apply(cp, kit)
        assert cp.check(code("t0", NOW + 15), NOW + 15).reason == "already_used"
        assert cp.admit(code("t1"), NOW).seq == 2


def test_version_1_state_moves_its_log_to_records_db(state_dir: Path) -> None:
    """A state dir from schema 1 (the log inside ledger.db) is upgraded at open: the log,
    own admissions and voids move to records.db, and the decisions are unchanged."""
    kit = simple_ledger(3)
    me = load_device_key(state_dir)
    bodies, prev = [], "0" * 64
    db = sqlite3.connect(state_dir / "ledger.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for statement in statements(SCHEMA_V1):
        db.execute(statement)
    db.execute("PRAGMA user_version=1")
    db.execute("INSERT INTO meta VALUES ('ledger_key', ?), ('device', 'north-1'), "
               "('device_public_key', ?)", (kit.key.hex(), me.public_key.hex()))
    # t0 admitted; t1 admitted, then voided (no one passed): the v1 layout of both.
    for seq, (name, result, reason, ref) in enumerate(
            [("t0", "admitted", "ok", None), ("t1", "admitted", "ok", None),
             ("t1", "voided", "no_passage", 2)], start=1):
        step = None if result == "voided" else NOW // 15
        record, digest = make_record(me, device="north-1", seq=seq, prev=prev, at=NOW,
                                     ticket=ticket_id(name), step=step, result=result,
                                     reason=reason, ref=ref)
        body = canonical_json(record).decode()
        bodies.append(body)
        prev = digest.hex()
        db.execute("INSERT INTO records VALUES (?, ?, ?)", (seq, digest, body))
        tid = bytes.fromhex(ticket_id(name).replace("-", ""))
        if result == "admitted":
            db.execute("INSERT INTO admissions VALUES ('north-1', ?, ?, ?, ?, 'local')",
                       (seq, tid, step, NOW))
        else:
            db.execute("INSERT INTO voids VALUES ('north-1', ?, ?, 'local')", (ref, tid))
    db.close()
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        assert list(cp.export_records()) == bodies
        assert cp.check(code("t0", NOW + 15), NOW + 15).reason == "already_used"
        assert cp.admit(code("t1", NOW + 15), NOW + 15).reason == "ok"  # it was voided
        assert verify_records(list(cp.export_records()), me.public_key,
                              device="north-1") == 4
    db = sqlite3.connect(state_dir / "ledger.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'records'").fetchone()
    assert db.execute("SELECT count(*) FROM admissions WHERE origin = 'local'").fetchone() == (0,)
    db.close()


def test_an_admission_does_not_wait_for_a_block_being_applied(state_dir: Path) -> None:
    """The lane's commit takes records.db's lock only: a long block apply, holding
    ledger.db's write lock, does not hold it up."""
    kit = simple_ledger(2)
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
    applier = sqlite3.connect(state_dir / "ledger.db", isolation_level=None)
    applier.execute("BEGIN IMMEDIATE")  # a block being applied by the sync worker
    applier.execute("INSERT INTO meta VALUES ('busy', 'applying')")
    done: list[str] = []

    def lane() -> None:
        with gate(state_dir, kit) as cp:
            done.append(cp.admit(code("t0"), NOW).reason)

    worker = threading.Thread(target=lane, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert done == ["ok"], "the admission waited for ledger.db's write lock"
    applier.execute("ROLLBACK")
    applier.close()


def test_database_is_private(state_dir: Path) -> None:
    kit = simple_ledger(1)
    with gate(state_dir, kit):
        pass
    for name in ("ledger.db", "records.db"):
        assert (state_dir / name).stat().st_mode & 0o777 == 0o600


def test_a_second_open_in_the_same_process_keeps_the_first_ones_locks(
        state_dir: Path) -> None:
    """The daemon holds two connections to one state (the lane's and the sync worker's).
    Opening the second must not close any descriptor of the database file outside SQLite:
    POSIX drops all of a process's locks on a file when any descriptor of it closes, and
    then another process (a technician's `gate sync status`) closing its connection
    believes it is the last one and deletes the WAL under the running daemon. (Opening
    read the header with open()/close() and did exactly that.)"""
    import subprocess
    import sys
    kit = simple_ledger(3)
    with gate(state_dir, kit) as lane:
        apply(lane, kit)
        gate(state_dir, kit).close()  # the worker's connection, opened and closed
        subprocess.run([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect("
                        "sys.argv[1]); c.execute('SELECT count(*) FROM meta'); c.close()",
                        str(state_dir / "ledger.db")], check=True, timeout=30)
        for name in ("ledger.db", "records.db"):
            assert (state_dir / f"{name}-wal").exists() and (state_dir / f"{name}-shm").exists()
        assert lane.admit(code("t0"), NOW).result == "admitted"
    with gate(state_dir, kit) as later:
        assert later.check(code("t0", NOW + 15), NOW + 15).reason == "already_used"
