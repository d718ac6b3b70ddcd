"""The lane's actuators as one value: the turnstile relay and the optional lamps and buzzer.

Its own module, apart from the scan pipeline, because ``gate relay reset`` drives these
outputs to rest and must not load the camera stack the pipeline imports.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardware import Output


@dataclass(slots=True)
class Outputs:
    """The lane's actuators; only the relay is required."""

    relay: Output
    green: Output | None = None
    red: Output | None = None
    buzzer: Output | None = None

    def all(self) -> list[Output]:
        return [o for o in (self.relay, self.green, self.red, self.buzzer) if o is not None]

    def reset(self) -> None:
        """Every output to its resting state (daemon start and stop, ``gate relay reset``)."""
        for output in self.all():
            output.reset()
