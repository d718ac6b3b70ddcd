"""``clock_behind`` through the real CLI: ``gate check/admit --now`` behind the newest
block, in JSON and in words, the record it leaves, and ``gate sync status``'s alarm."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from verifier import verify_records

from .clikit import gate
from .ledgerkit import NOW, LedgerKit, code, issue, show, simple_ledger, write_config

HOUR = 3600


def applied_gate(tmp_path: Path, newest_block: int, extra: str = "") -> Path:
    """A gate holding tickets t0..t2 and a heartbeat block at ``newest_block``."""
    kit = simple_ledger(3)
    kit.append([], time=newest_block)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    config = write_config(tmp_path / "gate.toml", ledger_key=kit.key, state_dir=state, extra=extra)
    assert (
        gate(config, "ledger", "apply", str(kit.write(tmp_path / "ledger.jsonl"))).returncode == 0
    )
    return config


def test_admit_with_the_clock_an_hour_behind_the_newest_block(tmp_path: Path) -> None:
    config = applied_gate(tmp_path, NOW + HOUR)
    screenshot = code("t0", NOW)  # fresh to a clock reading NOW, an hour old in truth

    refused = gate(config, "admit", screenshot, "--now", str(NOW), "--json")
    assert refused.returncode == 1, refused.stderr
    out = json.loads(refused.stdout)
    assert (out["result"], out["reason"], out["seq"]) == ("rejected", "clock_behind", 1)
    assert (out["floor"], out["floor_source"]) == (NOW + HOUR, "block 2")
    assert out["ticket"] is not None and out["step"] == NOW // 15

    words = gate(config, "check", screenshot, "--now", str(NOW))
    assert words.returncode == 1
    assert "REJECTED ticket" in words.stdout
    assert "this gate's clock is behind: call a technician to set it" in words.stdout
    assert "(it is at least " in words.stdout and ", proven by block 2)" in words.stdout

    # The clock set right: the screenshot is refused for what it is, a live code admitted.
    later = str(NOW + HOUR)
    expired = json.loads(gate(config, "check", screenshot, "--now", later, "--json").stdout)
    assert expired["reason"] == "expired_code" and "floor" not in expired
    live = gate(config, "admit", code("t0", NOW + HOUR), "--now", later, "--json")
    assert live.returncode == 0 and json.loads(live.stdout)["reason"] == "ok"

    # At the floor, or up to the tolerance below it: decided as before; a second more is not.
    for below, reason in ((0, "ok"), (30, "ok"), (31, "clock_behind")):
        at = NOW + HOUR - below
        check = gate(config, "check", code("t1", at), "--now", str(at), "--json")
        assert json.loads(check.stdout)["reason"] == reason, below

    lines = gate(config, "records", "export", "-").stdout.splitlines()
    assert [json.loads(x)["reason"] for x in lines] == ["clock_behind", "ok"]
    key = bytes.fromhex(json.loads(gate(config, "device", "show", "--json").stdout)["public_key"])
    assert verify_records(lines, key, device="north-1") == 2


def test_sync_status_reports_clock_behind(tmp_path: Path) -> None:
    """This unit's real clock against a ledger whose newest block is an hour ahead of it:
    behind, whatever the hub says (here it is unreachable)."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    now = int(time.time())
    kit = LedgerKit(time=now - 600)
    kit.append([show(starts=now, ends=now + 7200)])
    kit.append([issue("t0", valid_from=now - 3600, until=now + 7200)])
    kit.append([], time=now + HOUR)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    config = write_config(
        tmp_path / "gate.toml",
        ledger_key=kit.key,
        state_dir=state,
        extra=f'[hub]\nurl = "http://127.0.0.1:{port}"\n',
    )
    assert (
        gate(config, "ledger", "apply", str(kit.write(tmp_path / "ledger.jsonl"))).returncode == 0
    )
    status = gate(config, "sync", "status", "--json")
    assert status.returncode == 1
    info = json.loads(status.stdout)
    assert "clock_behind" in info["alarms"] and "clock_skew" not in info["alarms"]
    assert (info["time_floor"], info["time_floor_source"]) == (now + HOUR, "block 2")
    assert HOUR - 120 < info["clock_behind"] <= HOUR
    assert "refused as clock_behind" in status.stderr and "block 2" in status.stderr
    # and the lane's decision agrees, on the unit's own clock
    decided = gate(config, "check", code("t0", now), "--json")
    assert json.loads(decided.stdout)["reason"] == "clock_behind"
