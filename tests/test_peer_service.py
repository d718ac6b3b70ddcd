"""The peer service's HTTP endpoints (PROTOCOL.md section 5) on a real socket, over a real
state directory that a lane's Checkpoint shares."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path

import pytest

from gate.peer_service import MAX_BODY_BYTES, PeerService
from sync.request_auth import sign_request
from verifier import Checkpoint, PeerFork
from verifier.device_key import load_device_key

from .ledgerkit import NOW, LedgerKit, code, device, issue, show, signer
from .peerkit import PeerChain
from .statekit import apply, gate

LATER = NOW + 60


@pytest.fixture
def kit() -> LedgerKit:
    kit = LedgerKit()
    kit.append([show()])
    kit.append([issue("solo"), issue("pair", entries=2)])
    kit.append([device("east-3"), device("retired-5")])
    kit.append([device("retired-5", active=False)])
    return kit


@pytest.fixture
def lane(state_dir: Path, kit: LedgerKit) -> Checkpoint:
    cp = gate(state_dir, kit)
    assert apply(cp, kit).error is None
    yield cp
    cp.close()


@pytest.fixture
def service(state_dir: Path, kit: LedgerKit, lane: Checkpoint):
    forks: list[PeerFork] = []
    svc = PeerService(
        lambda: gate(state_dir, kit), host="127.0.0.1", clock=lambda: NOW, on_fork=forks.append
    )
    svc.forks = forks
    with svc:
        yield svc


def call(
    service: PeerService,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def signed(name: str, path: str, at: int = NOW, key=None) -> dict[str, str]:
    return sign_request(key or signer(f"device:{name}"), name, "GET", path, at, b"")


def test_posted_records_count_at_the_lane_at_once(service: PeerService, lane: Checkpoint) -> None:
    east = PeerChain("east-3")
    east.reject()
    east.admit("solo")
    east.admit("pair")
    body = ("\n".join(east.lines[1:]) + "\n\n").encode()  # blank lines are skipped
    status, reply = call(service, "POST", "/v1/peer/records", body)
    assert (status, json.loads(reply)) == (200, {"accepted": 0, "held": 2, "refused": []})
    status, reply = call(service, "POST", "/v1/peer/records", "\n".join(east.lines).encode())
    assert json.loads(reply) == {"accepted": 3, "held": 0, "refused": []}
    decision = lane.check(code("solo", LATER), LATER)
    assert (decision.reason, decision.first_device) == ("already_used", "east-3")
    forged = PeerChain("east-3", key=signer("thief"))
    forged.admit("pair")
    status, reply = call(service, "POST", "/v1/peer/records", b"junk\n" + forged.lines[0].encode())
    refused = json.loads(reply)["refused"]
    assert status == 200 and [(r["device"], r["seq"]) for r in refused] == [
        (None, None),
        ("east-3", 1),
    ]
    assert "signature" in refused[1]["why"]


def test_a_fork_is_handed_to_the_alarm(service: PeerService) -> None:
    east, clone = PeerChain("east-3"), PeerChain("east-3")
    east.admit("solo")
    clone.admit("pair")
    call(service, "POST", "/v1/peer/records", east.lines[0].encode())
    status, reply = call(service, "POST", "/v1/peer/records", clone.lines[0].encode())
    assert status == 200 and json.loads(reply)["refused"][0]["why"].startswith("fork:")
    assert [(f.device, f.seq) for f in service.forks] == [("east-3", 1)]


def test_heads_name_every_device_held(service: PeerService, lane: Checkpoint) -> None:
    assert call(service, "GET", "/v1/peer/heads") == (200, b"{}")
    lane.admit(code("solo"), NOW)
    east = PeerChain("east-3")
    east.reject()
    east.reject()
    call(service, "POST", "/v1/peer/records", "\n".join(east.lines).encode())
    status, reply = call(service, "GET", "/v1/peer/heads")
    assert (status, json.loads(reply)) == (200, {"east-3": 2, "north-1": 1})


def test_records_are_read_only_by_an_active_device_signing_once(
    service: PeerService, lane: Checkpoint, state_dir: Path
) -> None:
    lane.admit(code("solo"), NOW)
    lane.admit(code("pair"), NOW)
    east = PeerChain("east-3")
    east.reject()
    call(service, "POST", "/v1/peer/records", east.lines[0].encode())
    own = "/v1/peer/records?device=north-1&since=1"
    headers = signed("east-3", own)
    status, body = call(service, "GET", own, headers=headers)
    assert status == 200 and body.decode().splitlines() == list(lane.export_records(1))
    assert call(service, "GET", own, headers=headers)[0] == 409  # a replay
    relayed = "/v1/peer/records?device=east-3&since=0"
    status, body = call(service, "GET", relayed, headers=signed("east-3", relayed))
    assert status == 200 and body.decode().splitlines() == east.lines
    # This gate's own key is a device active in the ledger only if the ledger says so.
    mine = load_device_key(state_dir)
    assert call(service, "GET", relayed, headers=signed("north-1", relayed, key=mine))[0] == 401
    for headers in (
        {},  # unsigned
        signed("ghost-9", relayed),  # not in the ledger
        signed("retired-5", relayed),  # revoked
        signed("east-3", relayed, key=signer("thief")),  # forged
        signed("east-3", relayed, at=NOW - 600),  # stale
        signed("east-3", "/v1/peer/records?device=east-3&since=1"),  # another query
    ):
        status, body = call(service, "GET", relayed, headers=headers)
        assert status == 401, headers
    bad = "/v1/peer/records?device=east-3&since=-1"
    assert call(service, "GET", bad, headers=signed("east-3", bad))[0] == 400
    none = "/v1/peer/records?since=0"
    assert call(service, "GET", none, headers=signed("east-3", none))[0] == 400


def test_wrong_paths_and_sizes_are_refused(service: PeerService) -> None:
    assert call(service, "GET", "/v1/peer/nothing")[0] == 404
    assert call(service, "POST", "/v1/peer/heads", b"")[0] == 404
    # A body announced too big is refused before it is read.
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    conn.putrequest("POST", "/v1/peer/records")
    conn.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    assert call(service, "GET", "/v1/peer/heads")[0] == 200  # still serving


def test_a_service_that_cannot_open_the_state_says_so(tmp_path: Path, kit: LedgerKit) -> None:
    from errors import StoreError

    svc = PeerService(lambda: gate(tmp_path / "nope", kit), host="127.0.0.1")
    with pytest.raises(StoreError, match="does not exist"):
        svc.start()
    svc.close()
    svc.close()


def test_a_stalled_peer_does_not_hold_the_service(
    service: PeerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from gate import peer_service

    monkeypatch.setattr(peer_service._Handler, "timeout", 0.5)
    stalled = socket.create_connection(("127.0.0.1", service.port))
    try:
        stalled.sendall(b"POST /v1/peer/records HTTP/1.1\r\nContent-Length: 100\r\n\r\n")
        assert call(service, "GET", "/v1/peer/heads")[0] == 200  # served after the timeout
    finally:
        stalled.close()


def test_a_connection_is_kept_for_the_next_request(service: PeerService) -> None:
    """A peer's pushes and reads go over one connection (HTTP/1.1 keep-alive)."""
    east = PeerChain("east-3")
    east.admit("solo")
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    try:
        conn.request("POST", "/v1/peer/records", body=(east.lines[0] + "\n").encode())
        first = conn.getresponse()
        assert (first.status, json.loads(first.read())["accepted"]) == (200, 1)
        sock = conn.sock
        conn.request("GET", "/v1/peer/heads")
        heads = conn.getresponse()
        assert json.loads(heads.read())["east-3"] == 1
        assert conn.sock is sock and not heads.will_close
    finally:
        conn.close()


