"""Power cuts and crashes under the real daemon and its sync child, against a real hub.

``gate run`` (its own process group, like a systemd unit's cgroup) takes codes from a
serial scanner on a pty while its sync child pulls blocks from a hub that keeps
publishing (heartbeats carry the redeems of uploaded records) and pushes records. At
random moments either the whole group is SIGKILLed (a power cut: daemon and child
together) or only the sync child is (the daemon must carry on and restart it). After
every power cut: each admission the daemon reported (it reports only after the synced
commit) is in the log, no ticket is admitted twice, the chain verifies, both databases
pass SQLite's integrity check, and what the hub holds is a prefix of the gate's log.

40 kills by default; the long variant is ``GATEHOUSE_CRASH_KILLS=200`` (docs/testing in
tests/README.md).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from hub import Authority, Hub

from ..clikit import ROOT, gate
from ..hubkit import held_rows
from ..ledgerkit import code, issue, show, write_config
from ..test_crash import check_state

KILLS = int(os.environ.get("GATEHOUSE_CRASH_KILLS", "40"))
TICKETS = 1500
DEVICE = "crash-1"


class Daemon:
    def __init__(self, config: Path, scanner: int) -> None:
        self.scanner = scanner
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gate", "-c", str(config), "run"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own group: a power cut takes the child too
        )
        self.lines: list[dict] = []
        self.sync_kills = 0
        self.started = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                event = json.loads(line)
                self.lines.append(event)
                if event.get("event") == "started":
                    self.started.set()

    def sync_child(self) -> int | None:
        """The sync child's pid, whichever of the daemon's threads started it."""
        pids: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            try:
                pids += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                continue
        return pids[0] if pids else None

    def power_cut(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=10)

    def admitted(self) -> dict[str, int]:
        return {
            e["ticket"]: e["seq"]
            for e in self.lines
            if e.get("event") == "decision" and e.get("result") == "admitted"
        }


def test_power_cuts_and_sync_crashes_lose_nothing(tmp_path: Path, start_hub) -> None:
    rng = random.Random(20261203)
    now = int(time.time())
    hub_dir = tmp_path / "hub"
    hub_dir.mkdir()
    live = {"valid_from": now - 3600, "until": now + 7200}
    with Authority(hub_dir) as authority:
        authority.append([show(starts=now - 3600, ends=now + 7200)], now - 900)
        for first in range(0, TICKETS, 250):
            authority.append([issue(f"t{i}", **live) for i in range(first, first + 250)], now)
        key = authority.public_key
    hub = start_hub(hub_dir, heartbeat=0.2)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    master, slave = os.openpty()
    config = write_config(
        tmp_path / "gate.toml",
        ledger_key=key,
        state_dir=state,
        device=DEVICE,
        extra=f"""
[camera]
url = "serial:{os.ttyname(slave)}"
[relay]
url = "sim:relay?pulse_ms=20"
[lane]
debounce = 0.1
[hub]
url = "{hub.url}"
[control]
socket = "{tmp_path / "control.sock"}"
group = "root"
""",
    )
    operator = Hub(hub_dir)
    try:
        enrol = operator.enrol_code(now)
    finally:
        operator.close()
    assert gate(config, "enrol", enrol).returncode == 0
    public_key = bytes.fromhex(
        json.loads(gate(config, "device", "show", "--json").stdout)["public_key"]
    )

    reported: dict[str, int] = {}
    next_ticket = kills = sync_kills = 0
    daemon = Daemon(config, master)
    try:
        while kills < KILLS:
            assert daemon.started.wait(60), "gate run did not start"
            # Feed codes for a while, at a turnstile's pace or faster.
            until = time.monotonic() + rng.uniform(0.05, 0.6)
            while time.monotonic() < until and next_ticket < TICKETS:
                os.write(master, code(f"t{next_ticket}", int(time.time())).encode() + b"\r\n")
                next_ticket += 1
                time.sleep(rng.uniform(0.005, 0.03))
            child = daemon.sync_child()
            if child is not None and rng.random() < 0.35:
                try:
                    os.kill(child, signal.SIGKILL)  # only the sync child: the lane goes on
                except ProcessLookupError:
                    continue  # it ended and was reaped in between: nothing was killed
                daemon.sync_kills += 1
                sync_kills += 1
                kills += 1
                continue
            daemon.power_cut()
            # The sync child dies only when killed here: never by itself.
            exits = [e for e in daemon.lines if e.get("alarm") == "sync_worker_exited"]
            assert len(exits) <= daemon.sync_kills, exits
            kills += 1
            admitted = daemon.admitted()
            for ticket, seq in admitted.items():
                assert reported.setdefault(ticket, seq) == seq, f"{ticket} admitted twice"
            check_state(state, public_key, reported, device=DEVICE)
            ours = gate(config, "records", "export", "-").stdout.splitlines()
            theirs = held_rows(hub_dir, DEVICE)
            assert theirs == ours[: len(theirs)], "the hub holds what the gate never wrote"
            daemon = Daemon(config, master)
    finally:
        if daemon.proc.poll() is None:
            daemon.power_cut()
        os.close(master)
        os.close(slave)
    assert sync_kills >= KILLS // 5 and kills == KILLS
    assert len(reported) > 50, "the daemon must have admitted a real stream between kills"
