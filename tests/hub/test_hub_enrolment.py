"""Enrolment tried as an attacker would, on a real hub on loopback over real HTTP: a
refused enrolment spends no code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from hub import Hub
from verifier import Signer

from ..hubkit import RunningHub, enrol_code, seed_hub
from ..ledgerkit import NOW


def enrolment(code: str, device: str, key: bytes) -> dict[str, str]:
    return {"code": code, "device": device, "public_key": key.hex()}


def devices(hub_dir: Path) -> dict[str, str]:
    held = Hub(hub_dir)
    try:
        return dict(held.db.execute("SELECT device, public_key FROM devices"))
    finally:
        held.close()


def test_a_refused_enrolment_leaves_the_code_usable(
    tmp_path: Path, start_hub: Callable[..., RunningHub]
) -> None:
    """A known device id with another key is refused (409), in the same transaction that
    would have spent the code: the code then enrols another device."""
    hub_dir = tmp_path / "hub"
    seed_hub(hub_dir)
    hub = start_hub(hub_dir, clock=lambda: NOW, heartbeat=0)
    client = httpx.Client(base_url=hub.url, timeout=10)
    north, impostor, south = (Signer(bytes([n]) * 32).public_key for n in (1, 2, 3))
    first = client.post("/v1/enrol", json=enrolment(enrol_code(hub_dir, NOW), "north-1", north))
    assert first.status_code == 200

    code = enrol_code(hub_dir, NOW)
    taken = client.post("/v1/enrol", json=enrolment(code, "north-1", impostor))
    assert taken.status_code == 409 and "another key" in taken.json()["error"]
    assert devices(hub_dir) == {"north-1": north.hex()}

    second = client.post("/v1/enrol", json=enrolment(code, "south-2", south))
    assert second.status_code == 200, second.text
    assert devices(hub_dir) == {"north-1": north.hex(), "south-2": south.hex()}
    spent = client.post("/v1/enrol", json=enrolment(code, "east-3", impostor))
    assert spent.status_code == 403 and "already used (by device south-2" in spent.json()["error"]
