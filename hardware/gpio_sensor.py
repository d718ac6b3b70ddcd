# gpio:PIN[?edge=falling|rising|both&pull=up|down|off&bounce_ms=50]
#
#   PIN        BCM GPIO number 0..27
#   edge       the level change that means "someone passed" (default falling: a
#              contact or an open-collector beam output that pulls the pin to ground)
#   pull       the Pi's internal resistor: up (default), down, or off when the sensor
#              drives the line itself or an external resistor is fitted
#   bounce_ms  ignore further edges for this long after one, 0..5000 (default 50): a
#              mechanical contact chatters, and a beam flickers as a bag swings through
"""A passage sensor on a Raspberry Pi header pin, through RPi.GPIO edge detection.

RPi.GPIO (and rpi-lgpio on a Pi 5) watches the pin on its own thread and calls back on
each edge, so a passage is counted even while the lane pipeline is busy deciding the
next scan. See docs/wiring.md for beams and rotation contacts.
"""

from __future__ import annotations

import contextlib
from types import ModuleType
from typing import Any

from drivers import DriverURL, Options
from errors import DeviceUnavailable

from . import rpi_gpio
from .sensor import PassageSensor


class GpioSensor(PassageSensor):
    """Counts edges on one BCM input pin as passages."""

    def __init__(
        self, url: str, *, pin: int, edge: str = "falling", pull: str = "up", bounce_ms: int = 50
    ) -> None:
        super().__init__(url)
        self.pin = pin
        self.edge = edge
        self.pull = pull
        self.bounce_ms = bounce_ms
        self._gpio: ModuleType = rpi_gpio.import_gpio()
        gpio = self._gpio
        rpi_gpio.claim(pin, self, url)
        pulls = {"up": gpio.PUD_UP, "down": gpio.PUD_DOWN, "off": gpio.PUD_OFF}
        edges = {"falling": gpio.FALLING, "rising": gpio.RISING, "both": gpio.BOTH}
        kwargs: dict[str, Any] = {"callback": self._on_edge}
        if bounce_ms > 0:  # RPi.GPIO refuses bouncetime=0; leaving it out means none
            kwargs["bouncetime"] = bounce_ms
        try:
            gpio.setup(pin, gpio.IN, pull_up_down=pulls[pull])
            gpio.add_event_detect(pin, edges[edge], **kwargs)
        except (RuntimeError, ValueError, OSError) as exc:
            self._give_back()
            raise DeviceUnavailable(
                f"{url}: cannot watch BCM pin {pin} for {edge} edges: {exc}"
            ) from None

    @classmethod
    def settings(cls, url: DriverURL) -> dict[str, Any]:
        pin = rpi_gpio.parse_pin(url)
        opts = Options(url)
        edge = opts.choice("edge", ("falling", "rising", "both"), "falling")
        pull = opts.choice("pull", ("up", "down", "off"), "up")
        bounce_ms = opts.integer("bounce_ms", 50, 0, 5000)
        opts.done()
        return {"pin": pin, "edge": edge, "pull": pull, "bounce_ms": bounce_ms}

    def level(self) -> int:
        """The pin's current level (1 high, 0 low), for ``gate selftest``."""
        try:
            return int(self._gpio.input(self.pin))
        except (RuntimeError, ValueError, OSError) as exc:
            raise DeviceUnavailable(f"{self.url}: cannot read BCM pin {self.pin}: {exc}") from None

    def _on_edge(self, channel: int) -> None:
        self._passage()

    def _give_back(self) -> None:
        for step in (self._gpio.remove_event_detect, self._gpio.cleanup):
            with contextlib.suppress(RuntimeError, ValueError, OSError):
                step(self.pin)  # may fail: not set up that far, or already gone
        rpi_gpio.release(self.pin, self)

    def _release(self) -> None:
        self._give_back()
