"""Serial relay boards over a real pty, with a simulated board process checking bytes."""

from __future__ import annotations

import sys
import time

import pytest

import hardware.output
from errors import DeviceUnavailable, DriverUnavailable
from hardware import output_for_url
from hardware.serial_relay import SerialRelay, lcus_frame

from .conftest import Board

ON_1, OFF_1 = "A00101A2", "A00100A1"


def hexes(frames: list[tuple[float, str, str]]) -> list[str]:
    return [h for _, h, _ in frames]


@pytest.mark.parametrize(
    ("channel", "on", "frame"),
    [
        (1, True, "A00101A2"),
        (1, False, "A00100A1"),
        (2, True, "A00201A3"),
        (8, False, "A00800A8"),
    ],
)
def test_lcus_frames(channel: int, on: bool, frame: str) -> None:
    assert lcus_frame(channel, on).hex().upper() == frame


def test_lcus_pulse_bytes_and_timing(lcus_board: Board) -> None:
    relay = output_for_url(f"serial:{lcus_board.path}?board=lcus&channel=1&pulse_ms=80")
    assert isinstance(relay, SerialRelay)
    assert lcus_board.frames(1)[0][1:] == (OFF_1, "ch=1 off")  # reset on open
    relay.pulse()
    (t_on, on, _), (t_off, off, _) = lcus_board.frames(2)
    assert (on, off) == (ON_1, OFF_1)
    assert 0.075 <= t_off - t_on < 0.3  # measured where the board sees it
    relay.close()
    assert hexes(lcus_board.frames(1)) == [OFF_1]  # close drives rest again
    assert lcus_board.idle()


def test_lcus_other_channel_and_authority_form(lcus_board: Board) -> None:
    relay = output_for_url(f"serial://{lcus_board.path}?board=lcus&channel=2&baud=9600")
    relay.on()
    relay.off()
    relay.close()
    frames = lcus_board.frames(4)
    assert hexes(frames) == ["A00200A2", "A00201A3", "A00200A2", "A00200A2"]
    assert all(not meaning.startswith("BAD") for _, _, meaning in frames)


def test_lcus_extension_is_one_on_and_one_off(lcus_board: Board) -> None:
    relay = output_for_url(f"serial:{lcus_board.path}?board=lcus")
    lcus_board.frames(1)
    relay.pulse(100)
    time.sleep(0.05)
    relay.pulse(100)  # the board gets A0 01 01 A2 again: harmless, it is already on
    frames = lcus_board.frames(3)
    assert hexes(frames) == [ON_1, ON_1, OFF_1]
    assert frames[2][0] - frames[0][0] >= 0.145
    relay.close()


def test_rest_on(lcus_board: Board) -> None:
    relay = output_for_url(f"serial:{lcus_board.path}?board=lcus&rest=on&pulse_ms=30")
    relay.pulse()
    time.sleep(0.1)
    assert hexes(lcus_board.frames(3)) == [ON_1, OFF_1, ON_1]
    relay.close()


def test_raw_board(raw_board: Board) -> None:
    relay = output_for_url(f"serial:{raw_board.path}?board=raw&on=FE0501&off=fe0500&pulse_ms=40")
    relay.pulse()
    time.sleep(0.1)
    relay.reset()
    frames = raw_board.frames(4)
    assert [(h, m) for _, h, m in frames] == [
        ("FE0500", "off"),
        ("FE0501", "on"),
        ("FE0500", "off"),
        ("FE0500", "off"),
    ]
    relay.close()


def test_nonexistent_port() -> None:
    with pytest.raises(DeviceUnavailable) as err:
        output_for_url("serial:/dev/ttyUSB-gatehouse-absent?board=lcus")
    assert "/dev/ttyUSB-gatehouse-absent" in str(err.value)
    assert "cannot be opened" in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert isinstance(err.value, OSError)


def test_port_already_in_use(lcus_board: Board) -> None:
    first = output_for_url(f"serial:{lcus_board.path}?board=lcus")
    with pytest.raises(DeviceUnavailable, match=lcus_board.path):
        output_for_url(f"serial:{lcus_board.path}?board=lcus&channel=2")
    first.close()


def test_unplugged_mid_way(lcus_board: Board) -> None:
    relay = output_for_url(f"serial:{lcus_board.path}?board=lcus")
    relay.pulse(50)
    assert hexes(lcus_board.frames(3)) == [OFF_1, ON_1, OFF_1]
    lcus_board.unplug()
    with pytest.raises(DeviceUnavailable) as err:
        relay.pulse(50)
    assert lcus_board.path in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert relay.is_on is None and relay.fault is err.value
    # The port was let go; the next command tries to reopen it, and says so.
    with pytest.raises(DeviceUnavailable, match=f"{lcus_board.path} cannot be opened"):
        relay.reset()
    relay.close()  # quiet: a dead board must not break the daemon's shutdown


def test_unplugged_during_a_pulse_is_retried(
    lcus_board: Board, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(hardware.output, "RETRY_S", 0.05)
    relay = output_for_url(f"serial:{lcus_board.path}?board=lcus")
    relay.pulse(40)
    lcus_board.unplug()
    time.sleep(0.2)
    assert relay.pulsing and relay.fault is not None  # still trying to end the pulse
    assert lcus_board.path in caplog.text and "pulse could not end" in caplog.text
    relay.close()
    assert not relay.pulsing


def test_loop_url_works() -> None:
    relay = output_for_url("serial:loop://?board=lcus&channel=4")
    relay.pulse(20)
    time.sleep(0.06)
    assert relay.is_on is False
    assert relay._port.read(12) == bytes.fromhex("A00400A4A00401A5A00400A4")
    relay.close()


def test_without_pyserial(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "serial", None)
    with pytest.raises(DriverUnavailable, match="pyserial"):
        output_for_url("serial:loop://?board=lcus")
