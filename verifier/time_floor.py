"""The newest time a gate can prove, and whether its clock has fallen behind it.

A Raspberry Pi has no battery clock: it boots with the time it last saved
(fake-hwclock), which after a power cut is behind, and offline nothing corrects it. A
gate whose clock is an hour behind accepts codes made an hour ago: every screenshot of
the last hour. So the gate keeps a *floor*, the newest time it holds proof of, and does
not decide on a clock below it (the ``clock_behind`` refusal, docs/protocol.md
section 7).

A floor is the highest of its sources, each a :class:`TimeFloor` with the source named
for the person reading an alarm:

- ``block H``: the newest block's ``time``, signed by the ledger authority
  (:meth:`verifier.ledger_state.LedgerState.time_floor`);
- ``admission record N``: the newest of this gate's own admissions, taken as the lower
  of the gate's clock (``at``) and the wallet's (``step`` x 15): an admission is two
  independent clocks agreeing within the code window, so no single wrong clock (a gate
  that was hours ahead, then set right) can raise the floor
  (:meth:`verifier.record_log.RecordLog.time_floor`). Peer records (PROTOCOL.md section
  5) are to come in the same way, as one more source;
- ``… + N s running``: any of those carried forward by a clock that never goes back
  (:class:`RunningFloor`, the lane daemon's), so a clock that starts behind stays
  behind instead of "catching up" with a floor that stands still.

Nothing here reads the wall clock: ``now`` is always passed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from .token import STEP_SECONDS

#: How far below its floor a gate's clock may be and still decide: two code steps, the
#: hub's ``max_clock_skew`` default. Block times are the hub's clock, and a gate within
#: 30 s of the hub is healthy by that alarm's own rule; a tighter bound here would stop
#: lanes on the jitter between two healthy clocks. A clock 30 s behind lets a code live
#: 30 s longer at most, and only while it is that far behind.
CLOCK_TOLERANCE_S: Final = 2 * STEP_SECONDS

OK: Final = "ok"
BEHIND: Final = "behind"


@dataclass(frozen=True, slots=True)
class TimeFloor:
    """A time this gate holds proof of: Unix seconds (None: no proof of any time yet),
    and where the proof comes from, in words (``block 812``)."""

    at: int | None
    source: str


#: Nothing proves any time yet: an empty ledger and no admissions.
NO_FLOOR: Final = TimeFloor(None, "nothing yet")


def highest(*floors: TimeFloor | None) -> TimeFloor:
    """The highest of ``floors`` (None and unproven ones are skipped); the first wins a tie."""
    best = NO_FLOOR
    for floor in floors:
        if floor is not None and floor.at is not None and (best.at is None or floor.at > best.at):
            best = floor
    return best


def is_behind(now: int, floor: int | None, tolerance: int = CLOCK_TOLERANCE_S) -> bool:
    """Whether a clock reading ``now`` is more than ``tolerance`` seconds below ``floor``.
    At the floor, or up to ``tolerance`` below it, the clock is fine."""
    return floor is not None and now < floor - tolerance


def utc(unix: int | None) -> str:
    """``2026-09-21 14:26:50 UTC``, or ``?``."""
    if unix is None:
        return "?"
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True, slots=True)
class ClockState:
    """A clock reading against a floor: ``state`` is ``ok`` or ``behind``."""

    now: int
    floor: TimeFloor
    tolerance: int = CLOCK_TOLERANCE_S

    @property
    def behind(self) -> bool:
        return is_behind(self.now, self.floor.at, self.tolerance)

    @property
    def state(self) -> str:
        return BEHIND if self.behind else OK

    @property
    def behind_s(self) -> int:
        """Seconds the clock reads below the floor (0 at or above it)."""
        return 0 if self.floor.at is None else max(0, self.floor.at - self.now)

    def words(self) -> str:
        """One sentence for a technician: what the clock says against what is proven."""
        if self.floor.at is None:
            return f"the clock reads {utc(self.now)}; nothing proves a time yet"
        if not self.behind:
            margin = (
                f", {self.behind_s} s below it (within the {self.tolerance} s allowed)"
                if self.behind_s
                else ""
            )
            return (
                f"the clock reads {utc(self.now)}; the newest time this gate can prove is "
                f"{utc(self.floor.at)} ({self.floor.source}){margin}"
            )
        return (
            f"the clock reads {utc(self.now)}, {self.behind_s} s behind the newest time this "
            f"gate can prove ({utc(self.floor.at)}, {self.floor.source}); every ticket is "
            "refused as clock_behind until the clock is set right (timedatectl: NTP, or set "
            "the time by hand)"
        )


def clock_state(now: int, floor: TimeFloor, tolerance: int = CLOCK_TOLERANCE_S) -> ClockState:
    """Whether a clock reading ``now`` may be decided on, given ``floor``."""
    return ClockState(int(now), floor, tolerance)


def boot_clock() -> float:
    """Seconds since boot, suspend included (``CLOCK_BOOTTIME``; Linux), else the
    monotonic clock. Neither is ever set, by NTP or by hand."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is None:  # pragma: no cover - not Linux
        return time.monotonic()
    return time.clock_gettime(boottime)


class RunningFloor:
    """A proven time carried forward by a clock that never goes back.

    :meth:`witness` anchors it on a floor (a block, an admission); from then on it
    reads that floor plus the seconds ``clock`` has counted since. Proof of a time T at
    the moment the anchor was taken means the time now is at least T plus the seconds
    since, whatever the wall clock says. A newer proof re-anchors it; an older one
    changes nothing. One process's, for as long as it runs (the lane daemon's).
    """

    def __init__(self, clock: Callable[[], float] = boot_clock) -> None:
        self.clock = clock
        self._anchor: tuple[int, float, str] | None = None

    def witness(self, floor: TimeFloor) -> None:
        """Take ``floor`` as proof at this moment, if it is newer than what is held."""
        if floor.at is None:
            return
        current = self.current()
        if current.at is None or floor.at > current.at:
            self._anchor = (floor.at, self.clock(), floor.source)

    def current(self) -> TimeFloor:
        if self._anchor is None:
            return NO_FLOOR
        at, mark, source = self._anchor
        elapsed = max(0, int(self.clock() - mark))
        if not elapsed:
            return TimeFloor(at, source)
        return TimeFloor(at + elapsed, f"{source} + {elapsed} s running")


__all__ = [
    "BEHIND",
    "CLOCK_TOLERANCE_S",
    "NO_FLOOR",
    "OK",
    "ClockState",
    "RunningFloor",
    "TimeFloor",
    "boot_clock",
    "clock_state",
    "highest",
    "is_behind",
    "utc",
]
