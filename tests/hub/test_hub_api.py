"""The hub's HTTP API on a real server on loopback: enrolment, signed record uploads that
cannot be replayed or forged, blocks (gzip), conflicts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from hub import Authority
from hub.api import create_app
from hub.served import free_port
from sync.request_auth import sign_request
from verifier import Checkpoint, Policy, Signer
from verifier.blocks import read_blocks

from ..hubkit import enrol_code as hubkit_enrol_code
from ..hubkit import operator_token, signed_get
from ..ledgerkit import NOW, code, issue, show

POLICY = Policy(events=frozenset({"show"}))


@pytest.fixture
def hub_url(tmp_path: Path) -> Iterator[str]:
    hub_dir = tmp_path / "hub"
    hub_dir.mkdir()
    with Authority(hub_dir) as authority:  # the issuer's side: a show and two tickets
        authority.append([show()], NOW - 600)
        authority.append([issue("solo"), issue("late")], NOW - 500)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(hub_dir, heartbeat=0.2, clock=lambda: NOW + 30),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def enrol_code(tmp_path: Path) -> str:
    """Made by the hub operator (`gate hub enrol-code`); the hub's own database holds it."""
    return hubkit_enrol_code(tmp_path / "hub", NOW + 30)


def post_records(
    client: httpx.Client, signer: Signer, device: str, lines: list[str], at: int = NOW + 30
) -> httpx.Response:
    body = json.dumps({"records": lines}).encode()
    headers = sign_request(signer, device, "POST", "/v1/records", at, body)
    return client.post(
        "/v1/records", content=body, headers={**headers, "Content-Type": "application/json"}
    )


def test_enrol_upload_replay_and_blocks(hub_url: str, tmp_path: Path) -> None:
    client = httpx.Client(base_url=hub_url, timeout=10)
    status = client.get("/v1/status").json()
    # Public: the ledger key (checked before enrolment) and the clock, nothing that
    # grows with sales.
    assert status.keys() == {"server_time", "ledger_key"} and status["server_time"] == NOW + 30
    state = tmp_path / "north-1"
    state.mkdir(mode=0o700)
    cp = Checkpoint(
        state, device="north-1", ledger_key=bytes.fromhex(status["ledger_key"]), policy=POLICY
    )
    # Not enrolled yet: the ledger is not served.
    assert (
        signed_get(client, cp.signer, "north-1", "/v1/blocks?since=-1", NOW + 30).status_code == 401
    )

    # Enrolment: a code works once.
    code_text = enrol_code(tmp_path)
    body = {"code": code_text, "device": "north-1", "public_key": cp.public_key.hex()}
    assert client.post("/v1/enrol", json=body).status_code == 200
    assert client.post("/v1/enrol", json=body).status_code == 403

    # The gate pulls the ledger (signed; gzip when asked) and admits offline.
    blocks = signed_get(
        client,
        cp.signer,
        "north-1",
        "/v1/blocks?since=-1",
        NOW + 30,
        headers={"Accept-Encoding": "gzip"},
    )
    assert blocks.status_code == 200 and blocks.headers.get("content-encoding") == "gzip"
    assert int(blocks.headers["X-Gatehouse-Height"]) >= 1
    assert cp.apply_lines(read_blocks(blocks.text.splitlines())).error is None
    assert cp.admit(code("solo"), NOW).reason == "ok"
    lines = list(cp.export_records())

    ok = post_records(client, cp.signer, "north-1", lines)
    assert ok.status_code == 200 and ok.json()["acked"] == 1
    replay = client.post(
        "/v1/records", content=ok.request.content, headers=dict(ok.request.headers)
    )
    assert replay.status_code == 409 and "replay" in replay.json()["error"]
    stale = post_records(client, cp.signer, "north-1", lines, at=NOW - 3600)
    assert stale.status_code == 401 and "clock" in stale.json()["error"]
    forger = Signer(bytes(32))
    forged = post_records(client, forger, "north-1", lines)
    assert forged.status_code == 401 and "signature" in forged.json()["error"]
    unsigned = client.post("/v1/records", json={"records": lines})
    assert unsigned.status_code == 401
    again = post_records(client, cp.signer, "north-1", lines, at=NOW + 31)  # resent: acked
    assert again.status_code == 200 and again.json()["duplicates"] == 1

    # The heartbeat carries the redeem to every gate (polled here with the operator's
    # token: a gate's own polls are signed a second apart).
    operator = {"Authorization": f"Bearer {operator_token(tmp_path / 'hub')}"}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        fresh = client.get(
            "/v1/blocks", params={"since": cp.ledger.head().height}, headers=operator
        ).text
        if '"redeem"' in fresh:
            break
        time.sleep(0.1)
    assert '"op":"redeem"' in fresh
    assert signed_get(client, cp.signer, "north-1", "/v1/conflicts", NOW + 30).json() == []
    cp.close()


def test_bad_requests_are_refused_not_crashes(hub_url: str, tmp_path: Path) -> None:
    hub_dir = tmp_path / "hub"
    client = httpx.Client(base_url=hub_url, timeout=10)
    assert client.post("/v1/enrol", json={"code": "x"}).status_code == 422
    assert (
        client.post(
            "/v1/enrol", json={"code": "NOPE", "device": "a", "public_key": "00" * 32}
        ).status_code
        == 403
    )
    # Who may read comes first: unauthenticated, even a bad query is only a 401 (the
    # same request with the operator's token is a 422).
    assert client.get("/v1/blocks", params={"since": "soon"}).status_code == 401
    operator = {"Authorization": f"Bearer {operator_token(hub_dir)}"}
    assert client.get("/v1/blocks", params={"since": "soon"}, headers=operator).status_code == 422
    assert client.post("/v1/records", content=b"\xff\xfe").status_code == 422
    assert client.get("/openapi.json").json()["info"]["title"] == "Gatehouse reference hub"


def test_a_gate_far_behind_pulls_page_after_page(
    tmp_path: Path, start_hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages bound the memory of both sides; the gate keeps asking until it holds the
    height the hub announces, in one pull."""
    from hub import api as hub_api

    from ..hubkit import seed_hub

    hub_dir = tmp_path / "hub"
    key = seed_hub(hub_dir)
    with Authority(hub_dir) as authority:
        for i in range(12):
            authority.append([issue(f"later{i}")], NOW - 400)
        height = authority.head()[0]
    monkeypatch.setattr(hub_api, "MAX_PAGE_BYTES", 2000)  # two or three blocks a page
    # The hub and the gate share the ledger's clock: the hub signs the enrolment's
    # `device` block at its own time, and a gate decides nothing behind its newest block.
    hub = start_hub(hub_dir, heartbeat=0, clock=lambda: NOW)
    from sync.client import HubClient

    state = tmp_path / "gate"
    state.mkdir(mode=0o700)
    pages: list[str] = []
    with Checkpoint(state, device="north-1", ledger_key=key, policy=POLICY) as cp:
        client = HubClient(hub.url, cp, clock=lambda: NOW)
        client.enrol(hubkit_enrol_code(hub_dir))  # only an enrolled gate may pull
        height += 1  # the block with its `device` event (revision 1.2)
        ask = client._request_with_headers
        monkeypatch.setattr(
            client, "_request_with_headers", lambda *a, **k: (pages.append(a[1]), ask(*a, **k))[1]
        )
        report = client.pull()
        assert (report.error, report.height, report.applied) == (None, height, height + 1)
        assert cp.check(code("later11"), NOW).reason == "ok"
    assert len(pages) >= 4 and pages[0] == "/v1/blocks?since=-1"
