"""Real gate processes and a real hub on loopback: offline admissions at three gates,
the hub comes back, every record is held once, the double entry is reported, and every
gate learns the others' admissions. A lying hub changes nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from hub import Hub
from verifier import verify_records

from ..clikit import ROOT, gate
from ..hubkit import held_rows, make_gate, seed_hub
from ..ledgerkit import NOW, LedgerKit, code, issue, show, signer


def test_three_offline_gates_reconcile(tmp_path: Path, start_hub) -> None:
    hub_dir = tmp_path / "hub"
    key = seed_hub(hub_dir, now=int(time.time()))  # the hub's heartbeats are at the real time
    hub = start_hub(hub_dir)
    configs = {n: make_gate(tmp_path, n, key, hub.url) for n in ("north-1", "south-2", "east-3")}
    for name, config in configs.items():
        operator = Hub(hub_dir)  # the operator hands out codes (`gate hub enrol-code`)
        try:
            enrol_code = operator.enrol_code(int(time.time()))
        finally:
            operator.close()
        assert gate(config, "enrol", enrol_code).returncode == 0, name
        assert gate(config, "sync", "once").returncode == 0  # the ledger, before the show
    hub.stop()  # the network goes down; the gates keep admitting
    before = json.loads(gate(configs["north-1"], "sync", "status", "--json").stdout)
    assert before["hub"].startswith("unreachable") and before["clock_offset"] is None
    assert abs(before["last_success"] - time.time()) < 60 and before["since_success"] >= 0
    failed = gate(configs["north-1"], "sync", "once")
    assert failed.returncode == 1 and "unreachable" in failed.stderr
    after = json.loads(gate(configs["north-1"], "sync", "status", "--json").stdout)
    assert after["last_success"] == before["last_success"]  # a failed round is no success
    at = int(time.time())  # after the last block the gates hold
    now = str(at)
    assert gate(configs["north-1"], "admit", code("solo", at), "--now", now).returncode == 0
    assert gate(configs["south-2"], "admit", code("solo", at), "--now", now).returncode == 0
    assert gate(configs["east-3"], "admit", code("pair", at), "--now", now).returncode == 0
    assert gate(configs["east-3"], "admit", "junk", "--now", now).returncode == 1

    old_url = hub.url
    hub = start_hub(hub_dir)  # back, on a new port
    for config in configs.values():
        config.write_text(config.read_text().replace(old_url, hub.url))
    for config in configs.values():
        result = gate(config, "sync", "once")
        assert result.returncode == 0, result.stderr
    time.sleep(0.5)  # a heartbeat block carries every gate's redeems
    for config in configs.values():
        assert gate(config, "sync", "once").returncode == 0

    held = Hub(hub_dir)
    try:
        for name, config in configs.items():
            ours = gate(config, "records", "export", "-").stdout.splitlines()
            theirs = held_rows(hub_dir, name)
            assert theirs == ours
            key_hex = json.loads(gate(config, "device", "show", "--json").stdout)["public_key"]
            assert verify_records(theirs, bytes.fromhex(key_hex), device=name) == len(ours)
        [conflict] = held.conflicts()
        assert {a[0] for a in conflict.admissions} == {"north-1", "south-2"}
    finally:
        held.close()
    later = max(at + 15, int(time.time()))
    check = json.loads(
        gate(configs["east-3"], "check", code("solo", later), "--now", str(later), "--json").stdout
    )
    assert check["reason"] == "already_used"
    status = json.loads(gate(configs["east-3"], "sync", "status", "--json").stdout)
    assert status["backlog"] == 0 and status["hub"] == "reachable"


class LyingHub(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_lying_hub_changes_nothing(tmp_path: Path) -> None:
    real = LedgerKit()
    real.append([show()])
    real.append([issue("solo")])
    forged = LedgerKit(authority=signer("not the authority"))
    forged.append([show()])
    server = ThreadingHTTPServer(("127.0.0.1", 0), LyingHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    config = make_gate(tmp_path, "north-1", real.key, url)
    (tmp_path / "ledger.jsonl").write_text("".join(real.lines()))
    assert gate(config, "ledger", "apply", str(tmp_path / "ledger.jsonl")).returncode == 0
    before = json.loads(gate(config, "ledger", "status", "--json").stdout)
    tampered = real.lines()[1].replace('"entries": 1', '"entries": 9')
    for body in ("".join(forged.lines()), tampered, "garbage\n", real.lines()[0]):
        LyingHub.body = body.encode()
        result = gate(config, "sync", "once")
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert json.loads(gate(config, "ledger", "status", "--json").stdout) == before
    assert gate(config, "admit", code("solo"), "--now", str(NOW)).returncode == 0
    server.shutdown()


def test_the_daemon_syncs_on_its_own(tmp_path: Path, start_hub) -> None:
    """`gate run` with a [hub] section: the worker pulls and pushes beside the lane, and
    the admission reaches the hub before the daemon has stopped."""
    import cv2
    import numpy as np

    from scanner.render import render_frame

    hub_dir = tmp_path / "hub"
    key = seed_hub(hub_dir)
    hub = start_hub(hub_dir)
    config = make_gate(tmp_path, "north-1", key, hub.url)
    operator = Hub(hub_dir)
    try:
        enrol_code = operator.enrol_code(int(time.time()))
    finally:
        operator.close()
    assert gate(config, "enrol", enrol_code).returncode == 0
    assert gate(config, "sync", "once").returncode == 0
    frames = tmp_path / "frames"
    frames.mkdir()
    now = int(time.time())
    # The daemon decides on the real clock: a ticket valid today, issued after the gate's
    # last manual sync, so only the worker can bring it.
    operator = Hub(hub_dir)
    try:
        operator.authority.append([issue("today", valid_from=now - 3600, until=now + 3600)], now)
    finally:
        operator.close()
    cv2.imwrite(
        str(frames / "0.png"),
        render_frame(
            [code("today", now)], np.random.default_rng(2), (640, 480), degradations=()
        ).image,
    )
    for i in range(1, 12):  # an empty lane between the showings (the stills loop)
        cv2.imwrite(
            str(frames / f"{i}.png"),
            render_frame([], np.random.default_rng(i), (640, 480), degradations=()).image,
        )
    config.write_text(
        config.read_text()
        + f"""
[camera]
url = "images:{frames}?fps=5&loop=1"
[relay]
url = "sim:relay?pulse_ms=50"
[control]
socket = "{tmp_path / "control.sock"}"
"""
    )
    # Until the worker has said it synced (however long a loaded machine takes to start
    # it), then stopped as systemd stops it: its last push takes what is left.
    run = subprocess.Popen(
        [sys.executable, "-m", "gate", "-c", str(config), "run"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out: list[dict] = []
    assert run.stdout is not None
    deadline = time.monotonic() + 120
    for line in run.stdout:
        if line.startswith("{"):
            out.append(json.loads(line))
        if any(e["event"] == "sync" for e in out) or time.monotonic() > deadline:
            break
    run.send_signal(signal.SIGTERM)
    rest, err = run.communicate(timeout=60)
    out += [json.loads(x) for x in rest.splitlines() if x.startswith("{")]
    assert run.returncode == 0, err
    assert any(e["event"] == "sync" for e in out)
    records = [json.loads(body) for body in held_rows(hub_dir, "north-1")]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1)) and records
    local = gate(config, "records", "export", "-").stdout.splitlines()
    assert len(local) == len(records)  # the last push at stop took everything