def test_a_body_not_read_ends_its_connection(service: PeerService) -> None:
    """A POST refused before its body is read closes the connection: what is left of
    the body is never read as the next request."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    try:
        conn.request("POST", "/v1/peer/nothing", body=b"GET /v1/peer/heads HTTP/1.1\r\n\r\n")
        reply = conn.getresponse()
        assert reply.status == 404 and reply.will_close
        reply.read()
    finally:
        conn.close()


def test_idle_connections_give_way_to_new_ones(
    state_dir: Path, kit: LedgerKit, lane: Checkpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every slot held by a connection waiting for its next request, a new one is
    served: the one idle longest is closed for it."""
    from gate import peer_service

    monkeypatch.setattr(peer_service, "MAX_CONNECTIONS", 3)
    with PeerService(lambda: gate(state_dir, kit), host="127.0.0.1") as svc:
        held = []
        for _ in range(3):
            conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=10)
            conn.request("GET", "/v1/peer/heads")
            assert conn.getresponse().read() is not None
            held.append(conn)
        try:
            assert call(svc, "GET", "/v1/peer/heads")[0] == 200
            # The first (idle longest) was closed; the others still answer on theirs.
            assert held[0].sock is not None and held[0].sock.recv(1) == b""
            for conn in held[1:]:
                sock = conn.sock
                conn.request("GET", "/v1/peer/heads")
                assert conn.getresponse().status == 200 and conn.sock is sock
        finally:
            for conn in held:
                conn.close()


