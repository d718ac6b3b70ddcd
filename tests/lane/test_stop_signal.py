"""A second SIGTERM while the first one's handler is setting the stop event must not hang
the daemon (a Python handler can be interrupted by the next signal, and Event.set holds
a lock that is not reentrant)."""

from __future__ import annotations

import signal

from gate.stop_signal import Stop


def test_a_signal_inside_the_handler_does_not_set_the_event_again() -> None:
    stop = Stop()
    real_set = stop.event.set
    calls: list[str] = []

    def set_interrupted() -> None:  # the second SIGTERM lands inside Event.set
        calls.append("set")
        stop(signal.SIGTERM, None)
        real_set()

    stop.event.set = set_interrupted  # type: ignore[method-assign]
    stop(signal.SIGINT, None)
    assert calls == ["set"] and stop.event.is_set()
    assert stop.signal == "SIGTERM"
    stop(signal.SIGTERM, None)  # and any later one only notes its name
    assert calls == ["set"]
