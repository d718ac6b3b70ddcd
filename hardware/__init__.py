"""hardware: the lane's relay, indicator lamps, buzzer and passage sensor, chosen by URL.

    relay = output_for_url("gpio:17?active=low&pulse_ms=800")
    green = output_for_url("serial:/dev/ttyUSB0?board=lcus&channel=2")
    sensor = sensor_for_url("gpio:27?edge=falling&pull=up&bounce_ms=50")
    check_output_url("gpio:17?actve=low")     # BadDriverURL, opening nothing

Every output is an ``Output`` (``on``, ``off``, ``pulse``, ``reset``, ``close``); every
sensor a ``PassageSensor`` (``mark``, ``wait``, ``add_callback``, ``close``); both are
``drivers.Device``. ``sim:`` gives the inspectable twins the tests and the demo use.
URL forms are in each driver module's header and in docs/wiring.md. Only ``errors`` and
``drivers`` (the framework every driver shares) are imported from the rest of
Gatehouse, and no device library until a device is opened.
"""

from drivers import DriverURL, parse_driver_url

from .output import Output
from .registry import (
    OUTPUTS,
    SENSORS,
    check_output_url,
    check_sensor_url,
    output_for_url,
    sensor_for_url,
)
from .sensor import PassageSensor
from .sim_output import SimOutput, read_sim_log
from .sim_sensor import SimSensor

__all__ = [
    "OUTPUTS",
    "SENSORS",
    "DriverURL",
    "Output",
    "PassageSensor",
    "SimOutput",
    "SimSensor",
    "check_output_url",
    "check_sensor_url",
    "output_for_url",
    "parse_driver_url",
    "read_sim_log",
    "sensor_for_url",
]
