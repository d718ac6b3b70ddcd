"""Enrolment tried as an attacker would, on a real hub on loopback over real HTTP: a
refused enrolment spends no code, and guessing codes is throttled per address."""

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


class Clock:
    """The hub's clock, moved by the test: no sleeping through a throttle window."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_guessing_codes_is_throttled_per_address(
    tmp_path: Path, start_hub: Callable[..., RunningHub]
) -> None:
    """Ten refused attempts a minute from one address (the default); the eleventh gets
    429 with Retry-After, without being tried, even with a good code. Tokens come back
    at ten a minute, and a successful enrolment does not count."""
    hub_dir = tmp_path / "hub"
    seed_hub(hub_dir)
    clock = Clock(NOW)
    hub = start_hub(hub_dir, clock=clock, heartbeat=0)
    client = httpx.Client(base_url=hub.url, timeout=10)
    key = Signer(bytes([1]) * 32).public_key

    def attempt(code: str, device: str = "north-1") -> httpx.Response:
        return client.post("/v1/enrol", json=enrolment(code, device, key))

    good = enrol_code(hub_dir, NOW)
    assert attempt(good).status_code == 200  # a success is given back: 10 left
    for i in range(10):
        guessed = attempt(f"GUESS{i:07d}")
        assert guessed.status_code == 403, (i, guessed.text)
    throttled = attempt(enrol_code(hub_dir, NOW), "south-2")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "6"  # one attempt back every 60/10 s
    assert "try again in 6 s" in throttled.json()["error"]
    assert devices(hub_dir) == {"north-1": key.hex()}  # not tried

    clock.now += 5
    assert attempt("GUESS-AGAIN").status_code == 429
    assert attempt("GUESS-AGAIN").headers["Retry-After"] == "1"
    clock.now += 1
    assert attempt("GUESS-AGAIN").status_code == 403  # one token back, spent on a guess
    assert attempt("GUESS-AGAIN").status_code == 429

    clock.now += 60  # a whole window: ten attempts again, a good code among them
    code = enrol_code(hub_dir, int(clock.now))
    assert attempt(code, "south-2").status_code == 200
    assert [attempt(f"MORE{i}").status_code for i in range(11)] == [403] * 10 + [429]


def test_the_throttle_is_per_address_and_configurable(
    tmp_path: Path, start_hub: Callable[..., RunningHub]
) -> None:
    """Another client address has its own bucket (the hub behind a proxy sees the
    address the proxy forwards from loopback: uvicorn's X-Forwarded-For handling)."""
    hub_dir = tmp_path / "hub"
    seed_hub(hub_dir)
    clock = Clock(NOW)
    hub = start_hub(hub_dir, clock=clock, heartbeat=0, enrol_attempts=2, enrol_window=10)
    client = httpx.Client(base_url=hub.url, timeout=10)
    key = Signer(bytes([1]) * 32).public_key.hex()

    def attempt(address: str) -> httpx.Response:
        return client.post(
            "/v1/enrol",
            json={"code": "NOPE", "device": "north-1", "public_key": key},
            headers={"X-Forwarded-For": address},
        )

    assert [attempt("192.0.2.1").status_code for _ in range(3)] == [403, 403, 429]
    assert attempt("192.0.2.1").headers["Retry-After"] == "5"
    assert attempt("192.0.2.2").status_code == 403  # its own bucket
    # An IPv6 client is counted by its /64: a machine holds the whole of one.
    assert [attempt(f"2001:db8::{n}").status_code for n in range(1, 4)] == [403, 403, 429]
    assert attempt("2001:db8:0:1::1").status_code == 403
