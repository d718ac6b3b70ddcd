"""The peer child's alarms as a steward sees them: one ``peer_unreachable`` naming every
silent peer, cleared when the last answers; never cleared by a sync round; a restarted
child clears ``peers_worker_exited``."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate import peer_exchange
from gate.lane_health import LaneHealth
from gate.peer_exchange import PeerExchange
from gate.peer_service import CheckpointThread

from ..ledgerkit import simple_ledger
from ..statekit import gate


def test_sync_rounds_leave_peer_alarms_alone_and_their_own_lines_clear_them() -> None:
    health = LaneHealth(hub_configured=True)
    for name in ("peer_unreachable", "peer_fork", "peers_worker_exited", "hub_unreachable"):
        health.observe({"event": "alarm", "time": 1, "alarm": name, "detail": [name]})
    health.observe({"event": "sync", "time": 2, "hub": "reachable", "alarms": []})
    assert {a["alarm"] for a in health.alarms()} == {
        "peer_unreachable",
        "peer_fork",
        "peers_worker_exited",
    }
    health.observe({"event": "peers_started", "time": 3})
    health.observe({"event": "alarm_cleared", "time": 3, "alarm": "peer_unreachable"})
    assert [a["alarm"] for a in health.alarms()] == ["peer_fork"]


def test_one_unreachable_alarm_names_every_silent_peer(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peer_exchange, "UNREACHABLE_ALARM_S", 0.0)
    kit = simple_ledger(1)
    lines: list[dict] = []
    db = CheckpointThread(lambda: gate(state_dir, kit)).start()
    try:
        exchange = PeerExchange(
            db,
            device="north-1",
            urls=["http://127.0.0.1:9", "http://127.0.0.1:11"],
            emit=lines.append,
        )
        one, two = exchange.links.values()
        exchange._failed(one, "refused")
        exchange._failed(two, "timed out")
        exchange._failed(two, "timed out")  # still silent: nothing new to say
        exchange._contacted(one)
        exchange._contacted(one)
        exchange._contacted(two)
    finally:
        db.close()
    alarms = [(e["event"], e.get("detail")) for e in lines if e.get("alarm") == "peer_unreachable"]
    assert alarms == [
        ("alarm", ["http://127.0.0.1:9: refused"]),
        ("alarm", ["http://127.0.0.1:11: timed out", "http://127.0.0.1:9: refused"]),
        ("alarm", ["http://127.0.0.1:11: timed out"]),
        ("alarm_cleared", None),
    ]
    assert [(e["url"], e["state"]) for e in lines if e["event"] == "peer"] == [
        ("http://127.0.0.1:9", "down"),
        ("http://127.0.0.1:11", "down"),
        ("http://127.0.0.1:9", "up"),
        ("http://127.0.0.1:11", "up"),
    ]
