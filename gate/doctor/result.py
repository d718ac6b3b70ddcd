"""What a check finds: a status, one line of what it saw, and the technician's next step."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import GateConfig


class Status(StrEnum):
    """``OK`` nothing to do; ``WARN`` works, but look; ``FAIL`` broken or about to break;
    ``SKIP`` not checked, because something it needs failed first (named in the finding)."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report: ``check`` (its name), ``status``, ``detail`` (what was
    found) and ``fix`` (what to do; ``None`` when nothing is to be done)."""

    check: str
    status: Status
    detail: str
    fix: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
        }


def ok(check: str, detail: str) -> Finding:
    return Finding(check, Status.OK, detail)


def warn(check: str, detail: str, fix: str) -> Finding:
    return Finding(check, Status.WARN, detail, fix)


def fail(check: str, detail: str, fix: str) -> Finding:
    return Finding(check, Status.FAIL, detail, fix)


def skip(check: str, detail: str) -> Finding:
    return Finding(check, Status.SKIP, detail)


def exit_code(findings: list[Finding]) -> int:
    """0 when every check is OK (or skipped), 1 when any warns, 2 when any fails."""
    statuses = {f.status for f in findings}
    return 2 if Status.FAIL in statuses else 1 if Status.WARN in statuses else 0


@dataclass(frozen=True, slots=True)
class Options:
    """How ``gate doctor`` was asked to run.

    ``boot_config``: the Pi's config.txt (None: ``/boot/firmware/config.txt`` or
    ``/boot/config.txt``); ``timeout``: seconds for each hub request and for the lane
    daemon's answer; ``camera_seconds``: how long the frame rate is measured;
    ``say``: live notes while checks run (``--pulse``: watch the relay now), to stderr.
    """

    pulse: bool = False
    boot_config: Path | None = None
    timeout: float = 5.0
    camera_seconds: float = 2.0
    clock: Callable[[], float] = time.time
    say: Callable[[str], None] = field(default=lambda text: None)


@dataclass
class Context:
    """What the checks share: the configuration, the options, and what earlier checks
    learnt (the hub's answer for the clock check, the lane daemon's status, whether the
    databases could be read)."""

    cfg: GateConfig
    options: Options
    databases_ok: bool = False
    hub_time: tuple[float, float] | None = None  # (hub's server_time, our time then)
    hub_error: str | None = None
    daemon: dict[str, Any] | None = None  # the running lane daemon's status object
    daemon_note: str | None = None  # why its status could not be had, when it runs
