"""A real hub on loopback for the sync tests (uvicorn in a thread, real sockets)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn

from sync import Authority
from sync.hub import Hub
from sync.hub_api import create_app

from ..ledgerkit import NOW, issue, show


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningHub:
    def __init__(self, hub_dir: Path, clock: Callable[[], float], heartbeat: float) -> None:
        self.hub_dir = hub_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(
            create_app(hub_dir, heartbeat=heartbeat, clock=clock), host="127.0.0.1",
            port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "the hub did not start"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def seed_hub(hub_dir: Path) -> bytes:
    """A show and a few tickets, signed by the hub's authority; its public key."""
    hub_dir.mkdir(exist_ok=True)
    with Authority(hub_dir) as authority:
        authority.append([show()], NOW - 600)
        authority.append([issue("solo"), issue("late"), issue("pair", entries=2)], NOW - 500)
        return authority.public_key


def held_rows(hub_dir: Path, device: str) -> list[str]:
    """The records the hub holds for ``device``, in seq order, as stored."""
    held = Hub(hub_dir)
    try:
        return [r[0] for r in held.db.execute(
            "SELECT body FROM records WHERE device = ? ORDER BY seq", (device,))]
    finally:
        held.close()


@pytest.fixture
def start_hub() -> Iterator[Callable[..., RunningHub]]:
    running: list[RunningHub] = []

    def start(hub_dir: Path, *, clock: Callable[[], float] = time.time,
              heartbeat: float = 0.3) -> RunningHub:
        hub = RunningHub(hub_dir, clock, heartbeat)
        running.append(hub)
        return hub

    yield start
    for hub in running:
        hub.stop()
