"""A card that fills up or turns read-only under a real lane: real filesystems (a small
tmpfs, mounted for the test, so needs root), a real checkpoint, sim outputs.

What must hold: nothing opens for a decision that could not be recorded, one alarm says
so, nothing is half-written, and when the card takes writes again the lane admits by
itself and the record chain verifies.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gate.lane import Lane
from gate.lane_health import LaneHealth
from gate.outputs import Outputs
from hardware import output_for_url, read_sim_log
from scanner.frame import TextLine
from verifier import Checkpoint, Policy, verify_records
from verifier.blocks import read_blocks

from ..clikit import ROOT
from ..diskkit import fill, small_tmpfs
from ..ledgerkit import NOW, code, simple_ledger, write_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting filesystems needs root")


class NoDecoder:
    name = "none"

    def decode(self, frame: Any) -> list[str]:  # pragma: no cover - texts only
        raise AssertionError("text items need no decoder")


@pytest.fixture
def card(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB filesystem of its own, like a small SD card."""
    with small_tmpfs(tmp_path / "card", "size=2m,mode=0700") as where:
        yield where


class Rig:
    def __init__(self, state: Path, logs: Path, tickets: int) -> None:
        self.kit = simple_ledger(tickets)
        self.cp = Checkpoint(
            state, device="north-1", ledger_key=self.kit.key, policy=Policy(frozenset({"show"}))
        )
        assert self.cp.apply_lines(read_blocks(self.kit.lines())).error is None
        self.relay_log, self.red_log = logs / "relay.log", logs / "red.log"
        self.outputs = Outputs(
            relay=output_for_url(f"sim:relay?pulse_ms=20&log={self.relay_log}"),
            red=output_for_url(f"sim:red?pulse_ms=20&log={self.red_log}"),
        )
        self.journal: list[dict[str, Any]] = []
        self.health = LaneHealth(hub_configured=False)
        self.seen: list[dict[str, Any]] = []

        def tell(line: dict[str, Any]) -> None:
            self.journal.append(line)
            self.seen.extend(self.health.observe(line))

        self.lane = Lane(self.cp, self.outputs, NoDecoder(), debounce_s=0, emit=tell)
        self.lane.clock = lambda: float(NOW)

    def scan(self, name: str) -> dict[str, Any]:
        text = code(name)
        self.lane.handle(TextLine(text, text.encode(), time.monotonic(), 0))
        return [e for e in self.journal if e["event"] == "decision"][-1]

    def openings(self) -> int:
        time.sleep(0.1)  # the last pulse's log line
        return sum(1 for _, on in read_sim_log(self.relay_log) if on)

    def alarms(self, name: str) -> list[str]:
        return [e["event"] for e in self.journal if e.get("alarm") == name]

    def close(self) -> None:
        for output in self.outputs.all():
            output.close()
        self.cp.close()


def test_a_full_card_opens_nothing_and_recovers_with_the_chain_intact(
    card: Path, tmp_path: Path
) -> None:
    state = card / "state"
    state.mkdir(mode=0o700)
    rig = Rig(state, tmp_path, tickets=120)
    try:
        assert rig.scan("t0")["reason"] == "ok"
        filler = fill(card)
        decisions = [rig.scan(f"t{i}") for i in range(1, 100)]
        refused = [d for d in decisions if d["reason"] == "cannot_record"]
        admitted = [d for d in decisions if d["reason"] == "ok"]
        # SQLite may still fit a few records in pages it already holds; then it stops.
        assert refused, "a full card must stop admissions"
        assert len(admitted) + len(refused) == len(decisions)
        assert all(d["result"] == "rejected" and d["seq"] is None for d in refused)
        assert rig.openings() == 1 + len(admitted)  # nothing opened for the refused
        assert any(on for _, on in read_sim_log(rig.red_log))  # the refusal's red lamp
        assert rig.alarms("disk_full") == ["alarm"]  # said once, not per scan
        detail = next(e for e in rig.journal if e.get("alarm") == "disk_full")["detail"]
        assert str(state) in detail and "free space" in detail
        assert [a["alarm"] for a in rig.health.alarms()] == ["disk_full"]

        filler.unlink()  # space returns: the next scan is admitted, the alarm clears
        back = rig.scan("t110")
        assert back["reason"] == "ok" and back["seq"] == 2 + len(admitted)
        assert rig.alarms("disk_full") == ["alarm", "alarm_cleared"]
        assert rig.health.alarms() == []
        assert [e["type"] for e in rig.seen if "alarm" in e["type"]] == [
            "alarm",
            "alarm_cleared",
        ]
        lines = list(rig.cp.export_records())
        assert verify_records(lines, rig.cp.public_key, device="north-1") == len(lines)
        assert len(lines) == 2 + len(admitted)  # each admission once; no half record
        assert rig.openings() == 2 + len(admitted)
    finally:
        rig.close()


