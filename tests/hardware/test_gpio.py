"""The gpio: drivers against the fake RPi.GPIO: levels, resting state, cleanup, edges."""

from __future__ import annotations

import sys
import time
from types import ModuleType

import pytest

from errors import DeviceUnavailable, DriverUnavailable
from hardware import output_for_url, sensor_for_url
from hardware.gpio_output import GpioOutput
from hardware.gpio_sensor import GpioSensor

HIGH, LOW = 1, 0


def levels(gpio: ModuleType, pin: int) -> list[int]:
    return [level for _, level in gpio.fake_history(pin)]


def test_without_rpi_gpio_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "RPi", None)  # as on a laptop
    for open_ in (lambda: output_for_url("gpio:17"), lambda: sensor_for_url("gpio:27")):
        with pytest.raises(DriverUnavailable) as err:
            open_()
        assert "RPi.GPIO" in str(err.value) and "rpi-lgpio" in str(err.value)
        assert err.value.__cause__ is None and err.value.__suppress_context__
        assert isinstance(err.value, ImportError)


def test_not_a_pi(monkeypatch: pytest.MonkeyPatch) -> None:
    class NotAPi:
        def find_spec(self, name: str, path: object, target: object = None) -> None:
            if name == "RPi":
                raise RuntimeError("This module can only be run on a Raspberry Pi!")

    monkeypatch.delitem(sys.modules, "RPi", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NotAPi(), *sys.meta_path])
    with pytest.raises(DriverUnavailable, match="only be run on a Raspberry Pi"):
        output_for_url("gpio:17")


@pytest.mark.parametrize(
    ("options", "rest_level", "on_level"),
    [
        ("", LOW, HIGH),
        ("active=high", LOW, HIGH),
        ("active=low", HIGH, LOW),
        ("active=low&rest=on", LOW, HIGH),
        ("active=high&rest=on", HIGH, LOW),
    ],
)
def test_levels(fake_gpio: ModuleType, options: str, rest_level: int, on_level: int) -> None:
    relay = output_for_url(f"gpio:17?{options}&pulse_ms=30".replace("?&", "?"))
    assert isinstance(relay, GpioOutput)
    assert fake_gpio.getmode() == fake_gpio.BCM
    assert fake_gpio.fake_direction(17) == fake_gpio.OUT
    # Set up already at the resting level: opening never twitches the relay.
    assert levels(fake_gpio, 17) == [rest_level]
    relay.pulse()
    assert fake_gpio.fake_level(17) == on_level
    time.sleep(0.1)
    assert levels(fake_gpio, 17) == [rest_level, on_level, rest_level]
    relay.close()


def test_on_off_are_energised_levels(fake_gpio: ModuleType) -> None:
    relay = output_for_url("gpio:5?active=low")
    relay.on()
    assert fake_gpio.fake_level(5) == LOW
    relay.off()
    assert fake_gpio.fake_level(5) == HIGH
    relay.close()


def test_pulse_timing_at_the_pin(fake_gpio: ModuleType) -> None:
    relay = output_for_url("gpio:17?active=low&pulse_ms=50")
    relay.pulse()
    time.sleep(0.15)
    (_, _), (t_on, on), (t_off, off) = fake_gpio.fake_history(17)
    assert (on, off) == (LOW, HIGH)
    assert 0.048 <= t_off - t_on < 0.12
    relay.close()


def test_close_rests_then_cleans_up_the_pin(fake_gpio: ModuleType) -> None:
    relay = output_for_url("gpio:17?active=low")
    relay.pulse(5000)
    relay.close()
    relay.close()
    history = levels(fake_gpio, 17)
    assert history[:3] == [HIGH, LOW, HIGH]  # back to rest (HIGH) before letting go
    assert fake_gpio.fake_direction(17) is None  # GPIO.cleanup(17): an input again
    # The pin is free for the next driver.
    again = output_for_url("gpio:17")
    again.close()