def test_the_exchange_keeps_its_connection_and_opens_one_when_closed(
    service: PeerService, state_dir: Path, kit: LedgerKit
) -> None:
    """The exchange sends a peer's requests over one connection, and opens a new one,
    without an error, when the peer closed the old (idle, or to make room)."""
    from gate.peer_exchange import PeerExchange
    from gate.peer_service import CheckpointThread

    db = CheckpointThread(lambda: gate(state_dir, kit)).start()
    lines: list[dict] = []
    try:
        exchange = PeerExchange(
            db, device="north-1", urls=[f"http://127.0.0.1:{service.port}"], emit=lines.append
        )
        (link,) = exchange.links.values()
        for _ in range(3):
            assert exchange._heads(link) == {}
        assert (exchange.requests, exchange.connections) == (3, 1)
        # The service's thread marks the connection idle just after its reply.
        deadline = time.monotonic() + 5
        while not service._server._close_longest_idle():
            assert time.monotonic() < deadline, "the connection never waited idle"
            time.sleep(0.01)
        time.sleep(0.2)  # the peer's end of the connection is shut
        assert exchange._heads(link) == {}
        assert (exchange.requests, exchange.connections) == (4, 2)
        exchange._disconnect(link)
    finally:
        db.close()
    assert not [e for e in lines if e["event"] in ("peer", "warning")]


def test_a_push_marked_relay_hands_on_only_what_it_newly_brought(
    state_dir: Path, kit: LedgerKit, lane: Checkpoint
) -> None:
    """``?relay=1`` asks the gate to pass a push on (a large venue's relays): what the
    push made held, device by device with the seq held before and after, goes to
    ``on_relay``; records held aside behind a gap wait until the gap is filled, and
    what was held already or does not verify is never passed on."""
    got: list[dict] = []
    svc = PeerService(
        lambda: gate(state_dir, kit), host="127.0.0.1", clock=lambda: NOW, on_relay=got.append
    )
    with svc:
        east = PeerChain("east-3")
        east.reject()
        east.admit("solo")
        east.admit("pair")
        call(svc, "POST", "/v1/peer/records", east.lines[0].encode())  # not marked
        assert got == []
        status, reply = call(svc, "POST", "/v1/peer/records?relay=1", east.lines[2].encode())
        assert (status, json.loads(reply)["held"], got) == (200, 1, [])  # aside: a gap
        status, _ = call(svc, "POST", "/v1/peer/records?relay=1", east.lines[1].encode())
        assert (status, got) == (200, [{"east-3": (1, 3)}])  # seq 2 brought 3 with it
        again = "\n".join(east.lines).encode()
        assert call(svc, "POST", "/v1/peer/records?relay=1", again)[0] == 200
        forged = PeerChain("east-3", key=signer("thief"))
        forged.reject()
        forged.admit("solo")
        forged.admit("pair")
        forged.admit("solo")
        status, reply = call(svc, "POST", "/v1/peer/records?relay=1", forged.lines[3].encode())
        assert "signature" in json.loads(reply)["refused"][0]["why"]
        assert got == [{"east-3": (1, 3)}]
