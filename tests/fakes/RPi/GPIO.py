"""A fake RPi.GPIO with the real module's names, constants, call shapes and errors.

It follows RPi.GPIO 0.7 (``source/py_gpio.c``), which rpi-lgpio copies for the Pi 5:
numbering must be chosen before ``setup``; ``output`` needs an output channel and
``input`` a set-up one; ``add_event_detect`` needs an input, refuses a second detection
on the same channel and a ``bouncetime`` <= 0; callbacks run on a thread that is not the
caller's; ``cleanup(channel)`` returns that channel to an input, and ``cleanup()``
everything plus the numbering mode.

Test helpers, not in the real module, all start with ``fake_``:
``fake_reset()``, ``fake_history(pin)`` -> ``[(time.monotonic(), level), ...]``, each
change of the pin's level (set up, written, driven or pulled), ``fake_level(pin)``,
``fake_direction(pin)``, ``fake_drive(pin, level)`` to drive an input from outside
(fires edge callbacks, honouring the edge and the bounce time, before returning).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

VERSION = "0.7.1 (gatehouse test fake)"
RPI_INFO = {
    "P1_REVISION": 3,
    "REVISION": "c03114",
    "TYPE": "Pi 4 Model B",
    "MANUFACTURER": "Sony",
    "PROCESSOR": "BCM2711",
    "RAM": "4G",
}
RPI_REVISION = 3

HIGH, LOW = 1, 0
OUT, IN = 0, 1
HARD_PWM, SERIAL, I2C, SPI, UNKNOWN = 43, 40, 42, 41, -1
BOARD, BCM = 10, 11
PUD_OFF, PUD_DOWN, PUD_UP = 20, 21, 22
RISING, FALLING, BOTH = 31, 32, 33

_CHANNELS = range(54)  # BCM channels the SoC has

_lock = threading.RLock()
_mode: int | None = None
_warnings = True
_direction: dict[int, int] = {}
_pull: dict[int, int] = {}
_level: dict[int, int] = {}
_history: dict[int, list[tuple[float, int]]] = {}
_events: dict[int, dict] = {}


def fake_reset() -> None:
    """Forget every pin, the numbering mode and the history (between tests)."""
    global _mode, _warnings
    with _lock:
        _mode, _warnings = None, True
        _direction.clear()
        _pull.clear()
        _level.clear()
        _history.clear()
        _events.clear()


def fake_history(channel: int) -> list[tuple[float, int]]:
    with _lock:
        return list(_history.get(channel, ()))


def fake_level(channel: int) -> int | None:
    with _lock:
        return _level.get(channel)


def fake_direction(channel: int) -> int | None:
    """OUT, IN, or None when the channel is not set up (as after cleanup)."""
    with _lock:
        return _direction.get(channel)


def fake_pull(channel: int) -> int | None:
    with _lock:
        return _pull.get(channel)


def fake_edge_detection(channel: int) -> int | None:
    """The edge detected on ``channel``, or None."""
    with _lock:
        event = _events.get(channel)
        return None if event is None else event["edge"]


def fake_drive(channel: int, level: int, at: float | None = None) -> int:
    """Drive an input from outside (a beam breaking). Returns the callbacks fired."""
    with _lock:
        if _direction.get(channel) != IN:
            raise AssertionError(f"fake_drive: channel {channel} is not set up as an input")
        level = HIGH if level else LOW
        old = _level.get(channel)
        _set_level(channel, level)
        event = _events.get(channel)
        if event is None or old == level:
            return 0
        rising = level == HIGH
        if (event["edge"] == RISING and not rising) or (event["edge"] == FALLING and rising):
            return 0
        now = time.monotonic() if at is None else at
        bounce = event["bouncetime"]
        if (
            bounce is not None
            and event["last"] is not None
            and (now - event["last"]) * 1000 < bounce
        ):
            return 0
        event["last"] = now
        event["detected"] = True
        callbacks = list(event["callbacks"])
    # The real module calls back from its own poll thread, never the caller's.
    thread = threading.Thread(
        target=lambda: [cb(channel) for cb in callbacks], name=f"fake-gpio-event-{channel}"
    )
    thread.start()
    thread.join()
    return len(callbacks)


def _set_level(channel: int, level: int) -> None:
    history = _history.setdefault(channel, [])
    _level[channel] = level
    if not history or history[-1][1] != level:  # writing the level a pin has changes nothing
        history.append((time.monotonic(), level))


def _check_mode() -> None:
    if _mode is None:
        raise RuntimeError(
            "Please set pin numbering mode using GPIO.setmode(GPIO.BOARD) or GPIO.setmode(GPIO.BCM)"
        )


def _check_channel(channel: object) -> int:
    if not isinstance(channel, int) or channel not in _CHANNELS:
        raise ValueError("The channel sent is invalid on a Raspberry Pi")
    return channel


def _channels(channel: int | Iterable[int]) -> list[int]:
    if isinstance(channel, list | tuple):
        return [_check_channel(c) for c in channel]
    return [_check_channel(channel)]


def setwarnings(flag: bool) -> None:
    global _warnings
    _warnings = bool(flag)


def setmode(mode: int) -> None:
    global _mode
    with _lock:
        if mode not in (BOARD, BCM):
            raise ValueError("An invalid mode was passed to setmode()")
        if _mode is not None and _mode != mode:
            raise ValueError("A different mode has already been set!")
        _mode = mode


def getmode() -> int | None:
    return _mode


def setup(
    channel: int | Iterable[int], direction: int, pull_up_down: int = PUD_OFF, initial: int = -1
) -> None:
    with _lock:
        _check_mode()
        if direction not in (IN, OUT):
            raise ValueError("An invalid direction was passed to setup()")
        if direction == OUT and pull_up_down != PUD_OFF:
            raise ValueError("pull_up_down parameter is not valid for outputs")
        if direction == IN and initial != -1:
            raise ValueError("initial parameter is not valid for inputs")
        if pull_up_down not in (PUD_OFF, PUD_DOWN, PUD_UP):
            raise ValueError(
                "Invalid value for pull_up_down - should be either PUD_OFF, PUD_UP or PUD_DOWN"
            )
        for ch in _channels(channel):
            if ch in _events and direction == OUT:
                raise RuntimeError("Cannot set up an output while edge detection is active")
            _direction[ch] = direction
            _pull[ch] = pull_up_down
            if direction == OUT:
                _set_level(
                    ch, HIGH if initial == HIGH else LOW if initial == LOW else _level.get(ch, LOW)
                )
            else:
                _set_level(ch, HIGH if pull_up_down == PUD_UP else LOW)


def output(channel: int | Iterable[int], value: int | Iterable[int]) -> None:
    with _lock:
        _check_mode()
        chans = _channels(channel)
        values = list(value) if isinstance(value, list | tuple) else [value] * len(chans)
        if len(values) != len(chans):
            raise RuntimeError("Number of channels != number of values")
        for ch, v in zip(chans, values, strict=True):
            if _direction.get(ch) != OUT:
                raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
            _set_level(ch, HIGH if v else LOW)


def input(channel: int) -> int:  # shadows the builtin, as the real module does
    with _lock:
        _check_mode()
        ch = _check_channel(channel)
        if ch not in _direction:
            raise RuntimeError("You must setup() the GPIO channel first")
        return _level.get(ch, LOW)


def cleanup(channel: int | Iterable[int] | None = None) -> None:
    global _mode
    with _lock:
        chans = list(_direction) if channel is None else _channels(channel)
        for ch in chans:
            _events.pop(ch, None)
            if ch in _direction:
                del _direction[ch]
                _pull[ch] = PUD_OFF
                _set_level(ch, LOW)  # back to an input: the level is the board's business
        if channel is None:
            _mode = None


def add_event_detect(
    channel: int,
    edge: int,
    callback: Callable[[int], None] | None = None,
    bouncetime: int | None = None,
) -> None:
    with _lock:
        _check_mode()
        ch = _check_channel(channel)
        if _direction.get(ch) != IN:
            raise RuntimeError("You must setup() the GPIO channel as an input first")
        if edge not in (RISING, FALLING, BOTH):
            raise ValueError("The edge must be set to RISING, FALLING or BOTH")
        if bouncetime is not None and bouncetime <= 0:
            raise ValueError("Bouncetime must be greater than 0")
        if ch in _events:
            raise RuntimeError("Conflicting edge detection already enabled for this GPIO channel")
        _events[ch] = {
            "edge": edge,
            "bouncetime": bouncetime,
            "last": None,
            "detected": False,
            "callbacks": [callback] if callback else [],
        }


def add_event_callback(channel: int, callback: Callable[[int], None]) -> None:
    with _lock:
        ch = _check_channel(channel)
        if ch not in _events:
            raise RuntimeError(
                "Add event detection using add_event_detect first before adding a callback"
            )
        _events[ch]["callbacks"].append(callback)


def remove_event_detect(channel: int) -> None:
    with _lock:
        _events.pop(_check_channel(channel), None)


def event_detected(channel: int) -> bool:
    with _lock:
        event = _events.get(_check_channel(channel))
        if event is None or not event["detected"]:
            return False
        event["detected"] = False
        return True


def gpio_function(channel: int) -> int:
    with _lock:
        return _direction.get(_check_channel(channel), IN)