def test_one_pin_one_driver(fake_gpio: ModuleType) -> None:
    relay = output_for_url("gpio:17")
    with pytest.raises(DeviceUnavailable, match=r"BCM pin 17 is already used by gpio:17"):
        sensor_for_url("gpio:17?edge=falling")
    with pytest.raises(DeviceUnavailable, match="already used"):
        output_for_url("gpio:17?active=low")
    assert fake_gpio.fake_direction(17) == fake_gpio.OUT
    relay.close()


def test_board_numbering_set_elsewhere(fake_gpio: ModuleType) -> None:
    fake_gpio.setmode(fake_gpio.BOARD)
    with pytest.raises(DeviceUnavailable, match="BCM"):
        output_for_url("gpio:17")


def test_gpio_failure_becomes_device_unavailable(
    fake_gpio: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(*args: object, **kwargs: object) -> None:
        raise RuntimeError("GPIO busy")

    monkeypatch.setattr(fake_gpio, "setup", busy)
    with pytest.raises(DeviceUnavailable, match=r"gpio:17.*BCM pin 17.*GPIO busy") as err:
        output_for_url("gpio:17")
    assert err.value.__cause__ is None
    monkeypatch.undo()
    output_for_url("gpio:17").close()  # the failed attempt did not keep the pin


def test_sensor_counts_falling_edges(fake_gpio: ModuleType) -> None:
    sensor = sensor_for_url("gpio:27?edge=falling&pull=up&bounce_ms=50")
    assert isinstance(sensor, GpioSensor)
    assert fake_gpio.fake_direction(27) == fake_gpio.IN
    assert fake_gpio.fake_pull(27) == fake_gpio.PUD_UP
    assert fake_gpio.fake_edge_detection(27) == fake_gpio.FALLING
    assert sensor.level() == HIGH  # pulled up, beam unbroken
    mark = sensor.mark()
    t = time.monotonic()
    assert fake_gpio.fake_drive(27, LOW, at=t) == 1  # beam broken
    fake_gpio.fake_drive(27, HIGH, at=t + 0.01)  # rising: not a passage
    fake_gpio.fake_drive(27, LOW, at=t + 0.02)  # chatter inside bounce_ms: ignored
    fake_gpio.fake_drive(27, HIGH, at=t + 0.03)
    assert sensor.wait(1.0, since=mark)
    assert sensor.count == 1
    fake_gpio.fake_drive(27, LOW, at=t + 0.2)  # the next person
    assert sensor.count == 2
    sensor.close()
    sensor.close()
    assert fake_gpio.fake_edge_detection(27) is None
    assert fake_gpio.fake_direction(27) is None


@pytest.mark.parametrize(
    ("options", "edge", "pull"),
    [
        ("edge=rising&pull=down", "RISING", "PUD_DOWN"),
        ("edge=both&pull=off", "BOTH", "PUD_OFF"),
    ],
)
def test_sensor_options(fake_gpio: ModuleType, options: str, edge: str, pull: str) -> None:
    with sensor_for_url(f"gpio:22?{options}") as sensor:
        assert fake_gpio.fake_edge_detection(22) == getattr(fake_gpio, edge)
        assert fake_gpio.fake_pull(22) == getattr(fake_gpio, pull)
        fake_gpio.fake_drive(22, HIGH, at=1.0)
        fake_gpio.fake_drive(22, LOW, at=2.0)
        assert sensor.count == (2 if edge == "BOTH" else 1)
    assert sensor.closed


def test_sensor_without_debounce(fake_gpio: ModuleType) -> None:
    # RPi.GPIO refuses bouncetime=0 (the fake does too): the driver must leave it out.
    sensor = sensor_for_url("gpio:27?bounce_ms=0")
    t = time.monotonic()
    for i in range(3):
        fake_gpio.fake_drive(27, LOW, at=t + i * 0.001)
        fake_gpio.fake_drive(27, HIGH, at=t + i * 0.001 + 0.0005)
    assert sensor.count == 3
    sensor.close()
