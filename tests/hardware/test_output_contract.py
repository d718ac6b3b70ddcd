"""One suite for every output backend: sim, gpio (fake RPi.GPIO), serial (pty, loop://),
and a real board when GATEHOUSE_TEST_RELAY_URL names one (like pyserial's test suite).

    GATEHOUSE_TEST_RELAY_URL='serial:/dev/ttyUSB0?board=lcus&channel=1' pytest tests/hardware

The real relay clicks during these tests; nothing is wired to it, one hopes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from errors import DeviceClosed, DeviceUnavailable
from hardware import Output, output_for_url

from .conftest import Board

REAL_URL = os.environ.get("GATEHOUSE_TEST_RELAY_URL")

Opener = Callable[[str], Output]


def _with(url: str, options: str) -> str:
    if not options:
        return url
    return url + ("&" if "?" in url else "?") + options


BACKENDS = ["sim", "gpio", "serial-pty", "serial-loop"] + (["real"] if REAL_URL else [])


def test_real_relay() -> None:
    """Says, once, how to run this suite against a real board."""
    if not REAL_URL:
        pytest.skip("set GATEHOUSE_TEST_RELAY_URL to run the output suite on a real relay")


@pytest.fixture(params=BACKENDS)
def open_output(request: pytest.FixtureRequest) -> Iterator[Opener]:
    """A function that opens this backend's output with extra URL options."""
    opened: list[Output] = []
    if request.param == "sim":
        base = "sim:relay"
    elif request.param == "gpio":
        request.getfixturevalue("fake_gpio")
        base = "gpio:17?active=low"
    elif request.param == "serial-pty":
        board = request.getfixturevalue("lcus_board")
        base = f"serial:{board.path}?board=lcus&channel=1"
    elif request.param == "serial-loop":
        base = "serial:loop://?board=lcus&channel=3"
    else:
        assert REAL_URL
        base = REAL_URL

    def opener(options: str = "") -> Output:
        out = output_for_url(_with(base, options))
        opened.append(out)
        return out

    yield opener
    for out in opened:
        out.close()
    if opened and opened[-1].rest:
        output_for_url(base).close()  # leave a real relay released, whatever the test did


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.002)
    return check()


def test_opens_at_rest(open_output: Opener) -> None:
    out = open_output("")
    assert out.is_on is False and out.rest is False and not out.pulsing


def test_opens_at_rest_on(open_output: Opener) -> None:
    out = open_output("rest=on")
    assert out.is_on is True and out.rest is True


def test_pulse_ends_by_itself(open_output: Opener) -> None:
    out = open_output("pulse_ms=60")
    start = time.monotonic()
    out.pulse()
    assert out.is_on is True and out.pulsing
    assert wait_until(lambda: out.is_on is False, 2.0)
    assert 0.055 <= time.monotonic() - start < 0.5
    assert not out.pulsing


def test_pulse_ends_while_the_caller_hangs(open_output: Opener) -> None:
    out = open_output("")
    seen: list[bool | None] = []

    def hung_pipeline() -> None:
        out.pulse(50)
        threading.Event().wait(0.4)  # stuck: a slow disk, a deadlock, anything
        seen.append(out.is_on)

    worker = threading.Thread(target=hung_pipeline)
    worker.start()
    assert wait_until(lambda: out.is_on is True, 1.0)
    assert wait_until(lambda: out.is_on is False, 1.0)
    assert worker.is_alive(), "the pulse must end while the caller is still stuck"
    worker.join()
    assert seen == [False]


def test_pulse_during_pulse_extends(open_output: Opener) -> None:
    out = open_output("")
    start = time.monotonic()
    out.pulse(200)
    time.sleep(0.15)
    out.pulse(200)  # ends at ~350 ms, not 200
    time.sleep(max(0.0, start + 0.27 - time.monotonic()))  # past the first pulse's end
    assert out.is_on is True
    assert wait_until(lambda: out.is_on is False, 2.0)
    assert time.monotonic() - start >= 0.345


def test_shorter_pulse_does_not_shorten(open_output: Opener) -> None:
    out = open_output("")
    out.pulse(150)
    out.pulse(10)
    time.sleep(0.08)
    assert out.is_on is True
    assert wait_until(lambda: out.is_on is False, 2.0)


def test_reset_cancels_a_pulse(open_output: Opener) -> None:
    out = open_output("")
    out.pulse(5000)
    out.reset()
    assert out.is_on is False and not out.pulsing
    time.sleep(0.05)
    assert out.is_on is False


def test_rest_on_pulses_off(open_output: Opener) -> None:
    out = open_output("rest=on&pulse_ms=40")
    out.pulse()
    assert out.is_on is False
    assert wait_until(lambda: out.is_on is True, 2.0)


def test_on_and_off_hold(open_output: Opener) -> None:
    out = open_output("")
    out.pulse(30)
    out.on()  # lane mode "free": held open, the pulse timer must not close it
    time.sleep(0.08)
    assert out.is_on is True
    out.off()
    assert out.is_on is False


def test_close_is_safe_twice_and_rests(open_output: Opener) -> None:
    out = open_output("")
    out.pulse(5000)
    out.close()
    out.close()
    assert out.closed and out.is_on is False
    # A closed output is a bug in the caller, not an unplugged board: its own error.
    with pytest.raises(DeviceClosed, match="closed"):
        out.pulse()
    with pytest.raises(DeviceClosed, match="closed"):
        out.reset()
    assert not issubclass(DeviceClosed, DeviceUnavailable)


def test_context_manager(open_output: Opener) -> None:
    with open_output("") as out:
        out.on()
    assert out.closed and out.is_on is False


def test_bad_pulse_length(open_output: Opener) -> None:
    out = open_output("")
    for ms in (0, -1, 60_001, 1.5, True):
        with pytest.raises(ValueError, match="pulse length"):
            out.pulse(ms)  # type: ignore[arg-type]
    assert out.is_on is False


def test_board_fixture_is_really_a_pty(lcus_board: Board) -> None:
    assert lcus_board.path.startswith("/dev/pts/")
