"""The ``ledger_stale`` and ``clock_skew`` alarms: one rule, read from the configuration,
for ``gate sync status`` and for every round of the daemon's sync worker."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from gate.assembly import open_checkpoint
from gate.config import LaneConfig, load_config
from gate.sync_health import health_alarms
from gate.sync_worker import sync_round
from sync.client import HubClient

from ..ledgerkit import LedgerKit, write_config

LANE = LaneConfig(max_ledger_age=60.0, max_clock_skew=5.0)


@pytest.mark.parametrize(
    ("age", "offset", "alarms"),
    [
        (60, 5, []),  # at the thresholds: still healthy
        (61, 0, ["ledger_stale"]),
        (None, 0, ["ledger_stale"]),  # nothing applied yet: nothing known
        (0, -6, ["clock_skew"]),  # behind the hub counts as much as ahead
        (0, None, []),  # hub unreachable: its own alarm, not this
        (1000, 6, ["ledger_stale", "clock_skew"]),
    ],
)
def test_alarms_from_health(age: int | None, offset: int | None, alarms: list[str]) -> None:
    assert health_alarms({"ledger_age": age, "clock_offset": offset}, LANE) == alarms


def _config(tmp_path: Path, hub: str) -> Path:
    state = tmp_path / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    return write_config(
        tmp_path / "gate.toml", ledger_key=LedgerKit().key, state_dir=state, extra=hub
    )


@pytest.mark.parametrize("hub", ["", '[hub]\nurl = "http://127.0.0.1:9"\n'])
def test_thresholds_default_to_the_lane_defaults(tmp_path: Path, hub: str) -> None:
    lane = load_config(_config(tmp_path, hub)).lane
    assert (lane.max_ledger_age, lane.max_clock_skew) == (120.0, 30.0)
    assert (lane.max_ledger_age, lane.max_clock_skew) == (
        LaneConfig().max_ledger_age,
        LaneConfig().max_clock_skew,
    )


def test_status_and_worker_raise_the_same_alarms(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = _config(
        tmp_path,
        f'[hub]\nurl = "http://127.0.0.1:{port}"\nmax_ledger_age = 10\nmax_clock_skew = 1\n',
    )
    cfg = load_config(path)
    assert (cfg.lane.max_ledger_age, cfg.lane.max_clock_skew) == (10.0, 1.0)
    status = subprocess.run(
        [sys.executable, "-m", "gate", "-c", str(path), "sync", "status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 1, status.stderr
    assert json.loads(status.stdout)["alarms"] == ["ledger_stale"]

    events: list[dict[str, Any]] = []
    with closing(open_checkpoint(cfg)) as cp:
        assert not sync_round(HubClient(cfg.lane.hub or "", cp, timeout=2), cfg, events.append)
    line = next(e for e in events if e["event"] == "sync")
    assert line["alarms"] == ["hub_unreachable", "ledger_stale"]
