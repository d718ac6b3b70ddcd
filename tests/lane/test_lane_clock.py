"""The lane with an injected clock that cannot be trusted: it raises ``clock_behind`` with
the wall clock, the floor and what to do, refuses and records every ticket meanwhile,
and clears the alarm by itself once the clock is right. The running floor keeps a clock
that started behind (or was set back) behind, instead of letting it catch up."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from gate.cli.ctl import status_lines
from gate.control_commands import LaneControl
from gate.lane import Lane
from gate.lane_health import LaneHealth
from gate.outputs import Outputs
from hardware import output_for_url
from scanner.frame import TextLine
from verifier import Checkpoint, Policy, verify_records
from verifier.blocks import read_blocks

from ..ledgerkit import NOW, code, simple_ledger

HOUR = 3600


class NoDecoder:
    name = "none"

    def decode(self, frame: Any) -> list[str]:  # pragma: no cover - texts only here
        raise AssertionError("text items need no decoder")


class Clocks:
    """The wall clock (which a person or NTP may set) and the two that are never set:
    the monotonic clock and the boot clock. ``wait`` moves time on for all three."""

    def __init__(self, wall: int) -> None:
        self.wall = float(wall)
        self.mono = 100.0
        self.boot = 5000.0

    def wait(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds
        self.boot += seconds


def line(text: str) -> TextLine:
    return TextLine(text=text, raw=text.encode(), timestamp=time.monotonic(), index=0)


@pytest.fixture
def outputs():
    made = Outputs(
        relay=output_for_url("sim:relay?pulse_ms=20"),
        green=output_for_url("sim:green?pulse_ms=20"),
        red=output_for_url("sim:red?pulse_ms=20"),
    )
    yield made
    for o in made.all():
        o.close()


def checkpoint(state_dir: Path, newest_block: int) -> Checkpoint:
    """Tickets t0..t4, and a heartbeat block at ``newest_block``."""
    kit = simple_ledger(5)
    kit.append([], time=newest_block)
    cp = Checkpoint(
        state_dir, device="north-1", ledger_key=kit.key, policy=Policy(events=frozenset({"show"}))
    )
    assert cp.apply_lines(read_blocks(kit.lines())).error is None
    return cp


def lane_on(cp: Checkpoint, outputs: Outputs, clocks: Clocks, events: list[dict]) -> Lane:
    return Lane(
        cp,
        outputs,
        NoDecoder(),
        clock=lambda: clocks.wall,
        monotonic=lambda: clocks.mono,
        boottime=lambda: clocks.boot,
        emit=events.append,
    )


def alarms(events: list[dict]) -> list[tuple[str, Any]]:
    return [
        (e["event"], e.get("behind_s"))
        for e in events
        if e["event"] in ("alarm", "alarm_cleared") and e.get("alarm") == "clock_behind"
    ]


def test_an_hour_behind_raises_refuses_and_clears_when_set_right(
    state_dir: Path, outputs: Outputs
) -> None:
    events: list[dict] = []
    clocks = Clocks(NOW)  # the hub's newest block says it is an hour later than this
    with checkpoint(state_dir, NOW + HOUR) as cp:
        lane = lane_on(cp, outputs, clocks, events)
        lane.tick()
        [alarm] = [e for e in events if e["event"] == "alarm"]
        assert alarm["alarm"] == "clock_behind"
        assert (alarm["time"], alarm["clock"], alarm["floor"]) == (NOW, NOW, NOW + HOUR)
        assert (alarm["floor_source"], alarm["behind_s"]) == ("block 2", HOUR)
        assert "3600 s behind" in alarm["detail"] and "timedatectl" in alarm["detail"]
        assert lane.clock_watch.health() == {"clock_behind": HOUR, "time_floor": NOW + HOUR}

        # A screenshot taken at NOW, which this clock takes for fresh: refused, recorded.
        [d] = lane.handle(line(code("t0", NOW)))
        assert (d.reason, d.seq) == ("clock_behind", 1)
        assert outputs.red.wait_for(True, 2)  # type: ignore[union-attr]
        assert [s for _, s in outputs.relay.states if s] == []  # type: ignore[union-attr]
        decision = next(e for e in events if e["event"] == "decision")
        assert decision["reason"] == "clock_behind"
        clocks.wait(5)
        lane.tick()
        assert alarms(events) == [("alarm", HOUR)]  # one line while it lasts

        clocks.wall = NOW + HOUR + 10  # NTP is back (or a technician set it)
        clocks.wait(1)
        lane.tick()
        assert alarms(events) == [("alarm", HOUR), ("alarm_cleared", 0)]
        cleared = events[-1]
        assert (cleared["clock"], cleared["floor"]) == (NOW + HOUR + 11, NOW + HOUR + 6)
        assert lane.clock_watch.health()["clock_behind"] == 0
        [d] = lane.handle(line(code("t1", NOW + HOUR + 11)))
        assert d.admitted
        [d] = lane.handle(line(code("t0", NOW)))  # the screenshot, now seen for what it is
        assert d.reason == "expired_code"
        records = list(cp.export_records())
        assert verify_records(records, cp.public_key, device="north-1") == 3


@pytest.mark.parametrize("below", [0, 30])
def test_at_the_floor_or_within_the_tolerance_the_lane_works(
    state_dir: Path, outputs: Outputs, below: int
) -> None:
    events: list[dict] = []
    clocks = Clocks(NOW + HOUR - below)
    with checkpoint(state_dir, NOW + HOUR) as cp:
        lane = lane_on(cp, outputs, clocks, events)
        lane.tick()
        [d] = lane.handle(line(code("t0", NOW + HOUR - below)))
        assert d.admitted
        assert alarms(events) == []
        assert lane.clock_watch.health() == {"clock_behind": 0, "time_floor": NOW + HOUR}


def test_the_first_refusal_brings_the_alarm_at_once(state_dir: Path, outputs: Outputs) -> None:
    events: list[dict] = []
    with checkpoint(state_dir, NOW + HOUR) as cp:
        lane = lane_on(cp, outputs, Clocks(NOW), events)
        [d] = lane.handle(line(code("t0", NOW)))  # before any tick
        assert d.reason == "clock_behind"
        assert [e["event"] for e in events][-2:] == ["decision", "alarm"]


def test_a_clock_that_starts_behind_does_not_catch_up(state_dir: Path, outputs: Outputs) -> None:
    """Ten minutes behind the newest block at start: an hour later the wall clock has
    passed that block's time, but the running floor has moved on as far."""
    events: list[dict] = []
    clocks = Clocks(NOW - 600)
    with checkpoint(state_dir, NOW) as cp:
        lane = lane_on(cp, outputs, clocks, events)
        lane.tick()
        clocks.wait(HOUR)
        lane.tick()
        assert lane.clock_watch.state is not None
        assert lane.clock_watch.state.floor.source == "block 2 + 3600 s running"
        assert alarms(events) == [("alarm", 600)]
        [d] = lane.handle(line(code("t0", NOW + HOUR - 600)))  # ten minutes old in truth
        assert (d.reason, d.floor) == ("clock_behind", NOW + HOUR)


