"""The lane's clock against the newest time the gate can prove: the ``clock_behind`` alarm.

The decision refuses a clock below the time floor on its own (``clock_behind``,
:mod:`verifier.time_floor`); this is what makes it seen before the first person is
turned away, and what keeps the floor moving while the daemon runs. Between items the
lane asks :meth:`ClockWatch.poll`, which once a second reads the state's floor (the
newest block, the newest admission), carries it forward on the boot clock
(:class:`~verifier.time_floor.RunningFloor`), and compares the wall clock with it. On
the way down it writes one ``alarm`` line to the journal, with the wall clock, the
floor, what proves it and what to do; on the way back up one ``alarm_cleared`` line.
There is nothing to reset: setting the clock right clears it.

The running floor is why a clock that boots an hour behind does not "catch up": the
floor it is measured against moves on with the boot clock, so it stays an hour behind
until someone or NTP sets it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from verifier import Checkpoint
from verifier.time_floor import (
    NO_FLOOR,
    ClockState,
    RunningFloor,
    TimeFloor,
    clock_state,
    highest,
)

from .lane_health import CLOCK_BEHIND_ALARM

#: How often the lane compares its clock with the floor between items.
CHECK_EVERY_S = 1.0


class ClockWatch:
    """One lane's clock check, its running floor, and its alarm."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        *,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
        boot_clock: Callable[[], float],
        emit: Callable[[dict[str, Any]], None],
        every_s: float = CHECK_EVERY_S,
    ) -> None:
        self.checkpoint = checkpoint
        self.clock = clock
        self.monotonic = monotonic
        self.emit = emit
        self.every_s = every_s
        self.running = RunningFloor(boot_clock)
        #: The last comparison (None before the first).
        self.state: ClockState | None = None
        self.raised = False
        self._next = monotonic()

    def floor(self) -> TimeFloor:
        """The running floor, which the lane hands to every decision besides the state's."""
        return self.running.current()

    def poll(self) -> ClockState | None:
        """:meth:`check`, at most once every ``every_s``; None when it is not yet time."""
        if self.monotonic() < self._next:
            return None
        return self.check()

    def check(self) -> ClockState:
        """Compare the wall clock with the floor now; raise or clear the alarm."""
        self._next = self.monotonic() + self.every_s
        try:
            stored = self.checkpoint.time_floor()
        except (sqlite3.Error, OSError):
            # A card that fails reads as well as writes: the lane says so itself
            # (record_faults); the clock is judged on the running floor meanwhile.
            stored = NO_FLOOR
        self.running.witness(stored)
        floor = highest(stored, self.running.current())
        state = clock_state(int(self.clock()), floor, self.checkpoint.policy.clock_tolerance)
        self.state = state
        if state.behind and not self.raised:
            self.raised = True
            self.emit({"event": "alarm", **_facts(state), "detail": state.words()})
        elif not state.behind and self.raised:
            self.raised = False
            self.emit({"event": "alarm_cleared", **_facts(state)})
        return state

    def health(self) -> dict[str, Any]:
        """The status object's ``clock_behind`` (seconds below the floor while the lane
        refuses on it, 0 when not, None before the first check) and ``time_floor``."""
        state = self.state
        if state is None:
            return {"clock_behind": None, "time_floor": None}
        return {
            "clock_behind": state.behind_s if state.behind else 0,
            "time_floor": state.floor.at,
        }


def _facts(state: ClockState) -> dict[str, Any]:
    return {
        "time": state.now,
        "alarm": CLOCK_BEHIND_ALARM,
        "clock": state.now,
        "floor": state.floor.at,
        "floor_source": state.floor.source,
        "behind_s": state.behind_s,
    }


__all__ = ["CHECK_EVERY_S", "ClockWatch"]
