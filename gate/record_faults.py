"""When the state directory cannot take a record: the lane refuses, says so once, and
recovers by itself.

An admission is durable before the turnstile moves; a record that cannot be written
(the card full, or failing and remounted read-only) is therefore an admission that must
not happen. The lane keeps running, refuses every scan with ``cannot_record`` (red lamp,
nothing opens), raises one alarm naming the state directory and what to do, and tries
again with the next scan: the first record that commits clears the alarm. SQLite rolls
a failed transaction back whole, so nothing is half-written and the chain continues
from the last committed record.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The card is full: decisions cannot be recorded until space is freed.
DISK_FULL = "disk_full"
#: The state directory refuses writes: a read-only remount (a failing card), an I/O error.
STATE_UNWRITABLE = "state_unwritable"
#: The alarms the lane itself raises and clears (the sync child's are its own).
LANE_ALARMS = (DISK_FULL, STATE_UNWRITABLE)

_SQLITE_FULL = 13


def classify(exc: BaseException) -> str:
    """Which alarm a failed write is: a full disk, or a state directory that will not
    take writes (read-only, I/O errors, files that vanished)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code == _SQLITE_FULL or getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return DISK_FULL
    if isinstance(exc, sqlite3.Error) and "full" in str(exc).lower():
        return DISK_FULL
    return STATE_UNWRITABLE


def advice(alarm: str, state_dir: Path, exc: BaseException) -> str:
    if alarm == DISK_FULL:
        return (
            f"{state_dir}: no space left to record decisions ({exc}); nobody is let in by "
            "code until space is freed: free space on the card (gate doctor shows the "
            "disk), the lane recovers by itself"
        )
    return (
        f"{state_dir}: decisions cannot be written ({exc}); the card may be failing or "
        "remounted read-only: let people through by hand and replace the unit "
        "(docs/technicians.md, replacing a unit)"
    )


class RecordFaults:
    """The lane's record-write alarm: raised on the first failure, cleared by the first
    success, each said once in the journal."""

    def __init__(
        self,
        state_dir: Path,
        emit: Callable[[dict[str, Any]], None],
    ) -> None:
        self.state_dir = state_dir
        self.emit = emit
        self.current: str | None = None

    def failed(self, exc: BaseException, now: int) -> str:
        alarm = classify(exc)
        if alarm != self.current:
            if self.current is not None:
                self.emit({"event": "alarm_cleared", "time": now, "alarm": self.current})
            self.current = alarm
            self.emit(
                {
                    "event": "alarm",
                    "time": now,
                    "alarm": alarm,
                    "detail": advice(alarm, self.state_dir, exc),
                }
            )
        return alarm

    def recovered(self, now: int) -> None:
        if self.current is not None:
            self.emit({"event": "alarm_cleared", "time": now, "alarm": self.current})
            self.current = None


__all__ = ["DISK_FULL", "LANE_ALARMS", "STATE_UNWRITABLE", "RecordFaults", "classify"]
