"""The daemon's sync child: its lines reach the daemon's log, and a child that dies is
reported and started again (a crash in sync must never leave a lane silently offline)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

from gate.config import load_config
from gate.sync_worker import SyncWorker

from ..ledgerkit import LedgerKit, write_config


class ShortLivedChild(SyncWorker):
    """A child that says one thing, writes to stderr and dies with code 3."""

    def command(self) -> list[str]:
        return [sys.executable, "-c",
                'import sys; print(\'{"event": "sync", "n": 1}\'); print("not json"); '
                'print("boom", file=sys.stderr); sys.exit(3)']


def test_a_dying_child_is_reported_and_restarted(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    cfg = load_config(write_config(tmp_path / "gate.toml", ledger_key=LedgerKit().key,
                                   state_dir=state, device="north-1",
                                   extra='[hub]\nurl = "http://127.0.0.1:9"\n'))
    events: list[dict[str, Any]] = []
    two_exits = threading.Event()

    def emit(event: dict[str, Any]) -> None:
        events.append(event)
        if sum(e.get("alarm") == "sync_worker_exited" for e in events) >= 2:
            two_exits.set()

    worker = ShortLivedChild(cfg, emit)
    worker.start()
    assert two_exits.wait(20), events
    worker.stop()
    kinds = [e["event"] for e in events]
    assert kinds.count("sync") >= 2  # relayed from two children
    assert any(e["event"] == "sync_output" and e["line"] == "not json" for e in events)
    assert any(e["event"] == "sync_error" and e["line"] == "boom" for e in events)
    exited = [e for e in events if e.get("alarm") == "sync_worker_exited"]
    assert "exited with code 3" in exited[0]["detail"][0]
    count = len(events)
    time.sleep(1.5)  # stopped: no further child is started
    assert len(events) == count