@pytest.fixture
def failing_card(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A real ext4 filesystem on a loop device, mounted ``errors=remount-ro`` as
    Raspberry Pi OS mounts its root; ext4's own error trigger then turns it read-only
    under open files, the way a failing SD card does. Yields (mount point, trigger)."""
    image, where = tmp_path / "card.img", tmp_path / "ext4card"
    where.mkdir()
    with open(image, "wb") as f:
        f.truncate(16 << 20)
    if subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True).returncode:
        pytest.skip("mkfs.ext4 is not available")
    loop = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True)
    if loop.returncode != 0:
        pytest.skip(f"no loop device here: {loop.stderr.strip()}")
    device = loop.stdout.strip()
    try:
        mounted = subprocess.run(
            ["mount", "-o", "errors=remount-ro", device, str(where)], capture_output=True, text=True
        )
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount ext4 on a loop device: {mounted.stderr.strip()}")
        trigger = Path("/sys/fs/ext4") / Path(device).name / "trigger_fs_error"
        if not trigger.exists():
            pytest.skip(f"{trigger} is missing (kernel without ext4's error trigger)")
        try:
            yield where, trigger
        finally:
            subprocess.run(["umount", "-l", str(where)], check=False)
    finally:
        subprocess.run(["losetup", "-d", device], check=False)


def fail(trigger: Path) -> None:
    trigger.write_text("gatehouse test: the card fails\n")


def test_a_card_turned_read_only_stops_admissions_with_one_alarm(
    failing_card: tuple[Path, Path], tmp_path: Path
) -> None:
    where, trigger = failing_card
    state = where / "state"
    state.mkdir(mode=0o700)
    rig = Rig(state, tmp_path, tickets=10)
    try:
        assert rig.scan("t0")["reason"] == "ok"
        fail(trigger)
        assert rig.scan("t1")["reason"] == "cannot_record"
        assert rig.scan("t2")["reason"] == "cannot_record"
        assert rig.alarms("state_unwritable") == ["alarm"]
        detail = next(e for e in rig.journal if e.get("alarm") == "state_unwritable")["detail"]
        assert str(state) in detail and "read-only" in detail
        assert rig.openings() == 1
        assert [a["alarm"] for a in rig.health.alarms()] == ["state_unwritable"]
        # Whatever was committed before the failure is still there, and verifies.
        lines = list(rig.cp.export_records())
        assert verify_records(lines, rig.cp.public_key, device="north-1") == 1
    finally:
        rig.close()


def test_gate_commands_on_a_failed_card_say_so_without_a_traceback(
    failing_card: tuple[Path, Path], tmp_path: Path
) -> None:
    where, trigger = failing_card
    state = where / "state"
    state.mkdir(mode=0o700)
    kit = simple_ledger(2)
    config = write_config(
        tmp_path / "gate.toml",
        ledger_key=kit.key,
        state_dir=state,
        extra=f'[camera]\nurl = "synthetic:?fps=1"\n[relay]\nurl = "sim:relay"\n'
        f'[control]\nsocket = "{tmp_path / "control.sock"}"\ngroup = "root"\n',
    )
    ledger = kit.write(tmp_path / "ledger.jsonl")

    def gate(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gate", "-c", str(config), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert gate("ledger", "apply", str(ledger)).returncode == 0
    fail(trigger)
    for args in (("admit", code("t0"), "--now", str(NOW)), ("ledger", "status"), ("run",)):
        result = gate(*args)
        assert result.returncode in (2, 3), result
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("gate: "), result.stderr
        assert f"state_dir {state} is on a read-only filesystem" in lines[0], lines[0]
