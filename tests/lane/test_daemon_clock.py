"""The real ``gate run`` on a unit whose clock is behind the newest block it holds (as
after a power cut on a Pi with no battery clock): the journal's alarm line says what the
clock reads, what it is behind and what to do, and a live-looking code is refused."""

from __future__ import annotations

import time
from pathlib import Path

from hardware import read_sim_log

from ..clikit import gate
from ..ledgerkit import code
from .test_daemon_e2e import daemon_config, events, live_ledger, write_frames

HOUR = 3600


def test_gate_run_raises_clock_behind_and_refuses(tmp_path: Path) -> None:
    now = int(time.time())
    kit = live_ledger(now, ["t0", "t1"])
    kit.append([], time=now + HOUR)  # the hub's heartbeat: an hour after this unit's clock
    frames = tmp_path / "frames"
    write_frames(frames, [[code("t0", now)], [], ["https://example.com/ticket/1"]])
    config = daemon_config(tmp_path, kit, f"images:{frames}?fps=5")
    assert gate(config, "ledger", "apply", str(tmp_path / "ledger.jsonl")).returncode == 0

    run = gate(config, "run")
    assert run.returncode == 0, run.stderr
    out = events(run.stdout)
    [alarm] = [e for e in out if e["event"] == "alarm"]
    assert alarm["alarm"] == "clock_behind" and alarm["floor"] == now + HOUR
    assert alarm["floor_source"] == "block 2"
    assert abs(alarm["clock"] - now) < 60 and HOUR - 60 < alarm["behind_s"] <= HOUR
    assert "refused as clock_behind" in alarm["detail"] and "timedatectl" in alarm["detail"]
    decisions = [e for e in out if e["event"] == "decision"]
    assert [d["reason"] for d in decisions] == ["clock_behind", "not_a_ticket"]
    assert not [s for _, s in read_sim_log(tmp_path / "relay.log") if s]  # never opened
    assert [e for e in out if e["event"] == "alarm_cleared"] == []
