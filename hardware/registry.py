"""Which class drives which URL scheme, imported only when a URL chooses it.

Like python-can's ``BACKENDS``: ``scheme -> (module, class)``. Importing
``hardware`` imports neither RPi.GPIO nor pyserial, so a laptop running the demo with
``sim:`` needs neither, and a Pi with a GPIO relay needs no pyserial. A driver whose
package is missing raises ``DriverUnavailable`` naming what to install.
"""

from __future__ import annotations

import importlib

from drivers import parse_driver_url

from .output import Output
from .sensor import PassageSensor

OUTPUT_BACKENDS: dict[str, tuple[str, str]] = {
    "gpio": ("hardware.gpio_output", "GpioOutput"),
    "serial": ("hardware.serial_relay", "SerialRelay"),
    "sim": ("hardware.sim_output", "SimOutput"),
}

SENSOR_BACKENDS: dict[str, tuple[str, str]] = {
    "gpio": ("hardware.gpio_sensor", "GpioSensor"),
    "sim": ("hardware.sim_sensor", "SimSensor"),
}


def _backend(table: dict[str, tuple[str, str]], scheme: str) -> type:
    module_name, class_name = table[scheme]
    return getattr(importlib.import_module(module_name), class_name)


def output_for_url(url: str) -> Output:
    """Open the relay, lamp or buzzer ``url`` names, already driven to its resting state.

    Raises ``UnknownScheme``, ``BadDriverURL``, ``DriverUnavailable`` or
    ``DeviceUnavailable`` (all from ``errors``), each naming the URL.
    """
    parsed = parse_driver_url(url, OUTPUT_BACKENDS, kind="output")
    return _backend(OUTPUT_BACKENDS, parsed.scheme).from_url(parsed)


def relay_for_url(url: str) -> Output:
    """The turnstile relay: the same drivers as every other output."""
    return output_for_url(url)


def sensor_for_url(url: str) -> PassageSensor:
    """Open the passage sensor ``url`` names; errors as for ``output_for_url``."""
    parsed = parse_driver_url(url, SENSOR_BACKENDS, kind="sensor")
    return _backend(SENSOR_BACKENDS, parsed.scheme).from_url(parsed)
