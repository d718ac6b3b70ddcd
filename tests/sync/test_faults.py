"""The sync outcome survives a hostile network and a hub restart.

The acceptance item: a fault-injecting proxy between gate and hub (drops, delays, a
connection reset after the request was sent, duplicated requests) and a hub restart in the
middle of an upload change nothing in the outcome of the three-gate scenario: every
record held exactly once, chains verify, the double entry reported, every gate learns the
others' admissions. Real gate processes, a real hub, real sockets; the gates are simply
run again (``gate sync once``) until they are done, as a timer on a unit would.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from gate.config import load_config
from hub import Hub
from hub.served import ServedHub, free_port
from sync.client import HubClient, PushReport
from sync.request_auth import sign_request
from verifier import Checkpoint, verify_records

from ..clikit import gate
from ..hubkit import (
    RunningHub,
    admitted,
    held_rows,
    make_gate,
    redeems,
    seed_hub,
    wait_for,
)
from ..ledgerkit import NOW, code
from .faultproxy import KINDS, FaultProxy

SEED = 7  # the proxy's faults are reproducible from this (and the order gates connect)
MAX_ROUNDS = 25  # `gate sync once` per gate before the test calls it stuck
RECORDS_POST = "POST /v1/records HTTP/1.1"


@pytest.fixture
def proxies() -> Iterator[Callable[..., FaultProxy]]:
    made: list[FaultProxy] = []

    def make(upstream: int, **kw: Any) -> FaultProxy:
        made.append(FaultProxy(upstream, **kw))
        return made[-1]

    yield make
    for proxy in made:
        proxy.close()


def enrol(hub_dir: Path, config: Path) -> None:
    """Enrol through the real API with a one-time code from the hub's operator."""
    operator = Hub(hub_dir)
    try:
        enrol_code = operator.enrol_code(int(time.time()))
    finally:
        operator.close()
    result = gate(config, "enrol", enrol_code)
    assert result.returncode == 0, result.stderr


def sync_until(configs: dict[str, Path], done: Callable[[dict[str, Any]], bool]) -> int:
    """Run `gate sync once` at every gate not yet ``done`` (judged on `sync status
    --json`), round after round, the gates at the same time as on a site; the number of
    rounds it took. A failed round must fail cleanly (exit 1, a reason, no traceback):
    that is what the unit's timer sees."""

    def one_round(config: Path) -> bool:
        result = gate(config, "sync", "once")
        assert result.returncode in (0, 1) and "Traceback" not in result.stderr, result.stderr
        return result.returncode == 0 and done(
            json.loads(gate(config, "sync", "status", "--json").stdout)
        )

    waiting = dict(configs)
    with ThreadPoolExecutor(len(configs)) as pool:
        for rounds in range(1, MAX_ROUNDS + 1):
            finished = dict(zip(waiting, pool.map(one_round, waiting.values()), strict=True))
            waiting = {n: c for n, c in waiting.items() if not finished[n]}
            if not waiting:
                return rounds
    raise AssertionError(f"{sorted(waiting)} not done after {MAX_ROUNDS} rounds")


def assert_held_exactly_once(hub_dir: Path, config: Path, name: str) -> list[str]:
    """The hub holds exactly the gate's export, and it verifies as the gate's chain."""
    ours = gate(config, "records", "export", "-").stdout.splitlines()
    theirs = held_rows(hub_dir, name)
    assert theirs == ours and ours
    key_hex = json.loads(gate(config, "device", "show", "--json").stdout)["public_key"]
    assert verify_records(theirs, bytes.fromhex(key_hex), device=name) == len(ours)
    return ours


def pending_events(hub_dir: Path) -> int:
    with closing(sqlite3.connect(f"file:{hub_dir / 'hub.db'}?mode=ro", uri=True)) as db:
        return db.execute("SELECT count(*) FROM pending").fetchone()[0]


