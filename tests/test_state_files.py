"""The state's two files: pins, damage, schema versions and migrations, lost files, locks."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from errors import (
    DeviceKeyError,
    DeviceMismatch,
    StoreCorrupt,
    StoreError,
)
from verifier import Checkpoint, verify_records
from verifier.canonical import canonical_json
from verifier.device_key import load_device_key
from verifier.records import make_record
from verifier.schema import SCHEMA_V1, SCHEMA_VERSION
from verifier.state_files import StateFiles, statements

from .ledgerkit import NOW, LedgerKit, code, signer, simple_ledger, ticket_id
from .statekit import POLICY, apply, file_digest, gate


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
def test_damaged_database_is_refused_and_left_alone(
    state_dir: Path, damage: str, name: str
) -> None:
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
            data[start : start + 12] = b"\xff" * 12
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
    db.execute(
        "INSERT INTO meta VALUES ('ledger_key', ?), ('device', 'north-1'), "
        "('device_public_key', ?)",
        (kit.key.hex(), me.public_key.hex()),
    )
    # t0 admitted; t1 admitted, then voided (no one passed): the v1 layout of both.
    for seq, (name, result, reason, ref) in enumerate(
        [
            ("t0", "admitted", "ok", None),
            ("t1", "admitted", "ok", None),
            ("t1", "voided", "no_passage", 2),
        ],
        start=1,
    ):
        step = None if result == "voided" else NOW // 15
        record, digest = make_record(
            me,
            device="north-1",
            seq=seq,
            prev=prev,
            at=NOW,
            ticket=ticket_id(name),
            step=step,
            result=result,
            reason=reason,
            ref=ref,
        )
        body = canonical_json(record).decode()
        bodies.append(body)
        prev = digest.hex()
        db.execute("INSERT INTO records VALUES (?, ?, ?)", (seq, digest, body))
        tid = bytes.fromhex(ticket_id(name).replace("-", ""))
        if result == "admitted":
            db.execute(
                "INSERT INTO admissions VALUES ('north-1', ?, ?, ?, ?, 'local')",
                (seq, tid, step, NOW),
            )
        else:
            db.execute("INSERT INTO voids VALUES ('north-1', ?, ?, 'local')", (ref, tid))
    db.close()
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        assert list(cp.export_records()) == bodies
        assert cp.check(code("t0", NOW + 15), NOW + 15).reason == "already_used"
        assert cp.admit(code("t1", NOW + 15), NOW + 15).reason == "ok"  # it was voided
        assert verify_records(list(cp.export_records()), me.public_key, device="north-1") == 4
    db = sqlite3.connect(state_dir / "ledger.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION  # all the way up
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


def test_a_second_open_in_the_same_process_keeps_the_first_ones_locks(state_dir: Path) -> None:
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
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys; c = sqlite3.connect("
                "sys.argv[1]); c.execute('SELECT count(*) FROM meta'); c.close()",
                str(state_dir / "ledger.db"),
            ],
            check=True,
            timeout=30,
        )
        for name in ("ledger.db", "records.db"):
            assert (state_dir / f"{name}-wal").exists() and (state_dir / f"{name}-shm").exists()
        assert lane.admit(code("t0"), NOW).result == "admitted"
    with gate(state_dir, kit) as later:
        assert later.check(code("t0", NOW + 15), NOW + 15).reason == "already_used"
