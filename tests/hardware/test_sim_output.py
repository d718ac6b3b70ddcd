"""The sim twin: exact transitions, failures, the log file, and the safety timers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hardware.output
from errors import DeviceUnavailable
from hardware import SimOutput, output_for_url, read_sim_log


def test_states_record_transitions_with_times() -> None:
    relay = output_for_url("sim:relay?pulse_ms=40")
    assert isinstance(relay, SimOutput) and relay.name == "relay"
    before = time.monotonic()
    relay.pulse()
    assert relay.wait_for(False, 2.0)
    relay.reset()  # already at rest: no new transition
    relay.close()
    states = relay.states
    assert [s for _, s in states] == [False, True, False]
    assert states[0][0] <= before <= states[1][0]
    assert 0.038 <= states[2][0] - states[1][0] < 0.3


def test_extension_is_one_pulse() -> None:
    relay = output_for_url("sim:")
    relay.pulse(60)
    time.sleep(0.03)
    relay.pulse(60)
    assert relay.wait_for(False, 2.0)
    on, off = relay.states[1][0], relay.states[2][0]
    assert [s for _, s in relay.states] == [False, True, False]
    assert off - on >= 0.085


def test_unplugged_device_raises_and_leaves_state_unknown() -> None:
    relay = output_for_url("sim:")
    relay.unplug()
    with pytest.raises(DeviceUnavailable, match="unplugged"):
        relay.pulse(50)
    assert relay.is_on is None and relay.fault is not None
    assert relay.pulsing  # the return to rest is scheduled all the same
    relay.plug()
    assert relay.wait_for(False, 1.0)
    assert relay.fault is None and not relay.pulsing


def test_pulse_end_is_retried_until_the_device_is_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware.output, "RETRY_S", 0.03)
    relay = output_for_url("sim:")
    relay.pulse(30)
    relay.unplug()  # the board drops off the bus mid-pulse
    time.sleep(0.12)
    assert relay.is_on is None and relay.pulsing and relay.fault is not None
    relay.plug()
    assert relay.wait_for(False, 1.0)
    assert [s for _, s in relay.states] == [False, True, False]
    relay.close()


def test_close_with_a_dead_device_does_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    relay = output_for_url("sim:")
    relay.on()
    relay.unplug()
    relay.close()
    assert relay.closed
    assert "could not drive to rest" in caplog.text


def test_log_file_survives_the_process(tmp_path: Path) -> None:
    log = tmp_path / "relay.jsonl"
    # A daemon killed mid-pulse: its relay was on when it died.
    url = f"sim:relay?log={log}"
    code = f"import os, hardware; r = hardware.output_for_url({url!r}); r.pulse(5000); os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    assert [s for _, s in read_sim_log(log)] == [False, True]
    # The next process starts from the state the "board" kept, then rests it.
    relay = output_for_url(f"sim:relay?log={log}")
    assert [s for _, s in relay.states] == [True, False]
    assert [s for _, s in read_sim_log(log)] == [False, True, False]
    lines = log.read_text().splitlines()
    assert set(json.loads(lines[-1])) == {"t", "state"}
    relay.close()


def test_torn_log_line_is_ignored(tmp_path: Path) -> None:
    log = tmp_path / "relay.jsonl"
    log.write_text('{"t": 1.0, "state": true}\n{"t": 2.0, "sta')
    assert read_sim_log(log) == [(1.0, True)]
    assert read_sim_log(tmp_path / "none.jsonl") == []


def test_repr_says_what_and_where() -> None:
    relay = output_for_url("sim:relay")
    assert repr(relay) == "<SimOutput sim:relay off>"
    relay.close()
    assert repr(relay).endswith("closed>")