def test_three_offline_gates_reconcile_through_a_faulty_network(
    tmp_path: Path, start_hub: Callable[..., RunningHub], proxies: Callable[..., FaultProxy]
) -> None:
    """test_three_offline_gates_reconcile, with every exchange after the outage going
    through drops, delays, resets after the hub did the work, and duplicated requests,
    and one record per upload request so the cursor moves many times under fire."""
    hub_dir = tmp_path / "hub"
    key = seed_hub(hub_dir, now=int(time.time()))  # the hub's heartbeats are at the real time
    hub = start_hub(hub_dir)
    proxy = proxies(hub.port, seed=SEED, cover=RECORDS_POST)
    proxy.force("pass")  # provisioning is not under test: a lost enrolment spends the code
    configs = {n: make_gate(tmp_path, n, key, proxy.url) for n in ("north-1", "south-2", "east-3")}
    for config in configs.values():
        config.write_text(config.read_text() + "batch = 1\n")
        enrol(hub_dir, config)
        assert gate(config, "sync", "once").returncode == 0  # the ledger, before the show
    hub.stop()  # the network goes down; the gates keep admitting
    at = int(time.time())  # after the last block the gates hold
    now = str(at)
    assert gate(configs["north-1"], "admit", code("solo", at), "--now", now).returncode == 0
    assert gate(configs["south-2"], "admit", code("solo", at), "--now", now).returncode == 0
    assert gate(configs["east-3"], "admit", code("pair", at), "--now", now).returncode == 0
    for config in configs.values():  # a few refusals too: several uploads per gate
        assert gate(config, "admit", "junk", "--now", now).returncode == 1

    hub = start_hub(hub_dir)  # back, on a new port behind the same proxy
    proxy.upstream = hub.port
    proxy.force(None)
    sync_until(configs, lambda status: status["backlog"] == 0)
    wait_for(lambda: pending_events(hub_dir) == 0, 10, "a heartbeat block with the redeems")
    height = Hub(hub_dir)
    try:
        target = height.authority.head()[0]
    finally:
        height.close()
    sync_until(configs, lambda status: status["height"] >= target)

    exports = {n: assert_held_exactly_once(hub_dir, c, n) for n, c in configs.items()}
    held = Hub(hub_dir)
    try:
        [conflict] = held.conflicts()
    finally:
        held.close()
    assert sorted(a[0] for a in conflict.admissions) == ["north-1", "south-2"]
    # Each admission became exactly one redeem, however often its record was sent.
    assert sorted(redeems(hub_dir)) == sorted(
        a for lines in exports.values() for a in admitted(lines)
    )
    proxy.force("pass")
    later = max(at + 15, int(time.time()))
    check = json.loads(
        gate(configs["east-3"], "check", code("solo", later), "--now", str(later), "--json").stdout
    )
    assert check["reason"] == "already_used"
    status = json.loads(gate(configs["east-3"], "sync", "status", "--json").stdout)
    assert status["backlog"] == 0 and status["hub"] == "reachable"

    # Not vacuous: every fault happened, and the two that test exactly-once hit uploads.
    assert all(proxy.counts[kind] for kind in KINDS), proxy.counts
    on_uploads = Counter(kind for kind, line in proxy.log if line == RECORDS_POST)
    assert on_uploads["reset_after_send"] and on_uploads["duplicate"], on_uploads


def gate_with_records(
    tmp_path: Path, hub_dir: Path, key: bytes, url: str, *, batch: int, total: int
) -> Path:
    """Gate north-1, enrolled and synced, uploading ``batch`` records at a time, with
    ``total`` records waiting: one admission of "solo", the rest junk scans (made
    in-process: hundreds of records quickly). Its configuration file. The hub is seeded
    at the real time (``seed_hub(now=...)``): the admission is after the blocks synced."""
    config = make_gate(tmp_path, "north-1", key, url)
    config.write_text(config.read_text() + f"batch = {batch}\n")
    enrol(hub_dir, config)
    assert gate(config, "sync", "once").returncode == 0
    cfg = load_config(config)
    now = int(time.time())
    with Checkpoint(
        cfg.state_dir, device=cfg.device, ledger_key=cfg.ledger_key, policy=cfg.policy
    ) as cp:
        assert cp.admit(code("solo", now), now).result == "admitted"
        for i in range(total - 1):
            cp.admit(f"junk-{i}", now)
    return config


