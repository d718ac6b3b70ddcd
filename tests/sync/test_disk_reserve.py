"""A nearly full card: the ledger waits so the record log keeps its room.

Real hub on loopback, real state; the reserve is set above what this disk has free,
which is what a nearly full card looks like to the pull."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gate.config import load_config
from gate.sync_worker import sync_round
from hub import Hub
from sync.client import HubClient
from verifier import Checkpoint, Policy

from ..hubkit import make_gate, seed_hub


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_blocks_wait_when_they_would_eat_the_record_reserve(tmp_path: Path, start_hub) -> None:
    hub_dir = tmp_path / "hub"
    key = seed_hub(hub_dir)
    hub = start_hub(hub_dir)
    config = make_gate(tmp_path, "north-1", key, hub.url)
    cfg = load_config(config)
    cp = Checkpoint(cfg.state_dir, device="north-1", ledger_key=key, policy=Policy(frozenset()))
    try:
        operator = Hub(hub_dir)
        try:
            enrol_code = operator.enrol_code(int(time.time()))
        finally:
            operator.close()
        HubClient(hub.url, cp).enrol(enrol_code)  # reads are for enrolled devices
        starved = HubClient(hub.url, cp, reserve=free_bytes(cfg.state_dir) + (1 << 30))
        report = starved.pull()
        assert report.disk_low and report.applied == 0 and cp.ledger.head().height == -1
        assert f"{cfg.state_dir}: " in report.error and "kept for the record log" in report.error
        # The sync round says disk_low (not that the hub misbehaved).
        events: list[dict] = []
        sync_round(starved, cfg, events.append)
        alarms = [e["alarm"] for e in events if e["event"] == "alarm"]
        assert "disk_low" in alarms and "hub_refused" not in alarms
        # With room, the same pull applies everything.
        report = HubClient(hub.url, cp).pull()
        assert not report.disk_low and report.error is None and report.applied >= 2
    finally:
        cp.close()
