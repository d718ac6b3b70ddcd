"""Driver URLs are parsed strictly: every mistake names the URL and the option."""

from __future__ import annotations

import subprocess
import sys

import pytest

from errors import BadDriverURL, UnknownScheme
from hardware import (
    check_output_url,
    check_sensor_url,
    output_for_url,
    parse_driver_url,
    sensor_for_url,
)


def test_parts() -> None:
    url = parse_driver_url("gpio:17?active=low&pulse_ms=800", ["gpio", "sim"])
    assert (url.scheme, url.path, dict(url.options)) == (
        "gpio",
        "17",
        {"active": "low", "pulse_ms": "800"},
    )


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("serial:/dev/ttyUSB0?board=lcus", "/dev/ttyUSB0"),
        ("serial:///dev/ttyUSB0?board=lcus", "/dev/ttyUSB0"),
        ("serial:loop://?board=lcus", "loop://"),
        ("serial:/dev/serial/by-id/usb-1a86%20USB-if00", "/dev/serial/by-id/usb-1a86 USB-if00"),
        ("sim:", ""),
        ("SIM:relay", "relay"),
    ],
)
def test_paths(text: str, path: str) -> None:
    assert parse_driver_url(text, ["serial", "sim"]).path == path


@pytest.mark.parametrize("text", ["v4l2:/dev/video0", "17", "", "gpo:17"])
def test_unknown_scheme_lists_known(text: str) -> None:
    with pytest.raises(UnknownScheme) as err:
        output_for_url(text)
    message = str(err.value)
    assert repr(text) in message
    assert "gpio:" in message and "serial:" in message and "sim:" in message


def test_sensor_schemes_are_their_own() -> None:
    with pytest.raises(UnknownScheme, match="gpio:, sim:"):
        sensor_for_url("serial:/dev/ttyUSB0")


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("sim:?pulse=800", "pulse"),  # unknown option
        ("sim:?rest=closed", "rest"),  # bad choice
        ("sim:?pulse_ms=0", "pulse_ms"),  # out of range
        ("sim:?pulse_ms=60001", "pulse_ms"),
        ("sim:?pulse_ms=8e2", "pulse_ms"),  # not a whole number
        ("sim:?pulse_ms=800&pulse_ms=900", "pulse_ms"),  # twice
        ("sim:?rest", "rest"),  # no value
        ("sim:?log=", "log"),
        ("gpio:17?active=lo", "active"),
        ("gpio:17?edge=falling", "edge"),  # a sensor option on an output
        ("gpio:28", "28"),  # not a header pin
        ("gpio:GPIO17", "GPIO17"),
        ("gpio:", "pin"),
        ("serial:/dev/ttyUSB0?board=sainsmart", "board"),
        ("serial:/dev/ttyUSB0?board=lcus&channel=9", "channel"),
        ("serial:/dev/ttyUSB0?board=lcus&on=A00101A2", "on"),
        ("serial:/dev/ttyUSB0?board=raw&on=A00101A2", "off"),
        ("serial:/dev/ttyUSB0?board=raw&on=A00101A&off=A00100A1", "on"),  # odd digits
        ("serial:/dev/ttyUSB0?board=raw&on=XYZ&off=A00100A1", "on"),
        ("serial:/dev/ttyUSB0?board=raw&on=A0&off=A0", "same"),
        ("serial:/dev/ttyUSB0?board=raw&channel=1&on=01&off=00", "channel"),
        ("serial:/dev/ttyUSB0?baud=9601", "baud"),
        ("serial:?board=lcus", "port"),
        ("serial:/dev/ttyUSB0?", "empty"),
    ],
)
@pytest.mark.parametrize("step", [check_output_url, output_for_url])
def test_bad_output_urls(url: str, named: str, step) -> None:
    with pytest.raises(BadDriverURL) as err:
        step(url)
    assert repr(url) in str(err.value)
    assert named in str(err.value)


def test_unknown_option_lists_the_known_ones() -> None:
    with pytest.raises(
        BadDriverURL,
        match=r"unknown option 'colour'; sim: takes rest, "
        r"pulse_ms, log",
    ):
        output_for_url("sim:?colour=green")


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("gpio:27?edge=down", "edge"),
        ("gpio:27?pull=high", "pull"),
        ("gpio:27?bounce_ms=-1", "bounce_ms"),
        ("gpio:27?active=low", "active"),
        ("sim:?follow=", "follow"),
        ("sim:?delay_ms=soon", "delay_ms"),
        ("sim:?hold=/run/stand", "hold"),
        ("sim:?follow=relay&hold=", "hold"),
    ],
)
@pytest.mark.parametrize("step", [check_sensor_url, sensor_for_url])
def test_bad_sensor_urls(url: str, named: str, step) -> None:
    with pytest.raises(BadDriverURL) as err:
        step(url)
    assert repr(url) in str(err.value) and named in str(err.value)


def test_errors_resemble_builtins() -> None:
    with pytest.raises(ValueError):
        output_for_url("nope:")
    with pytest.raises(ValueError):
        output_for_url("sim:?nope=1")


def test_importing_hardware_imports_no_driver_package() -> None:
    code = (
        "import sys, hardware; hardware.output_for_url('sim:').pulse(); "
        "bad = [m for m in ('serial', 'RPi', 'RPi.GPIO') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


@pytest.mark.parametrize(
    "url",
    [
        "gpio:17?active=low&rest=on&pulse_ms=800",
        "gpio:0?active=HIGH",
        "serial:/dev/ttyUSB-gatehouse-absent?board=lcus&channel=8&baud=115200&rest=off"
        "&pulse_ms=60000",
        "serial:///dev/ttyUSB0?board=raw&on=A0%2001%2001%20A2&off=A00100A1&baud=1200",
        "serial:loop://",
        "sim:relay?rest=on&pulse_ms=1&log=/nonexistent/dir/relay.log",
    ],
)
def test_every_output_option_checks_without_opening(url: str) -> None:
    """Each scheme's every option is accepted by the check, which opens nothing: the
    port above does not exist and RPi.GPIO is not installed here."""
    parsed = check_output_url(url)
    assert parsed.text == url


@pytest.mark.parametrize(
    "url",
    [
        "gpio:27?edge=both&pull=off&bounce_ms=0",
        "gpio:4?edge=rising&pull=down&bounce_ms=5000",
        "sim:beam?follow=relay&delay_ms=60000",
    ],
)
def test_every_sensor_option_checks_without_opening(url: str) -> None:
    assert check_sensor_url(url).text == url


def test_checking_imports_no_device_library() -> None:
    code = (
        "import sys, hardware; hardware.check_output_url('gpio:17?active=low'); "
        "hardware.check_output_url('serial:/dev/ttyUSB0?board=lcus'); "
        "hardware.check_sensor_url('gpio:27'); "
        "bad = [m for m in ('serial', 'RPi', 'RPi.GPIO', 'nacl') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
