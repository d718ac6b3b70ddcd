# gpio:PIN[?active=high|low&rest=off|on&pulse_ms=800]
#
#   PIN       BCM GPIO number 0..27 (gpio:17 is GPIO17, header position 11)
#   active    the pin level that energises the output: high (default) or low. Most
#             opto-isolated relay modules sold for the Pi are active-low (IN pulled low
#             switches the relay on); check the module's label or docs/wiring.md
#   rest      resting state: off (default, de-energised) or on; see docs/wiring.md
#   pulse_ms  default pulse length, 1..60000 ms (default 800)
"""A relay, lamp or buzzer on a Raspberry Pi header pin, through the RPi.GPIO API.

The pin is set up as an output already at its resting level (``initial=``), so opening
the driver never twitches the relay. ``close()`` drives to rest and then hands the pin
back (``GPIO.cleanup(pin)``): it becomes an input, and the module's own input pull
decides what it does — de-energised on most boards, which is why a stopped daemon with
``rest=on`` behaves like a power loss (docs/wiring.md).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from drivers import DriverURL, Options
from errors import DeviceUnavailable

from . import rpi_gpio
from .output import DEFAULT_PULSE_MS, Output, read_rest_and_pulse


class GpioOutput(Output):
    """One BCM pin driven as an output; ``active_low`` maps energised to the LOW level."""

    def __init__(
        self,
        url: str,
        *,
        pin: int,
        active_low: bool = False,
        rest: bool = False,
        pulse_ms: int = DEFAULT_PULSE_MS,
    ) -> None:
        super().__init__(url, rest=rest, pulse_ms=pulse_ms)
        self.pin = pin
        self.active_low = active_low
        self._gpio: ModuleType = rpi_gpio.import_gpio()
        rpi_gpio.claim(pin, self, url)
        try:
            self._gpio.setup(pin, self._gpio.OUT, initial=self._level(rest))
        except (RuntimeError, ValueError, OSError) as exc:
            rpi_gpio.release(pin, self)
            raise DeviceUnavailable(
                f"{url}: cannot set up BCM pin {pin} as an output: {exc}"
            ) from None
        self.reset()

    @classmethod
    def settings(cls, url: DriverURL) -> dict[str, Any]:
        pin = rpi_gpio.parse_pin(url)
        opts = Options(url)
        active_low = opts.choice("active", ("high", "low"), "high") == "low"
        common = read_rest_and_pulse(opts)
        opts.done()
        return {"pin": pin, "active_low": active_low, **common}

    def _level(self, energised: bool) -> int:
        high = energised != self.active_low
        return self._gpio.HIGH if high else self._gpio.LOW

    def _drive(self, energised: bool) -> None:
        try:
            self._gpio.output(self.pin, self._level(energised))
        except (RuntimeError, ValueError, OSError) as exc:
            raise DeviceUnavailable(f"{self.url}: cannot drive BCM pin {self.pin}: {exc}") from None

    def _release(self) -> None:
        try:
            self._gpio.cleanup(self.pin)
        except (RuntimeError, ValueError, OSError):
            pass  # the pin is being given up anyway
        finally:
            rpi_gpio.release(self.pin, self)
