"""The record log: appends only inside its transaction, and the upload cursor lives with it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from errors import StoreError
from sync.client import HubClient

from .ledgerkit import NOW, code, simple_ledger
from .statekit import apply, gate

CURSOR_KEYS = ("hub_acked_seq", "hub_last_success")  # their names on disk, old and new


def meta(path: Path) -> dict[str, str]:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT key, value FROM meta"))
    finally:
        db.close()


def test_a_record_is_appended_only_inside_appending(state_dir: Path) -> None:
    kit = simple_ledger(1)
    with gate(state_dir, kit) as cp:
        with pytest.raises(StoreError, match="appending"):
            cp.log.append(NOW, None, None, "rejected", "malformed")
        assert cp.log.last_record()[0] == 0
        with cp.log.appending():
            assert cp.log.append(NOW, None, None, "rejected", "malformed") == 1
        assert cp.status()["records"] == 1


def test_the_upload_cursor_is_kept_in_records_db(state_dir: Path) -> None:
    """A ledger.db moved aside and synced again must not take the cursor with it: the
    gate would upload its whole record log again."""
    kit = simple_ledger(3)
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        for name in ("t0", "t1", "t2"):
            cp.admit(code(name), NOW)
        cp.log.set_upload_cursor(2)
        cp.log.set_last_exchange(NOW)
    assert {k: meta(state_dir / "records.db").get(k) for k in CURSOR_KEYS} == {
        "hub_acked_seq": "2",
        "hub_last_success": str(NOW),
    }
    assert not set(CURSOR_KEYS) & set(meta(state_dir / "ledger.db"))
    for name in ("ledger.db", "ledger.db-wal", "ledger.db-shm"):
        (state_dir / name).unlink(missing_ok=True)
    with gate(state_dir, kit) as cp:
        assert (cp.log.upload_cursor(), cp.log.last_exchange()) == (2, NOW)
        assert HubClient("http://127.0.0.1:9", cp).cursor() == 2


def test_an_old_state_has_its_cursor_moved_to_records_db(state_dir: Path) -> None:
    """Before, the cursor and the last exchange time were kept in ledger.db's meta: the
    first open moves them into records.db's, and later opens find nothing to move."""
    kit = simple_ledger(3)
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        for name in ("t0", "t1", "t2"):
            cp.admit(code(name), NOW)
    db = sqlite3.connect(state_dir / "ledger.db")  # what the old code wrote
    with db:
        db.execute(
            "INSERT INTO meta VALUES ('hub_acked_seq', '2'), ('hub_last_success', ?)",
            (str(NOW - 5),),
        )
    db.close()
    for _ in range(2):  # moved once; the second open has nothing to move
        with gate(state_dir, kit) as cp:
            assert (cp.log.upload_cursor(), cp.log.last_exchange()) == (2, NOW - 5)
            assert HubClient("http://127.0.0.1:9", cp).cursor() == 2
        assert not set(CURSOR_KEYS) & set(meta(state_dir / "ledger.db"))
        assert meta(state_dir / "records.db")["hub_acked_seq"] == "2"


def test_a_cursor_moved_half_way_keeps_the_records_db_value(state_dir: Path) -> None:
    """records.db commits first: after a crash between the two commits, ledger.db still
    holds a copy, and the value in records.db (maybe moved on since) is the one kept."""
    kit = simple_ledger(3)
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        for name in ("t0", "t1", "t2"):
            cp.admit(code(name), NOW)
        cp.log.set_upload_cursor(3)
    db = sqlite3.connect(state_dir / "ledger.db")
    with db:
        db.execute("INSERT INTO meta VALUES ('hub_acked_seq', '1')")
    db.close()
    with gate(state_dir, kit) as cp:
        assert cp.log.upload_cursor() == 3
    assert "hub_acked_seq" not in meta(state_dir / "ledger.db")


def test_a_fresh_state_has_no_cursor(state_dir: Path) -> None:
    kit = simple_ledger(1)
    with gate(state_dir, kit) as cp:
        assert (cp.log.upload_cursor(), cp.log.last_exchange()) == (0, None)
