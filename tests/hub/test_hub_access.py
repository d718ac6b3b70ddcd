"""Signed requests tried as an attacker would, on a real hub on loopback over real HTTP:
replays refused whatever the spelling of the signature, and one spelling for the hex
the hub takes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from hub import Hub
from sync.request_auth import sign_request
from sync.wire import HEADER_SIGNATURE, HEADER_TIME
from verifier import Checkpoint, Policy, Signer

from ..clikit import gate
from ..hubkit import RunningHub, enrol_code, seed_hub
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
        state.mkdir()
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
