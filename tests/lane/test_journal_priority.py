"""Under systemd the lane's JSON lines carry their syslog priority (``<4>...``), which
journald strips and keeps; anywhere else they are plain JSON, byte for byte as before."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gate.events import PRIORITY_BY_EVENT, emit_json, priority_of, writes_to_journal

GATE = Path(__file__).resolve().parents[2] / "gate"

SCRIPT = (
    "from gate.events import emit_json\n"
    "for kind in ('decision', 'alarm', 'sync', 'sync_error', 'stopped', 'something_new'):\n"
    "    emit_json({'event': kind, 'n': 1})\n"
)


def _run(stdout_file: Path, journal_stream: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    if journal_stream is not None:
        env["JOURNAL_STREAM"] = journal_stream
    with stdout_file.open("wb") as out:
        subprocess.run([sys.executable, "-c", SCRIPT], stdout=out, env=env, check=True)
    return stdout_file.read_text(encoding="utf-8").splitlines()


def test_lines_to_the_journal_stream_carry_their_priority(tmp_path: Path) -> None:
    out = tmp_path / "stream"
    out.touch()
    st = os.stat(out)
    lines = _run(out, f"{st.st_dev}:{st.st_ino}")
    assert [line[:3] for line in lines] == ["<6>", "<4>", "<7>", "<3>", "<5>", "<6>"]
    assert json.loads(lines[1][3:]) == {"event": "alarm", "n": 1}


@pytest.mark.parametrize("stream", [None, "", "12:34", "garbage", "1:2:3"])
def test_elsewhere_the_lines_are_unchanged(tmp_path: Path, stream: str | None) -> None:
    lines = _run(tmp_path / "out", stream)
    assert lines[0] == '{"event":"decision","n":1}'
    assert all(line.startswith("{") for line in lines)


def test_a_journal_stream_meant_for_another_fd_is_not_ours(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.touch()
    st = os.stat(other)
    lines = _run(tmp_path / "out", f"{st.st_dev}:{st.st_ino}")
    assert all(line.startswith("{") for line in lines)


def test_a_captured_stdout_is_never_the_journal(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    assert not writes_to_journal(io.StringIO(), {"JOURNAL_STREAM": "1:2"})
    emit_json({"event": "alarm"})
    assert capsys.readouterr().out == '{"event":"alarm"}\n'


def test_every_event_the_gate_emits_has_a_chosen_priority() -> None:
    emitted = set()
    for path in GATE.rglob("*.py"):
        if "demo" in path.parts or "steward" in path.parts:
            continue
        emitted |= set(re.findall(r'"event":\s*"([a-z_]+)"', path.read_text(encoding="utf-8")))
    emitted |= {
        "alarm_cleared",
        "sync_output",
        "sync_error",
        "peers_output",
        "peers_error",
    }  # built by expressions
    assert emitted - set(PRIORITY_BY_EVENT) == set()
    assert priority_of({"event": "decision"}) == 6
    assert priority_of({}) == 6
