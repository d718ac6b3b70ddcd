"""Fixtures for the console's tests: a fake daemon on a short socket path, an app on it."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("textual")

from gate.control_client import ControlClient
from gate.steward.app import StewardApp

from .fake_daemon import NOW, FakeDaemon


@pytest.fixture
def anyio_backend() -> str:
    """The Pilot tests run on asyncio (anyio's pytest plugin runs ``async def`` tests)."""
    return "asyncio"


@pytest.fixture
def socket_path() -> Iterator[Path]:
    """A Unix socket path short enough for sun_path (pytest's tmp_path can be too long)."""
    with tempfile.TemporaryDirectory(prefix="gh-steward-") as d:
        yield Path(d) / "control.sock"


@pytest.fixture
def daemon(socket_path: Path) -> Iterator[FakeDaemon]:
    with FakeDaemon(socket_path) as fake:
        yield fake


def make_app(path: Path, **kw: Any) -> StewardApp:
    """The console on ``path``, with a fixed clock, UTC, no blinking, quick retries."""
    options: dict[str, Any] = {
        "socket_path": str(path),
        "steward": "Alice",
        "clock": lambda: float(NOW),
        "tz": UTC,
        "blink": False,
        "retry": 0.1,
        "silence": 3.0,
    }
    options.update(kw)
    return StewardApp(lambda: ControlClient(path, timeout=2.0), **options)


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until ``condition`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("the console did not get there in time")
        await pilot.pause(0.02)


def screen_text(app: StewardApp) -> str:
    """What the terminal shows now, as plain text (the SVG screenshot, without styles)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()
