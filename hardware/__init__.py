"""hardware: the lane's relay, indicator lamps, buzzer and passage sensor, chosen by URL.

    relay = relay_for_url("gpio:17?active=low&pulse_ms=800")
    green = output_for_url("serial:/dev/ttyUSB0?board=lcus&channel=2")
    sensor = sensor_for_url("gpio:27?edge=falling&pull=up&bounce_ms=50")

Every output is an ``Output`` (``on``, ``off``, ``pulse``, ``reset``, ``close``); every
sensor a ``PassageSensor`` (``mark``, ``wait``, ``add_callback``, ``close``). ``sim:``
gives the inspectable twins the tests and the demo use. URL forms are in each driver
module's header and in docs/wiring.md. Only ``errors`` is imported from
the rest of Gatehouse, besides ``drivers`` (the URL parser every driver shares).
"""

from drivers import DriverURL, parse_driver_url

from .output import Output
from .registry import (
    OUTPUT_BACKENDS,
    SENSOR_BACKENDS,
    output_for_url,
    relay_for_url,
    sensor_for_url,
)
from .sensor import PassageSensor
from .sim_output import SimOutput, read_sim_log
from .sim_sensor import SimSensor

__all__ = [
    "OUTPUT_BACKENDS",
    "SENSOR_BACKENDS",
    "DriverURL",
    "Output",
    "PassageSensor",
    "SimOutput",
    "SimSensor",
    "output_for_url",
    "parse_driver_url",
    "read_sim_log",
    "relay_for_url",
    "sensor_for_url",
]