def test_a_hub_restart_in_the_middle_of_an_upload(
    tmp_path: Path, start_hub: Callable[..., RunningHub], proxies: Callable[..., FaultProxy]
) -> None:
    """A gate with a few hundred records uploads ten at a time; once the hub holds a third
    of them, the hub is stopped (the upload in flight loses its acknowledgement) and
    started again on the same directory. The gate keeps pushing from its cursor, and in
    the end the hub holds exactly the gate's chain, nothing twice, nothing missing."""
    total, threshold = 300, 100
    hub_dir = tmp_path / "hub"
    key = seed_hub(hub_dir, now=int(time.time()))
    hub = start_hub(hub_dir)
    proxy = proxies(hub.port, seed=SEED, weights={"pass": 1})
    config = gate_with_records(tmp_path, hub_dir, key, proxy.url, batch=10, total=total)

    stopped = threading.Event()
    held_at_stop: list[int] = []

    def stop_the_hub_mid_upload() -> None:
        """Once the hub holds a third: from now on every reply is lost; when the hub has
        taken one more batch (whose acknowledgement is lost), stop it."""
        with closing(sqlite3.connect(f"file:{hub_dir / 'hub.db'}?mode=ro", uri=True)) as db:

            def held() -> int:
                return db.execute("SELECT count(*) FROM records").fetchone()[0]

            try:
                wait_for(lambda: held() >= threshold, 60, "a third of the records held")
                proxy.force("reset_after_send")
                cut = held()
                wait_for(lambda: held() > cut, 10, "one more batch held")
                hub.stop()
                held_at_stop.append(held())
            finally:
                stopped.set()

    watcher = threading.Thread(target=stop_the_hub_mid_upload, daemon=True)
    watcher.start()
    first = gate(config, "sync", "once")
    assert stopped.wait(30) and held_at_stop, "the hub was not stopped mid-upload"
    assert first.returncode == 1 and "Traceback" not in first.stderr, first.stderr
    cut_at = json.loads(gate(config, "sync", "status", "--json").stdout)["acked"]
    # Truly mid-upload, and the hub holds records whose acknowledgement the gate never got.
    assert threshold <= cut_at < held_at_stop[0] < total

    hub = start_hub(hub_dir)  # the same directory, a new process's worth of state
    proxy.upstream = hub.port
    proxy.force(None)
    sync_until({"north-1": config}, lambda status: status["backlog"] == 0)
    ours = assert_held_exactly_once(hub_dir, config, "north-1")
    assert len(ours) == total
    wait_for(lambda: pending_events(hub_dir) == 0, 10, "a heartbeat block with the redeem")
    assert redeems(hub_dir) == [("north-1", 1)]
    assert proxy.counts["reset_after_send"] >= 1


def test_records_the_hub_already_holds_from_a_usb_stick(
    tmp_path: Path, start_hub: Callable[..., RunningHub]
) -> None:
    """The hub can hold more of a gate's records than the gate was ever told: its export
    was carried over on a USB stick while the network was down. The gate's next upload
    starts from its own cursor, gets an acknowledgement past the batch it sent, and must
    still walk forward to the end (it used to resend its first batch until the hub
    refused the copy as a replay, every time)."""
    hub_dir = tmp_path / "hub"
    key = seed_hub(hub_dir)
    hub = start_hub(hub_dir)
    config = make_gate(tmp_path, "north-1", key, hub.url)
    config.write_text(config.read_text() + "batch = 10\n")
    enrol(hub_dir, config)
    cfg = load_config(config)
    with Checkpoint(
        cfg.state_dir, device=cfg.device, ledger_key=cfg.ledger_key, policy=cfg.policy
    ) as cp:
        for i in range(25):
            cp.admit(f"junk-{i}", NOW)
    stick = tmp_path / "north-1.jsonl"
    assert gate(config, "records", "export", str(stick)).returncode == 0
    carried = gate(config, "hub", "--dir", str(hub_dir), "records", "import", str(stick))
    assert carried.returncode == 0, carried.stderr
    assert len(held_rows(hub_dir, "north-1")) == 25
    with Checkpoint(
        cfg.state_dir, device=cfg.device, ledger_key=cfg.ledger_key, policy=cfg.policy
    ) as cp:
        cp.admit("junk-after", NOW)  # and one the stick did not carry

    result = gate(config, "sync", "once")
    assert result.returncode == 0, result.stderr
    assert json.loads(gate(config, "sync", "status", "--json").stdout)["backlog"] == 0
    assert len(assert_held_exactly_once(hub_dir, config, "north-1")) == 26


