"""Who may read the hub, tried as an attacker would, on a real hub on loopback over real
HTTP: the ledger and the conflicts only for an enrolled device's signed request or the
operator's token; replays refused whatever the spelling of the signature; no way to
tell an unknown device from a bad signature."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from hub import Hub
from sync.client import HubClient
from sync.request_auth import sign_request
from sync.wire import HEADER_HEIGHT, HEADER_SIGNATURE, HEADER_TIME
from verifier import Checkpoint, Policy, Signer
from verifier.blocks import read_blocks

from ..clikit import gate
from ..hubkit import RunningHub, enrol_code, operator_token, seed_hub, signed_get
from ..ledgerkit import NOW, code

POLICY = Policy(events=frozenset({"show"}))
READS = ("/v1/blocks?since=-1", "/v1/conflicts")
#: Header names as a captured request's headers (httpx) spell them.
SIGNATURE, TIME = HEADER_SIGNATURE.lower(), HEADER_TIME.lower()


class Site:
    """A seeded hub on loopback at a fixed time, an HTTP client, and gate north-1
    enrolled through the API."""

    def __init__(self, tmp_path: Path, start_hub: Callable[..., RunningHub]) -> None:
        self.hub_dir = tmp_path / "hub"
        self.key = seed_hub(self.hub_dir)
        self.hub = start_hub(self.hub_dir, clock=lambda: NOW, heartbeat=0)
        self.http = httpx.Client(base_url=self.hub.url, timeout=10)
        state = tmp_path / "north-1"
        state.mkdir(mode=0o700)
        self.cp = Checkpoint(state, device="north-1", ledger_key=self.key, policy=POLICY)
        self.signer = self.cp.signer
        enrolled = self.http.post(
            "/v1/enrol",
            json={
                "code": enrol_code(self.hub_dir, NOW),
                "device": "north-1",
                "public_key": self.cp.public_key.hex(),
            },
        )
        assert enrolled.status_code == 200, enrolled.text

    def get(self, path: str, headers: dict[str, str]) -> httpx.Response:
        return self.http.get(path, headers=headers)

    def upload(self, lines: list[str], at: int = NOW) -> httpx.Response:
        body = json.dumps({"records": lines}).encode()
        headers = sign_request(self.signer, "north-1", "POST", "/v1/records", at, body)
        return self.http.post(
            "/v1/records", content=body, headers={**headers, "Content-Type": "application/json"}
        )


@pytest.fixture
def site(tmp_path: Path, start_hub: Callable[..., RunningHub]) -> Iterator[Site]:
    made = Site(tmp_path, start_hub)
    yield made
    made.http.close()
    made.cp.close()


def test_status_is_public_and_tells_nothing_of_sales(site: Site) -> None:
    status = site.http.get("/v1/status")
    assert status.status_code == 200
    assert status.json() == {"server_time": NOW, "ledger_key": site.key.hex()}


@pytest.mark.parametrize("path", READS)
def test_reads_need_a_signature_or_the_operator_token(site: Site, path: str) -> None:
    unsigned = site.http.get(path)
    assert unsigned.status_code == 401
    assert unsigned.headers["WWW-Authenticate"].startswith("Bearer")
    signed = signed_get(site.http, site.signer, "north-1", path, NOW)
    assert signed.status_code == 200, signed.text
    # The same signed request again (captured on the way): a replay.
    replay = site.get(path, dict(signed.request.headers))
    assert replay.status_code == 409 and "replay" in replay.json()["error"]
    # The signature covers the path and its query: it does not open another read.
    if "?" in path:
        moved = site.get("/v1/blocks?since=2", dict(signed.request.headers))
        assert moved.status_code == 401
    # A stale signed read is refused, like a stale upload.
    stale = signed_get(site.http, site.signer, "north-1", path, NOW - 3600)
    assert stale.status_code == 401 and "clock" in stale.json()["error"]

    token = operator_token(site.hub_dir)
    by_operator = site.get(path, {"Authorization": f"Bearer {token}"})
    assert by_operator.status_code == 200 and by_operator.content == signed.content
    assert site.get(path, {"Authorization": f"bearer {token}"}).status_code == 200
    for wrong in (f"Bearer {token[:-1]}x", "Bearer", f"Basic {token}", token):
        refused = site.get(path, {"Authorization": wrong})
        assert refused.status_code == 401, wrong
        assert refused.json() == {"error": "the operator token is not the hub's"}
    # A new token replaces the old one.
    newer = operator_token(site.hub_dir)
    assert site.get(path, {"Authorization": f"Bearer {token}"}).status_code == 401
    assert site.get(path, {"Authorization": f"Bearer {newer}"}).status_code == 200


def test_the_signed_blocks_reply_carries_the_height(site: Site) -> None:
    reply = signed_get(site.http, site.signer, "north-1", "/v1/blocks?since=-1", NOW)
    lines = reply.text.splitlines()
    assert int(reply.headers[HEADER_HEIGHT]) == len(lines) - 1
    assert site.cp.apply_lines(read_blocks(lines)).error is None
    above = signed_get(site.http, site.signer, "north-1", f"/v1/blocks?since={2**62}", NOW)
    assert above.text == "" and above.headers[HEADER_HEIGHT] == reply.headers[HEADER_HEIGHT]


def test_an_unknown_device_looks_like_a_bad_signature(site: Site) -> None:
    """Same status, same body, byte for byte: nobody learns which device ids exist."""
    stranger = Signer(bytes([7]) * 32)
    for path in READS:
        unknown = signed_get(site.http, stranger, "nobody-9", path, NOW)
        forged = signed_get(site.http, stranger, "north-1", path, NOW)  # known id, wrong key
        assert unknown.status_code == forged.status_code == 401
        assert unknown.content == forged.content
        assert "north-1" not in forged.text and "nobody-9" not in unknown.text
    lines = [json.dumps({"nope": 1})]
    body = json.dumps({"records": lines}).encode()
    answers = []
    for device in ("nobody-9", "north-1"):
        headers = sign_request(stranger, device, "POST", "/v1/records", NOW, body)
        answers.append(
            site.http.post(
                "/v1/records", content=body, headers={**headers, "Content-Type": "application/json"}
            )
        )
    assert answers[0].status_code == answers[1].status_code == 401
    assert answers[0].content == answers[1].content


def test_a_revoked_device_reads_nothing(site: Site) -> None:
    operator = Hub(site.hub_dir)
    try:
        operator.intake.revoke("north-1", NOW)
    finally:
        operator.close()
    refused = signed_get(site.http, site.signer, "north-1", "/v1/blocks?since=-1", NOW)
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]
    # Only a request its own key signed learns that it is revoked.
    forged = signed_get(site.http, Signer(bytes(32)), "north-1", "/v1/blocks?since=-1", NOW)
    assert forged.status_code == 401 and "revoked" not in forged.text


def respelled(signature: str) -> list[str]:
    """Other spellings of the same 64 bytes."""
    return [
        signature.upper(),
        "".join(c.upper() if i % 2 else c for i, c in enumerate(signature)),  # mixed case
        " ".join(signature[i : i + 2] for i in range(0, len(signature), 2)),  # spaced pairs
        "0x" + signature,
    ]


def test_a_captured_upload_replayed_in_another_spelling_is_refused(site: Site) -> None:
    """The attack that worked: an accepted upload sent again with its signature upper-
    cased was new text to the replay guard and was accepted (200). Now the guard keys on
    the signature's bytes and only one spelling is taken."""
    site.cp.admit(code("solo"), NOW)
    lines = list(site.cp.export_records())
    accepted = site.upload(lines)
    assert accepted.status_code == 200 and accepted.json()["acked"] == 1
    captured = dict(accepted.request.headers)
    signature = captured[SIGNATURE]
    assert signature == signature.lower()
    for other in respelled(signature):
        replayed = site.http.post(
            "/v1/records",
            content=accepted.request.content,
            headers={**captured, SIGNATURE: other},
        )
        assert replayed.status_code == 401, (other, replayed.text)
        assert "lower-case hex" in replayed.json()["error"]
    exact = site.http.post("/v1/records", content=accepted.request.content, headers=captured)
    assert exact.status_code == 409 and "replay" in exact.json()["error"]
    # The time in another spelling (it is signed as a number) is refused too.
    padded = site.http.post(
        "/v1/records",
        content=accepted.request.content,
        headers={**captured, TIME: f"0{captured[TIME]}"},
    )
    assert padded.status_code == 401 and "decimal" in padded.json()["error"]


