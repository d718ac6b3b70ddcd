"""A steward's command that fails is that command's refusal, never the lane's end."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from errors import DeviceUnavailable
from gate.control_commands import LaneControl
from gate.control_server import Request


class Answers:
    """Stands in for the server: records the replies the lane's thread gives."""

    def __init__(self) -> None:
        self.replies: list[tuple[str | None, str | None]] = []

    def answer(self, request: Request, result: Any = None, *, code=None, error=None) -> None:
        self.replies.append((code, error))


@pytest.mark.parametrize(
    "fault",
    [sqlite3.OperationalError("database is locked"), DeviceUnavailable("sim:relay: gone")],
)
def test_a_failing_command_is_refused_and_the_lane_goes_on(fault: Exception) -> None:
    server = Answers()
    control = LaneControl(None, server, None, device="north-1", decoder=None)  # type: ignore[arg-type]

    def boom(request: Request) -> dict[str, Any]:
        raise fault

    control._commands["lookup"] = boom
    control.run(Request(None, 7, "lookup", {"query": "x"}))  # type: ignore[arg-type]
    assert server.replies == [("refused", f"lookup failed: {fault}")]
