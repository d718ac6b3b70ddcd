"""A real hub for tests: served on loopback in a thread, seeded, read back; and the
real ``gate`` command pointed at it. Shared by the hub's own tests (tests/hub) and the
gate-client and end-to-end ones (tests/sync)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from hub import Authority, Hub
from hub.api import create_app
from hub.served import free_port
from sync.request_auth import sign_request
from verifier import Signer

from .ledgerkit import NOW, issue, show, write_config

ROOT = Path(__file__).resolve().parent.parent


class RunningHub:
    def __init__(
        self,
        hub_dir: Path,
        clock: Callable[[], float],
        heartbeat: float,
        options: dict[str, Any] | None = None,
        port: int | None = None,
    ) -> None:
        self.hub_dir = hub_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(hub_dir, heartbeat=heartbeat, clock=clock, **(options or {})),
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "the hub did not start"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def seed_hub(hub_dir: Path, now: int = NOW) -> bytes:
    """A show and a few tickets around ``now``, signed by the hub's authority; its public
    key. A hub served on the real clock signs its heartbeat blocks at the real time, and
    a gate does not decide on a clock behind the newest block it holds (clock_behind):
    a test that admits after such a sync seeds and decides at the real time."""
    live = {"valid_from": now - 3600, "until": now + 7200}
    hub_dir.mkdir(exist_ok=True)
    with Authority(hub_dir) as authority:
        authority.append([show(starts=now, ends=now + 7200)], now - 600)
        authority.append(
            [issue("solo", **live), issue("late", **live), issue("pair", entries=2, **live)],
            now - 500,
        )
        return authority.public_key


def enrol_code(hub_dir: Path, at: int | None = None) -> str:
    """A one-time code, as the operator makes it (`gate hub enrol-code`)."""
    operator = Hub(hub_dir)
    try:
        return operator.enrol_code(int(time.time()) if at is None else at)
    finally:
        operator.close()


def operator_token(hub_dir: Path) -> str:
    """A new operator token, as `gate hub operator-token` makes it."""
    operator = Hub(hub_dir)
    try:
        return operator.new_operator_token(int(time.time()))
    finally:
        operator.close()


def signed_get(
    client: httpx.Client,
    signer: Signer,
    device: str,
    path: str,
    at: int,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """GET ``path`` (its query included) signed by ``device`` at ``at``, as a gate reads."""
    signed = sign_request(signer, device, "GET", path, at, b"")
    return client.get(path, headers={**signed, **(headers or {})})


def held_rows(hub_dir: Path, device: str) -> list[str]:
    """The records the hub holds for ``device``, in seq order, as stored."""
    held = Hub(hub_dir)
    try:
        return [
            r[0]
            for r in held.db.execute(
                "SELECT body FROM records WHERE device = ? ORDER BY seq", (device,)
            )
        ]
    finally:
        held.close()


def redeems(hub_dir: Path) -> list[tuple[str, int]]:
    """(device, seq) of every redeem event the hub has published, in ledger order."""
    held = Hub(hub_dir)
    try:
        blocks = [
            json.loads(r[0]) for r in held.db.execute("SELECT body FROM blocks ORDER BY height")
        ]
    finally:
        held.close()
    return [(e["device"], e["seq"]) for b in blocks for e in b["events"] if e["op"] == "redeem"]


def admitted(lines: list[str]) -> list[tuple[str, int]]:
    records = [json.loads(line) for line in lines]
    return [
        (r["device"], r["seq"])
        for r in records
        if r["result"] == "admitted" and r["ticket"] is not None
    ]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def make_gate(tmp_path: Path, name: str, key: bytes, url: str) -> Path:
    state = tmp_path / name
    state.mkdir(mode=0o700)
    return write_config(
        tmp_path / f"{name}.toml",
        ledger_key=key,
        state_dir=state,
        device=name,
        extra=f'[hub]\nurl = "{url}"\n',
    )


@pytest.fixture
def start_hub() -> Iterator[Callable[..., RunningHub]]:
    running: list[RunningHub] = []

    def start(
        hub_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
        heartbeat: float = 0.3,
        port: int | None = None,
        **options: Any,
    ) -> RunningHub:
        """The hub app on loopback (on ``port``: a hub restarted where its gates look);
        ``options`` go to ``create_app`` (the throttle)."""
        hub = RunningHub(hub_dir, clock, heartbeat, options, port)
        running.append(hub)
        return hub

    yield start
    for hub in running:
        hub.stop()
