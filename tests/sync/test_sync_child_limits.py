"""The sync child lowers its own claim on the unit before it does anything: nice 10, the
idle I/O class and a data memory cap, read back from the kernel for a child the real
``SyncWorker`` started (docs/technicians.md, "The systemd units")."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gate import process_limits
from gate.sync_worker import SYNC_MAX_DATA_MB, SYNC_NICENESS, SyncWorker

from .test_sync_worker import gate_with_hub

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")


def _nice_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])  # field 19, counted after "(comm)"


def _data_limit_of(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max data size"):
            return line.split()[3]
    raise AssertionError("no 'Max data size' in /proc/PID/limits")


@linux_only
def test_the_started_child_runs_nice_idle_and_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under systemd the daemon's stdout is the journal; the child's is a pipe, so its
    # lines must stay plain JSON for the daemon to relay (gate/events.py).
    journal = tmp_path / "journal"
    journal.touch()
    st = os.stat(journal)
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    cfg = gate_with_hub(tmp_path)
    events: list[dict[str, Any]] = []
    worker = SyncWorker(cfg, events.append, interval=0.2)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not any(e["event"] == "sync" for e in events):
            assert time.monotonic() < deadline, events
            time.sleep(0.05)
        child = worker._child
        assert child is not None and child.poll() is None
        pid = child.pid
        baseline = os.nice(0)
        assert _nice_of(pid) == baseline + SYNC_NICENESS
        assert _data_limit_of(pid) == str(SYNC_MAX_DATA_MB << 20)
        io = process_limits.io_priority(pid)
        if io is None:
            pytest.skip(f"ioprio_get is not known on {os.uname().machine}")
        assert io[0] == process_limits.IOPRIO_CLASS_IDLE
    finally:
        worker.stop()
    kinds = {e["event"] for e in events}
    assert "sync_output" not in kinds and "warning" not in kinds, events


@linux_only
def test_the_calls_read_back_in_a_process_of_their_own() -> None:
    import subprocess

    script = (
        "import os, resource; from gate import process_limits as p; "
        "print(p.lower_cpu_priority(3), p.set_idle_io(), p.cap_data_memory(300 << 20)); "
        "print(os.nice(0), p.io_priority(), resource.getrlimit(resource.RLIMIT_DATA)[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "True True True"
    assert out[1] == f"{os.nice(0) + 3} (3, 0) {300 << 20}"


def test_unknown_platforms_are_skipped_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process_limits.platform, "machine", lambda: "pdp11")
    assert process_limits.set_idle_io() is False
    assert process_limits.io_priority() is None
    monkeypatch.setattr(process_limits.sys, "platform", "darwin")
    assert process_limits.set_idle_io() is False