def test_a_clock_set_back_while_the_lane_runs_is_caught(state_dir: Path, outputs: Outputs) -> None:
    """Right at start; two quiet hours later someone sets the clock back by them. Nothing
    stored is newer than the old block, but the boot clock counted the two hours."""
    events: list[dict] = []
    clocks = Clocks(NOW + 10)
    with checkpoint(state_dir, NOW) as cp:
        lane = lane_on(cp, outputs, clocks, events)
        lane.tick()
        assert alarms(events) == []
        clocks.wait(2 * HOUR)
        clocks.wall -= 2 * HOUR
        lane.tick()
        assert alarms(events) == [("alarm", 2 * HOUR - 10)]
        assert cp.time_floor().at == NOW  # what the files prove is two hours older
        [d] = lane.handle(line(code("t0", NOW + 10)))  # a screenshot from two hours ago
        assert d.reason == "clock_behind"


def test_the_status_and_the_alarm_list_follow_the_lane(state_dir: Path, outputs: Outputs) -> None:
    events: list[dict] = []
    clocks = Clocks(NOW)
    health = LaneHealth(hub_configured=True)
    seen: list[dict] = []

    def tell(event: dict) -> None:  # as the daemon: the journal, then the watchers
        events.append(event)
        seen.extend(health.observe(event))

    with checkpoint(state_dir, NOW + HOUR) as cp:
        lane = Lane(
            cp,
            outputs,
            NoDecoder(),
            clock=lambda: clocks.wall,
            monotonic=lambda: clocks.mono,
            boottime=lambda: clocks.boot,
            emit=tell,
        )
        control = LaneControl(lane, None, health, device="north-1", decoder=None)  # type: ignore[arg-type]
        lane.tick()
        [alarm] = health.alarms()
        assert (alarm["alarm"], alarm["since"]) == ("clock_behind", NOW)
        assert "3600 s behind" in alarm["detail"]
        assert {"type": "alarm", "alarm": "clock_behind"}.items() <= seen[-1].items()
        status = control.status()
        assert status["health"]["clock_behind"] == HOUR
        assert status["health"]["time_floor"] == NOW + HOUR
        assert "clock 3600 s BEHIND what the gate can prove" in status_lines(status)
        assert "alarms: clock_behind since" in status_lines(status)
        # A sync round that lists no alarms says nothing about the lane's clock.
        tell({"event": "sync", "time": NOW, "hub": "reachable", "alarms": []})
        assert [a["alarm"] for a in health.alarms()] == ["clock_behind"]
        clocks.wall = NOW + HOUR
        clocks.wait(1)
        lane.tick()
        assert health.alarms() == []
        assert seen[-1] == {
            "type": "alarm_cleared",
            "alarm": "clock_behind",
            "time": NOW + HOUR + 1,
        }
        assert control.status()["health"]["clock_behind"] == 0


def test_a_state_that_cannot_be_read_does_not_stop_the_clock_check(
    state_dir: Path, outputs: Outputs
) -> None:
    """A failing card is the record log's alarm; the clock check goes on with the floor it
    carries, and the lane goes on."""
    events: list[dict] = []
    clocks = Clocks(NOW + HOUR)
    with checkpoint(state_dir, NOW + HOUR) as cp:
        lane = lane_on(cp, outputs, clocks, events)
        lane.tick()

        def unreadable(also=None):
            raise sqlite3.OperationalError("disk I/O error")

        cp.time_floor = unreadable  # type: ignore[method-assign]
        clocks.wait(60)
        clocks.wall -= 600  # and the clock is set back meanwhile
        lane.tick()
        assert lane.clock_watch.state is not None
        assert lane.clock_watch.state.floor.source == "block 2 + 60 s running"
        assert alarms(events) == [("alarm", 600)]
