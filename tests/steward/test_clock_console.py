"""The console when the lane's clock is behind the newest time it can prove: the health
bar says how far, the alarm says what to do, a refusal says to send people elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.steward import view

from .conftest import make_app, screen_text, until
from .fake_daemon import NOW, FakeDaemon, decision

pytestmark = pytest.mark.anyio

DETAIL = "the clock reads 2026-09-21 13:13:20 UTC, 3600 s behind …"


async def test_clock_behind_in_the_health_bar_alarms_and_banner(daemon: FakeDaemon) -> None:
    app = make_app(Path(daemon.path))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.device is not None and app.status is not None)
        await pilot.pause()
        assert "clock -0.4 s" in screen_text(app)

        daemon.status["alarms"] = [{"alarm": "clock_behind", "detail": DETAIL, "since": NOW}]
        health = dict(daemon.status["health"], clock_behind=3600, time_floor=NOW + 3600)
        daemon.push({"type": "alarm", "alarm": "clock_behind", "detail": DETAIL, "time": NOW})
        daemon.push_status(health=health)
        daemon.push(decision("clock_behind"))
        await until(pilot, lambda: (app.status.get("health") or {}).get("clock_behind") == 3600)
        await until(pilot, lambda: bool(app.decisions))
        await pilot.pause()
        text = screen_text(app)
        assert "clock 60 min behind ⚠" in text
        assert "REFUSED — this gate's clock is wrong: another lane, and call a technician" in text
        shown = str(app.screen.query_one("#alarms").content)
        assert "⚠ clock_behind since 14:13:20: the clock reads" in shown
        assert "clears by itself when the clock is right" in shown
        assert "Call: A technician, now: the gate's clock must be set" in shown

        daemon.status["alarms"] = []
        daemon.push({"type": "alarm_cleared", "alarm": "clock_behind", "time": NOW})
        daemon.push_status(health=dict(health, clock_behind=0))
        await until(pilot, lambda: not app.status.get("alarms"))
        await until(pilot, lambda: app.status["health"]["clock_behind"] == 0)
        await pilot.pause()
        assert not app.screen.query_one("#alarms").display
        assert "clock -0.4 s" in screen_text(app)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (45, "45 s"),
        (119, "119 s"),
        (600, "10 min"),
        (3600, "60 min"),
        (7200, "2 h"),
        (86400 * 3, "3 d"),
    ],
)
def test_how_far_behind_reads_at_a_glance(seconds: int, shown: str) -> None:
    assert view.duration(seconds) == shown
    status = {"health": {"clock_offset": 0.2, "clock_behind": seconds}}
    assert ("clock", f"{shown} behind", False) in view.health_lines(status)


def test_a_daemon_that_sends_no_clock_behind_shows_the_offset() -> None:
    assert ("clock", "0.2 s", True) in view.health_lines({"health": {"clock_offset": 0.2}})
    assert ("clock", "0.2 s", True) in view.health_lines(
        {"health": {"clock_offset": 0.2, "clock_behind": 0}}
    )
    assert view.duration(None) == "?"
