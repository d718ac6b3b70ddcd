"""The RPi.GPIO module, imported only when a ``gpio:`` driver is chosen, and pin claims.

``RPi.GPIO`` drives the header on a Pi 1-4; on a Pi 5 (whose GPIO sits behind the RP1
chip) the ``rpi-lgpio`` package installs a module of the same name and API. A laptop
running the demo never needs either. The tests put a fake module of the same API on
``sys.path`` (tests/fakes/RPi); production code never looks for it.

Pins are numbered BCM (the ``GPIO17`` names on pinout diagrams, not header positions).
Two drivers in one process may not claim the same pin: a relay and a sensor configured
on one pin by mistake would fight each other, so the second one is refused.
"""

from __future__ import annotations

import threading
from types import ModuleType

from drivers import DriverURL
from errors import DeviceUnavailable, DriverUnavailable

HEADER_PINS = range(28)  # BCM 0..27 reach the 40-pin header

_claims: dict[int, tuple[object, str]] = {}
_claims_lock = threading.Lock()


def import_gpio() -> ModuleType:
    """The RPi.GPIO module set to BCM numbering, or ``DriverUnavailable`` saying what to install."""
    try:
        from RPi import GPIO
    except (ImportError, RuntimeError) as exc:
        # RPi.GPIO raises RuntimeError when imported on something that is not a Pi.
        raise DriverUnavailable(
            f"gpio: drivers need the RPi.GPIO module ({exc}); on a Raspberry Pi 1-4 "
            "install RPi.GPIO (pip install RPi.GPIO, or apt install python3-rpi.gpio), "
            "on a Pi 5 install rpi-lgpio (pip install rpi-lgpio)"
        ) from None
    GPIO.setwarnings(False)
    mode = GPIO.getmode()
    if mode is None:
        GPIO.setmode(GPIO.BCM)
    elif mode != GPIO.BCM:
        raise DeviceUnavailable(
            "gpio: pin numbering was already set to BOARD in this process; "
            "Gatehouse uses BCM numbers"
        )
    return GPIO


def parse_pin(url: DriverURL) -> int:
    """The BCM pin number that is the URL's path."""
    path = url.path.strip()
    if not path.isdigit() or int(path) not in HEADER_PINS:
        raise url.error(
            f"pin {path!r} must be a BCM GPIO number from 0 to 27 "
            "(GPIO17 is gpio:17, on header position 11)"
        )
    return int(path)


def claim(pin: int, owner: object, url: str) -> None:
    """Reserve ``pin`` for ``owner`` in this process, or say who holds it."""
    with _claims_lock:
        holder = _claims.get(pin)
        if holder is not None:
            raise DeviceUnavailable(f"{url}: BCM pin {pin} is already used by {holder[1]}")
        _claims[pin] = (owner, url)


def release(pin: int, owner: object) -> None:
    with _claims_lock:
        holder = _claims.get(pin)
        if holder is not None and holder[0] is owner:
            del _claims[pin]
