"""The daemon's sync child: its lines reach the daemon's log, and a child that dies is
reported and started again (a crash in sync must never leave a lane silently offline)."""

from __future__ import annotations

import itertools
import random
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from gate.config import GateConfig, load_config
from gate.sync_worker import SyncWorker, retry_delay, run_sync_loop

from ..ledgerkit import LedgerKit, write_config


class ShortLivedChild(SyncWorker):
    """A child that says one thing, writes to stderr and dies with code 3."""

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-c",
            'import sys; print(\'{"event": "sync", "n": 1}\'); print("not json"); '
            'print("boom", file=sys.stderr); sys.exit(3)',
        ]


def gate_with_hub(tmp_path: Path, url: str = "http://127.0.0.1:9") -> GateConfig:
    """A gate (empty 0700 state) whose hub is at ``url``; by default a port nobody serves."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    return load_config(
        write_config(
            tmp_path / "gate.toml",
            ledger_key=LedgerKit().key,
            state_dir=state,
            device="north-1",
            extra=f'[hub]\nurl = "{url}"\n',
        )
    )


def test_a_dying_child_is_reported_and_restarted(tmp_path: Path) -> None:
    cfg = gate_with_hub(tmp_path)
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


def test_retries_back_off_with_jitter_and_reset_on_success() -> None:
    rng = random.Random(4)
    assert retry_delay(5.0, 0, rng) == 5.0
    for failures, low, high in (
        (1, 5.0, 10.0),
        (2, 10.0, 20.0),
        (3, 20.0, 40.0),
        (4, 30.0, 60.0),
        (12, 30.0, 60.0),
        (10_000, 30.0, 60.0),
    ):
        drawn = [retry_delay(5.0, failures, rng) for _ in range(200)]
        assert all(low <= d <= high for d in drawn), (failures, min(drawn), max(drawn))
        assert max(drawn) - min(drawn) > (high - low) / 4  # spread: gates do not retry together
    assert retry_delay(120.0, 3, rng) == 120.0  # a long interval is never shortened


def test_the_loop_backs_off_while_the_hub_is_away(tmp_path: Path) -> None:
    """Against a hub that is not there, rounds come further and further apart (each
    still reports hub_unreachable), instead of every ``interval``."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = gate_with_hub(tmp_path, f"http://127.0.0.1:{port}")
    rounds: list[float] = []
    alarms: list[str] = []
    stop = threading.Event()

    def emit(event: dict[str, Any]) -> None:
        if event["event"] == "sync":
            rounds.append(time.monotonic())
        elif event["event"] == "alarm":
            alarms.append(event["alarm"])

    loop = threading.Thread(target=run_sync_loop, args=(cfg, emit, stop), kwargs={"interval": 0.1})
    loop.start()
    time.sleep(2.5)
    stop.set()
    loop.join(10)
    gaps = [b - a for a, b in itertools.pairwise(rounds[:-1])]  # not the last, on stop
    # Without backoff: about 25 rounds 0.1 s apart. With it: 0.1-0.2, 0.2-0.4, 0.4-0.8,
    # 0.8-1.6 s ... so only a handful, each gap no shorter than the one before.
    assert 3 <= len(rounds) <= 8, gaps
    assert all(later >= earlier * 0.9 for earlier, later in itertools.pairwise(gaps)), gaps
    assert gaps[-1] >= 0.4, gaps
    assert alarms.count("hub_unreachable") == len(rounds)