def test_a_first_request_in_another_spelling_is_refused(site: Site) -> None:
    """Not only replays: the hub takes a signature in one spelling, lower-case hex."""
    headers = sign_request(site.signer, "north-1", "GET", "/v1/conflicts", NOW, b"")
    for other in respelled(headers[HEADER_SIGNATURE]):
        refused = site.get("/v1/conflicts", {**headers, HEADER_SIGNATURE: other})  # replaced
        assert refused.status_code == 401, other
    captured = signed_get(site.http, site.signer, "north-1", "/v1/blocks?since=0", NOW)
    assert captured.status_code == 200
    upper = dict(captured.request.headers)
    upper[SIGNATURE] = upper[SIGNATURE].upper()
    assert site.get("/v1/blocks?since=0", upper).status_code == 401


def test_other_hex_the_hub_takes_has_one_spelling(site: Site, tmp_path: Path) -> None:
    """A record's signature, an enrolling key and a key registered by hand: lower case."""
    site.cp.admit(code("solo"), NOW)
    [line] = list(site.cp.export_records())
    record = json.loads(line)
    record["sig"] = record["sig"].upper()
    refused = site.upload([json.dumps(record)])
    assert refused.status_code == 409 and "lowercase hex" in refused.json()["error"]
    assert site.upload([line], at=NOW + 1).json()["accepted"] == 1

    key = Signer(bytes([5]) * 32).public_key.hex()
    code_text = enrol_code(site.hub_dir, NOW)
    upper = site.http.post(
        "/v1/enrol", json={"code": code_text, "device": "south-2", "public_key": key.upper()}
    )
    assert upper.status_code == 422
    operator = Hub(site.hub_dir)
    try:
        with pytest.raises(Exception, match="lower-case hex") as refused_key:
            operator.enrol(code_text, "south-2", key.upper(), NOW)
        assert getattr(refused_key.value, "status", None) == 400
    finally:
        operator.close()
    assert (
        site.http.post(
            "/v1/enrol", json={"code": code_text, "device": "south-2", "public_key": key}
        ).json()["device"]
        == "south-2"
    )

    by_hand = gate(
        tmp_path / "unused.toml",
        "hub",
        "--dir",
        str(site.hub_dir),
        "register",
        "east-3",
        key.upper(),
    )
    assert by_hand.returncode == 2 and "lower-case hex" in by_hand.stderr


