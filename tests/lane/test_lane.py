"""The lane pipeline with a real checkpoint and sim hardware: the relay moves only after
the commit, repeats are one scan, modes, and voids when no one passes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from errors import Refused
from gate.lane import Debounce, Lane
from gate.outputs import Outputs
from hardware import SimOutput, SimSensor, output_for_url
from scanner.frame import TextLine
from verifier import Checkpoint, Policy
from verifier.blocks import read_blocks

from ..ledgerkit import NOW, code, simple_ledger


class NoDecoder:
    name = "none"

    def decode(self, frame: Any) -> list[str]:  # pragma: no cover - texts only here
        raise AssertionError("text items need no decoder")


def line(text: str) -> TextLine:
    return TextLine(text=text, raw=text.encode(), timestamp=time.monotonic(), index=0)


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def parts(state_dir: Path):
    kit = simple_ledger(5)
    cp = Checkpoint(
        state_dir, device="north-1", ledger_key=kit.key, policy=Policy(events=frozenset({"show"}))
    )
    cp.apply_lines(read_blocks(kit.lines()))
    outputs = Outputs(
        relay=output_for_url("sim:relay?pulse_ms=50"),
        green=output_for_url("sim:green?pulse_ms=50"),
        red=output_for_url("sim:red?pulse_ms=50"),
    )
    events: list[dict] = []
    clock = Clock()
    yield cp, outputs, events, clock
    for o in outputs.all():
        o.close()
    cp.close()


def make_lane(parts, **kw: Any) -> Lane:
    cp, outputs, events, clock = parts
    return Lane(cp, outputs, NoDecoder(), clock=clock, emit=events.append, **kw)


def test_admission_pulses_relay_after_the_commit(parts) -> None:
    cp, outputs, events, _ = parts
    relay: SimOutput = outputs.relay  # type: ignore[assignment]
    seen_at_pulse: list[int] = []
    original = relay.pulse

    def pulse(ms: int | None = None) -> None:
        seen_at_pulse.append(cp.status()["records"])  # the record is already committed
        original(ms)

    relay.pulse = pulse  # type: ignore[method-assign]
    lane = make_lane(parts)
    [d] = lane.handle(line(code("t0")))
    assert d.admitted and seen_at_pulse == [1]
    assert relay.wait_for(False, 2) and [s for _, s in relay.states][-2:] == [True, False]
    decision = next(e for e in events if e["event"] == "decision")
    assert decision["reason"] == "ok" and decision["seq"] == 1
    assert set(decision["latency_ms"]) == {"decode", "decide", "commit", "actuate", "total"}


def test_repeats_within_the_window_are_one_scan(parts) -> None:
    lane = make_lane(parts, debounce_s=3.0)
    assert len(lane.handle(line(code("t1")))) == 1
    assert lane.handle(line(code("t1"))) == []
    assert parts[0].status()["records"] == 1


def test_rejection_lights_red_and_never_moves_the_relay(parts) -> None:
    _, outputs, _, _ = parts
    lane = make_lane(parts)
    [d] = lane.handle(line("https://example.com"))
    assert d.reason == "not_a_ticket"
    assert outputs.red.wait_for(True, 2)  # type: ignore[union-attr]
    assert [s for _, s in outputs.relay.states if s] == []  # type: ignore[union-attr]


def test_closed_and_free_modes(parts) -> None:
    _, outputs, events, _ = parts
    lane = make_lane(parts)
    lane.set_mode("closed")
    [d] = lane.handle(line(code("t2")))
    assert d.reason == "lane_closed"
    lane.set_mode("free")
    assert outputs.relay.is_on is True
    [d] = lane.handle(line(code("t3")))
    assert d.admitted
    lane.set_mode("normal")
    assert outputs.relay.is_on is False
    with pytest.raises(Refused, match="lane mode"):
        lane.set_mode("party")
    assert [e["mode"] for e in events if e["event"] == "mode"] == ["closed", "free", "normal"]


def test_no_passage_voids_the_admission(parts) -> None:
    cp = parts[0]
    sensor = SimSensor()
    sensor.trigger()  # someone walked through before anyone was admitted: it counts for nobody
    lane = make_lane(parts, sensor=sensor, passage_timeout=0.05)
    [first] = lane.handle(line(code("t4")))
    [second] = lane.handle(line(code("t0")))
    sensor.trigger()  # one person passes: it accounts for the first admission only
    time.sleep(0.1)
    lane.tick()
    assert lane.pending == [] and lane.stats.voided == 1
    voided = [json.loads(b) for b in cp.export_records()][-1]
    assert (voided["result"], voided["ref"]) == ("voided", second.seq)
    [third] = lane.handle(line(code("t1")))
    sensor.trigger()
    lane.tick()
    assert lane.pending == [] and lane.stats.voided == 1
    parts[3].now += 15
    assert cp.check(code("t0", NOW + 15), NOW + 15).reason == "ok"  # usable again
    assert cp.check(code("t4", NOW + 15), NOW + 15).reason == "already_used"
    assert first.admitted and second.admitted and third.admitted


def test_debounce_window() -> None:
    d = Debounce(1.0)
    assert d.fresh("a", 0.0) and not d.fresh("a", 0.5) and not d.fresh("a", 1.4)
    assert d.fresh("a", 2.5) and d.fresh("b", 2.5)