def test_a_copy_of_an_upload_that_reached_the_hub_first_is_signed_again(
    tmp_path: Path, start_hub: Callable[..., RunningHub]
) -> None:
    """The network delivered a copy of an upload, and the copy arrived first: the hub
    took the records and refuses the gate's own request as a replay (same signature).
    The gate signs the batch again with a later time and gets its acknowledgement, with
    no alarm and nothing held twice."""
    hub_dir = tmp_path / "hub"
    key = seed_hub(hub_dir)
    hub = start_hub(hub_dir)
    config = make_gate(tmp_path, "north-1", key, hub.url)
    enrol(hub_dir, config)
    cfg = load_config(config)
    signed_at = int(time.time())
    with Checkpoint(
        cfg.state_dir, device=cfg.device, ledger_key=cfg.ledger_key, policy=cfg.policy
    ) as cp:
        for i in range(3):
            cp.admit(f"junk-{i}", NOW)
        body = json.dumps({"records": list(cp.export_records(0))}).encode()
        copy = urllib.request.Request(
            hub.url + "/v1/records",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                **sign_request(cp.signer, cp.device, "POST", "/v1/records", signed_at, body),
            },
        )
        with urllib.request.urlopen(copy, timeout=10) as reply:
            assert json.loads(reply.read())["acked"] == 3
        times = iter([signed_at, signed_at + 1])
        client = HubClient(hub.url, cp, clock=lambda: next(times))
        assert client.push() == PushReport(sent=3, acked=3, error=None)
        assert client.cursor() == 3
    assert len(assert_held_exactly_once(hub_dir, config, "north-1")) == 3


def test_a_hub_killed_in_the_middle_of_an_upload(tmp_path: Path) -> None:
    """The hub process dies without warning (SIGKILL: a power cut, the OOM killer) while a
    gate uploads, perhaps inside a transaction of hub.db. Started again on the same
    directory, it recovers its files, and the gate's next pushes leave it holding exactly
    the gate's chain: nothing twice, nothing missing, the redeem published once."""
    total, threshold = 400, 100
    hub_dir = tmp_path / "hub"
    key = seed_hub(hub_dir, now=int(time.time()))
    port = free_port()
    hub = ServedHub(hub_dir, port, tmp_path / "hub.log", heartbeat=0.3)
    try:
        config = gate_with_records(tmp_path, hub_dir, key, hub.url, batch=5, total=total)

        upload = subprocess.Popen(
            [sys.executable, "-m", "gate", "-c", str(config), "sync", "once"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with closing(sqlite3.connect(f"file:{hub_dir / 'hub.db'}?mode=ro", uri=True)) as db:
            wait_for(
                lambda: db.execute("SELECT count(*) FROM records").fetchone()[0] >= threshold,
                60,
                "records reaching the hub",
            )
        hub.proc.kill()  # no shutdown, no checkpoint, no last commit
        hub.stop()
        _, err = upload.communicate(timeout=60)
        assert upload.returncode == 1 and "Traceback" not in err, err
        status = json.loads(gate(config, "sync", "status", "--json").stdout)
        assert 0 < status["acked"] < total  # truly cut off mid-upload

        hub = ServedHub(hub_dir, port, tmp_path / "hub.log", heartbeat=0.3)
        sync_until({"north-1": config}, lambda s: s["backlog"] == 0)
        assert len(assert_held_exactly_once(hub_dir, config, "north-1")) == total
        wait_for(lambda: pending_events(hub_dir) == 0, 10, "a heartbeat with the redeem")
        assert redeems(hub_dir) == [("north-1", 1)]
    finally:
        hub.stop()