def test_the_gate_signs_its_reads(site: Site) -> None:
    """HubClient pulls with signed reads, one second apart when it asks the same twice,
    and learns the hub's height from the signed reply."""
    times = iter(range(NOW, NOW + 100))
    client = HubClient(site.hub.url, site.cp, timeout=5, clock=lambda: NOW)
    report = client.pull()
    assert report.error is None and report.applied > 0
    assert client.hub_height == report.height
    again = client.pull()  # the same request at the same clock second: signed a second on
    assert again.error is None and again.applied == 0
    health = client.health(NOW)
    assert health["hub_height"] == report.height and health["clock_offset"] == 0
    fresh = HubClient(site.hub.url, site.cp, timeout=5, clock=lambda: next(times))
    assert fresh.health(NOW)["hub_height"] == report.height  # asked with a signed read

    stranger_state = site.hub_dir.parent / "stranger"
    stranger_state.mkdir(mode=0o700)
    with Checkpoint(stranger_state, device="west-4", ledger_key=site.key, policy=POLICY) as cp:
        stranger = HubClient(site.hub.url, cp, timeout=5, clock=lambda: NOW)
        refused = stranger.pull()
        assert refused.applied == 0 and refused.error is not None
        assert "401" in refused.error and "enrolled device" in refused.error
        assert stranger.health(NOW)["hub_height"] is None
