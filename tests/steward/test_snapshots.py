"""Snapshots of the console's screens at 80x24 and 120x40 (pytest-textual-snapshot).

The clock is fixed (every scene is at the fake daemon's ``NOW`` in UTC) and the cursor
does not blink, so a screen renders the same on every run. After a deliberate change to
the look: ``pytest tests/steward/test_snapshots.py --snapshot-update``, look at the new
SVGs, then ``python -m tests.steward.export_screens`` to refresh the copies that
docs/stewards.md shows (a test below fails while they differ).
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_app, until
from .fake_daemon import NOW, FakeDaemon, decision

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "test_snapshots"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "steward-screens"
#: docs/steward-screens/NAME.svg <- the snapshot it copies.
DOC_COPIES = {
    "lane-80x24": "test_lane_screen[80x24]",
    "lane-120x40": "test_lane_screen[120x40]",
    "disconnected-80x24": "test_disconnected[80x24]",
    "open-once-80x24": "test_open_once_dialog[80x24]",
    "lookup-80x24": "test_lookup_screen[80x24]",
}


def _app(path: Path) -> Any:
    """The console on ``path``, naming the real default path on screen: the temporary
    one differs on every run."""
    return make_app(path, socket_path="/run/gatehouse/control.sock")


def _a_busy_lane(daemon: FakeDaemon) -> None:
    """Five decisions, the last a refused screenshot; one alarm standing."""
    for n, reason in enumerate(["ok", "already_used", "ok", "replayed", "ok"]):
        daemon.push(decision(reason, at=NOW - 20 * (6 - n)))
    daemon.push(decision("expired_code", at=NOW))


def _live(daemon: FakeDaemon | None, then: Callable[[Any], Awaitable[None]] | None = None):
    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await until(pilot, lambda: app.device is not None and app.status is not None)
        if daemon is not None:
            _a_busy_lane(daemon)
            await until(pilot, lambda: len(app.decisions) == 6)
        if then is not None:
            await then(pilot)
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_lane_screen(snap_compare, daemon: FakeDaemon, size: str) -> None:
    daemon.status["alarms"] = [{"alarm": "ledger_stale", "detail": "no block for 180 s"}]
    daemon.status["alarms"][0]["since"] = NOW - 180
    app = _app(Path(daemon.path))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_live(daemon))


@pytest.mark.parametrize("size", SIZES)
def test_disconnected(snap_compare, socket_path: Path, size: str) -> None:
    app = _app(socket_path)

    async def run_before(pilot: Any) -> None:
        await until(pilot, lambda: pilot.app.tried)
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_open_once_dialog(snap_compare, daemon: FakeDaemon, size: str) -> None:
    async def dialog(pilot: Any) -> None:
        await pilot.press("o", *"wheelchair gate", "enter")

    app = _app(Path(daemon.path))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_live(daemon, dialog))


@pytest.mark.parametrize("size", SIZES)
def test_mode_dialog(snap_compare, daemon: FakeDaemon, size: str) -> None:
    async def dialog(pilot: Any) -> None:
        await pilot.press("c")

    app = _app(Path(daemon.path))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_live(daemon, dialog))


@pytest.mark.parametrize("size", SIZES)
def test_lookup_screen(snap_compare, daemon: FakeDaemon, size: str) -> None:
    async def lookup(pilot: Any) -> None:
        await pilot.press("l", *"GA", "enter")
        await until(pilot, lambda: getattr(pilot.app.screen, "found", None) is not None)

    app = _app(Path(daemon.path))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_live(None, lookup))


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, daemon: FakeDaemon, size: str) -> None:
    async def help_screen(pilot: Any) -> None:
        await pilot.press("question_mark")

    app = _app(Path(daemon.path))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_live(None, help_screen))


def test_the_docs_show_the_current_screens() -> None:
    for name, snapshot in DOC_COPIES.items():
        shown = (DOCS / f"{name}.svg").read_text(encoding="utf-8")
        assert shown == (SNAPSHOTS / f"{snapshot}.svg").read_text(encoding="utf-8"), (
            f"docs/steward-screens/{name}.svg is older than its snapshot: "
            "python -m tests.steward.export_screens"
        )


def export() -> None:
    """Copy the snapshots docs/stewards.md shows into docs/steward-screens/."""
    DOCS.mkdir(exist_ok=True)
    for name, snapshot in DOC_COPIES.items():
        shutil.copyfile(SNAPSHOTS / f"{snapshot}.svg", DOCS / f"{name}.svg")
