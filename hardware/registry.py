"""Which class drives which URL scheme, imported only when a URL chooses it.

The tables are ``drivers.Registry`` instances (one mechanism for every kind of driver).
Importing ``hardware`` imports neither RPi.GPIO nor pyserial, and neither does checking
a URL: the driver modules import their library when a device is opened. So a laptop
running the demo with ``sim:`` needs neither, a Pi with a GPIO relay needs no pyserial,
and ``gate config check`` validates a ``gpio:`` URL anywhere. A driver whose package is
missing raises ``DriverUnavailable`` naming what to install.
"""

from __future__ import annotations

from drivers import Backend, DriverURL, Registry

from .output import Output
from .sensor import PassageSensor

_GPIO = (
    "the RPi.GPIO module (Pi 1-4: pip install RPi.GPIO or apt install "
    "python3-rpi.gpio; Pi 5: pip install rpi-lgpio)"
)
_SERIAL = "the Python package pyserial (pip install 'gatehouse[hardware]', or pip install pyserial)"

OUTPUTS = Registry(
    "output",
    {
        "gpio": Backend("hardware.gpio_output", "GpioOutput", _GPIO),
        "serial": Backend("hardware.serial_relay", "SerialRelay", _SERIAL),
        "sim": Backend("hardware.sim_output", "SimOutput"),
    },
)

SENSORS = Registry(
    "sensor",
    {
        "gpio": Backend("hardware.gpio_sensor", "GpioSensor", _GPIO),
        "sim": Backend("hardware.sim_sensor", "SimSensor"),
    },
)


def check_output_url(url: str) -> DriverURL:
    """``url`` parsed and validated as a relay, lamp or buzzer, opening nothing.

    Raises ``UnknownScheme`` (listing the known schemes) or ``BadDriverURL`` (naming the
    bad part and what is allowed).
    """
    return OUTPUTS.check(url)


def check_sensor_url(url: str) -> DriverURL:
    """``url`` parsed and validated as a passage sensor, opening nothing."""
    return SENSORS.check(url)


def output_for_url(url: str) -> Output:
    """Open the relay, lamp or buzzer ``url`` names, already driven to its resting state.

    Raises ``UnknownScheme``, ``BadDriverURL``, ``DriverUnavailable`` or
    ``DeviceUnavailable`` (all from ``errors``), each naming the URL.
    """
    output: Output = OUTPUTS.open(url)
    return output


def sensor_for_url(url: str) -> PassageSensor:
    """Open the passage sensor ``url`` names; errors as for ``output_for_url``."""
    sensor: PassageSensor = SENSORS.open(url)
    return sensor
