"""Passage sensors: counting, waiting after a mark, callbacks, and the sim twin."""

from __future__ import annotations

import threading
import time

import pytest

from drivers import Device
from errors import DeviceClosed, DeviceUnavailable
from hardware import SimSensor, output_for_url, sensor_for_url


def test_wait_times_out_without_a_passage() -> None:
    with sensor_for_url("sim:beam") as sensor:
        assert isinstance(sensor, SimSensor) and sensor.name == "beam"
        start = time.monotonic()
        assert sensor.wait(0.05) is False
        assert time.monotonic() - start >= 0.05
        assert sensor.count == 0 and sensor.last_passage is None


def test_a_passage_before_wait_still_counts() -> None:
    sensor = sensor_for_url("sim:")
    mark = sensor.mark()
    sensor.trigger()  # a quick attendee: through before the pipeline starts waiting
    assert sensor.wait(0.01, since=mark) is True
    assert sensor.wait(0.01) is False  # but a fresh wait wants a fresh passage
    sensor.close()


def test_wait_wakes_on_a_passage_from_another_thread() -> None:
    sensor = sensor_for_url("sim:")
    threading.Timer(0.03, sensor.trigger).start()
    start = time.monotonic()
    assert sensor.wait(2.0) is True
    assert time.monotonic() - start < 1.0
    assert len(sensor.passages) == 1 and sensor.last_passage == sensor.passages[0]
    sensor.close()


def test_close_releases_a_waiter() -> None:
    sensor = sensor_for_url("sim:")
    threading.Timer(0.03, sensor.close).start()
    start = time.monotonic()
    assert sensor.wait(5.0) is False
    assert time.monotonic() - start < 1.0
    sensor.trigger()  # after close: ignored
    assert sensor.count == 0


def test_callbacks_and_a_failing_one(caplog: pytest.LogCaptureFixture) -> None:
    sensor = sensor_for_url("sim:")
    seen: list[float] = []

    def broken(at: float) -> None:
        raise RuntimeError("steward UI went away")

    sensor.add_callback(broken)
    sensor.add_callback(seen.append)
    sensor.trigger(at=12.5)
    assert seen == [12.5] and sensor.count == 1
    assert "steward UI went away" in caplog.text
    sensor.remove_callback(seen.append)
    sensor.remove_callback(seen.append)  # twice is fine
    sensor.trigger()
    assert seen == [12.5] and sensor.count == 2
    sensor.close()


def test_follow_a_sim_relay() -> None:
    relay = output_for_url("sim:lane1-relay?pulse_ms=50")
    sensor = sensor_for_url("sim:?follow=lane1-relay&delay_ms=20")
    mark = sensor.mark()
    relay.pulse()
    assert sensor.wait(1.0, since=mark)
    opened = relay.states[1][0]
    assert 0.018 <= sensor.passages[0] - opened < 0.5
    relay.reset()  # going back to rest is not an opening
    relay.on()  # held open (lane mode free) is one
    assert sensor.wait(1.0, since=mark + 1)
    sensor.close()
    relay.pulse(10)
    time.sleep(0.05)
    assert sensor.count == 2  # closed: no longer listening
    relay.close()


def test_while_the_hold_file_exists_an_opening_brings_no_passage(tmp_path) -> None:
    """``hold=``: the venue demo's attendee who is admitted and never walks through."""
    hold = tmp_path / "stands"
    relay = output_for_url("sim:lane3-relay?pulse_ms=10")
    sensor = sensor_for_url(f"sim:?follow=lane3-relay&delay_ms=0&hold={hold}")
    hold.touch()
    relay.pulse()
    assert sensor.wait(0.2, since=0) is False and sensor.count == 0
    hold.unlink()
    relay.pulse()
    assert sensor.wait(1.0, since=0) and sensor.count == 1
    sensor.close()
    relay.close()


def test_other_relays_do_not_count() -> None:
    relay = output_for_url("sim:lane2-relay")
    sensor = sensor_for_url("sim:?follow=lane1-relay&delay_ms=0")
    relay.pulse(10)
    assert sensor.wait(0.05) is False
    sensor.close()
    relay.close()


def test_a_closed_sensor_is_a_closed_device() -> None:
    """The lifecycle every driver shares: close twice, then using it is DeviceClosed
    (a bug in the caller), never DeviceUnavailable (an unplugged device)."""
    sensor = sensor_for_url("sim:beam")
    assert isinstance(sensor, Device)
    sensor.close()
    sensor.close()
    assert sensor.closed
    with pytest.raises(DeviceClosed, match="sim:beam: sensor is closed"):
        sensor.wait(0.01)
    with pytest.raises(DeviceClosed):
        sensor.add_callback(lambda at: None)
    assert not issubclass(DeviceClosed, DeviceUnavailable)


def test_closing_wakes_a_waiter() -> None:
    sensor = sensor_for_url("sim:")
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(sensor.wait(5)))
    waiter.start()
    time.sleep(0.05)
    sensor.close()
    waiter.join(2)
    assert results == [False]
