"""``gate provision`` end to end: a real hub on loopback, the real CLI in subprocesses,
a temporary root, and then the daemon run from that root on a ``synthetic:`` camera."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub import Authority, Hub
from verifier.key_fingerprint import key_fingerprint

from ..clikit import ROOT
from ..hubkit import held_rows, wait_for
from ..ledgerkit import issue, show

pytest.importorskip("fastapi")

USER = pwd.getpwuid(os.geteuid()).pw_name
CAMERA = (
    "synthetic:?wallets=t0&namespace=test&fps=4&degrade=none&empty=0.3&multi=0&width=640&height=480"
)


def seed(hub_dir: Path, *, blocks: int = 1, per_block: int = 2) -> bytes:
    """A show on now, tickets t0..: valid for the next hours; the authority's key."""
    now = int(time.time())
    hub_dir.mkdir(exist_ok=True)
    live = {"valid_from": now - 3600, "until": now + 7200}
    with Authority(hub_dir) as authority:
        authority.append([show(starts=now - 3600, ends=now + 7200)], now - 900)
        n = 0
        for b in range(blocks):
            authority.append([issue(f"t{n + i}", **live) for i in range(per_block)], now - 800 + b)
            n += per_block
        return authority.public_key


def new_code(hub_dir: Path, *, at: int | None = None, ttl: int = 3600) -> str:
    hub = Hub(hub_dir)
    try:
        return hub.enrol_code(int(time.time()) if at is None else at, ttl)
    finally:
        hub.close()


def provision(
    hub_url: str, code: str, fp: str, root: Path, *extra: str, device: str = "north-1"
) -> subprocess.CompletedProcess[str]:
    args = [
        "--hub", hub_url, "--code", code, "--ledger-key-fingerprint", fp,
        "--device", device, "--events", "show", "--root", str(root), "--user", USER,
        *extra,
    ]  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "gate", "provision", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def tree(root: Path) -> dict[str, tuple[int, str]]:
    """Every path under ``root`` with its mode and content hash."""
    found = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        found[str(path.relative_to(root))] = (st.st_mode, digest)
    return found


def test_provisioned_root_runs_a_lane_that_admits_and_uploads(tmp_path: Path, start_hub) -> None:
    hub_dir = tmp_path / "hub"
    key = seed(hub_dir)
    hub = start_hub(hub_dir)
    root = tmp_path / "root"
    relay_log = tmp_path / "relay.log"
    done = provision(
        hub.url, new_code(hub_dir), key_fingerprint(key), root,
        "--camera", CAMERA, "--relay", f"sim:relay?log={relay_log}&pulse_ms=200",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "the hub's ledger key matches the fingerprint" in out
    assert "enrolled north-1 with" in out and "ok   camera reads" in out
    assert re.search(r"synced: ledger height \d+, 2 ticket\(s\)", out), out
    state = root / "var/lib/gatehouse"
    assert state.stat().st_mode & 0o777 == 0o700
    assert (state / "device.key").stat().st_mode & 0o777 == 0o600
    assert state.stat().st_uid == os.geteuid()
    config = root / "etc/gatehouse/gate.toml"
    text = config.read_text()
    assert 'state_dir  = "../../var/lib/gatehouse"' in text and key.hex() in text
    check = subprocess.run(
        [sys.executable, "-m", "gate", "-c", str(config), "config", "check"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr

    # The daemon from that root: the synthetic camera shows t0's wallet.
    lane = subprocess.Popen(
        [sys.executable, "-m", "gate", "-c", str(config), "run"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        journal: list[dict] = []
        deadline = time.monotonic() + 60
        assert lane.stdout is not None
        while not any(e.get("event") == "decision" for e in journal):
            if lane.poll() is not None:
                pytest.fail(f"gate run ended: {lane.communicate()[1]}")
            assert time.monotonic() < deadline, journal
            ready, _, _ = select.select([lane.stdout], [], [], 1.0)
            if ready:
                line = lane.stdout.readline()
                if line.startswith("{"):
                    journal.append(json.loads(line))
        decision = next(e for e in journal if e.get("event") == "decision")
        assert decision["result"] == "admitted" and decision["reason"] == "ok", decision
        wait_for(lambda: len(held_rows(hub_dir, "north-1")) >= 1, 60, "the record's upload")
    finally:
        lane.send_signal(signal.SIGTERM)
        lane.communicate(timeout=30)
    [row] = [json.loads(r) for r in held_rows(hub_dir, "north-1")][:1]
    assert row["result"] == "admitted" and row["device"] == "north-1"


def test_a_hub_with_another_ledger_key_writes_nothing(tmp_path: Path, start_hub) -> None:
    seed(tmp_path / "expected")
    expected = Hub(tmp_path / "expected")
    fp = key_fingerprint(expected.authority.public_key)
    expected.close()
    other = tmp_path / "other"
    seed(other)
    hub = start_hub(other)
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/hostname").write_text("gate-north-1\n")
    before = tree(root)
    code = new_code(other)
    done = provision(hub.url, code, fp, root, "--no-selftest")
    assert done.returncode == 2
    assert f"not {fp}: nothing was written" in done.stderr
    assert tree(root) == before
    # The code was not spent on the wrong hub: it still enrols a unit there.
    held = Hub(other)
    try:
        held.enrol(code, "south-2", "11" * 32, int(time.time()))
    finally:
        held.close()


def test_a_used_and_an_expired_code_are_refused_with_the_hubs_reason(
    tmp_path: Path, start_hub
) -> None:
    hub_dir = tmp_path / "hub"
    key = seed(hub_dir)
    hub = start_hub(hub_dir)
    fp = key_fingerprint(key)
    used = new_code(hub_dir)
    assert provision(hub.url, used, fp, tmp_path / "a", "--no-selftest").returncode == 0
    again = provision(hub.url, used, fp, tmp_path / "b", "--no-selftest", device="south-2")
    assert again.returncode == 1
    assert "enrolment code already used (by device north-1 at" in again.stdout
    assert "re-run with a new code" in again.stdout
    expired = new_code(hub_dir, at=int(time.time()) - 7200, ttl=60)
    late = provision(hub.url, expired, fp, tmp_path / "c", "--no-selftest")
    assert late.returncode == 1 and "enrolment code expired at" in late.stdout
    wrong = provision(hub.url, "AAAABBBBCCCC", fp, tmp_path / "d", "--no-selftest")
    assert wrong.returncode == 1 and "enrolment code unknown" in wrong.stdout


def test_rerunning_keeps_the_device_key_and_the_record_log(tmp_path: Path, start_hub) -> None:
    hub_dir = tmp_path / "hub"
    key = seed(hub_dir)
    hub = start_hub(hub_dir)
    fp = key_fingerprint(key)
    root = tmp_path / "root"
    assert provision(hub.url, new_code(hub_dir), fp, root, "--no-selftest").returncode == 0
    config = root / "etc/gatehouse/gate.toml"
    state = root / "var/lib/gatehouse"
    from ..ledgerkit import code as wallet_code

    now = int(time.time())
    admitted = subprocess.run(
        [sys.executable, "-m", "gate", "-c", str(config), "admit", wallet_code("t1", now),
         "--now", str(now)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert admitted.returncode == 0, admitted.stdout + admitted.stderr
    key_before = (state / "device.key").read_bytes()
    records_before = subprocess.run(
        [sys.executable, "-m", "gate", "-c", str(config), "records", "export", "-"],
        cwd=ROOT, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert records_before.count("\n") == 1
    hub.stop()  # the hub away, the same code again: the unit keeps what it has
    hub = start_hub(hub_dir)
    again = provision(hub.url, "SPENTCODE123", fp, root, "--no-selftest", "--zone", "north")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "kept the device key" in again.stdout and "1 record(s)" in again.stdout
    assert "kept the enrolment" in again.stdout
    assert "the previous one kept as gate.toml.bak" in again.stdout
    assert "1 record(s) uploaded" in again.stdout
    assert (state / "device.key").read_bytes() == key_before
    records_after = subprocess.run(
        [sys.executable, "-m", "gate", "-c", str(config), "records", "export", "-"],
        cwd=ROOT, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert records_after == records_before
    same = provision(hub.url, "SPENTCODE123", fp, root, "--no-selftest", "--zone", "north")
    assert "kept " + str(config) + " (same settings)" in same.stdout
    # Another device id on a provisioned unit is refused before anything is written.
    before = tree(root)
    other = subprocess.run(
        [sys.executable, "-m", "gate", "provision", "--hub", hub.url, "--code", "X" * 12,
         "--ledger-key-fingerprint", fp, "--device", "south-2", "--events", "show",
         "--root", str(root), "--user", USER, "--no-selftest"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert other.returncode == 2 and "provisions this unit as device 'north-1'" in other.stderr
    assert tree(root) == before


def test_first_sync_draws_a_bar_on_a_terminal_and_lines_in_a_pipe(
    tmp_path: Path, start_hub
) -> None:
    hub_dir = tmp_path / "hub"
    key = seed(hub_dir, blocks=150, per_block=20)
    hub = start_hub(hub_dir)
    fp = key_fingerprint(key)
    # Through a pseudo-terminal, as a technician on the console sees it.
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gate", "provision", "--hub", hub.url, "--code",
         new_code(hub_dir), "--ledger-key-fingerprint", fp, "--device", "north-1",
         "--events", "show", "--root", str(tmp_path / "tty"), "--user", USER,
         "--no-selftest"],
        cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0, seen.decode(errors="replace")
    text = seen.decode(errors="replace")
    assert "\x1b[" in text  # a drawn bar, not lines
    # The hub's heartbeat adds empty blocks: at least the 151 seeded, all of them done.
    done = re.findall(r"(\d+)/(\d+)\x1b\[0m blocks · ([\d,]+) tickets", text)
    assert done and done[-1][0] == done[-1][1] and int(done[-1][0]) >= 151, text
    assert done[-1][2] == "3,000" and "blocks/s" in text and "first sync" in text
    assert re.search(r"sync: \d+ block\(s\), 3,000 ticket\(s\) in [\d.]+ s", text)
    # Through a pipe: plain words only.
    piped = provision(
        hub.url, new_code(hub_dir), fp, tmp_path / "pipe", "--no-selftest", device="south-2"
    )
    assert piped.returncode == 0, piped.stderr
    assert "\x1b" not in piped.stdout
    assert re.search(r"sync: \d+ block\(s\), 3,000 ticket\(s\) in", piped.stdout)


def test_gpio_outputs_get_their_resting_level_in_the_boot_config(tmp_path: Path, start_hub) -> None:
    from gate.boot_pins import pin_problems
    from gate.config import load_config

    hub_dir = tmp_path / "hub"
    key = seed(hub_dir)
    hub = start_hub(hub_dir)
    root = tmp_path / "root"
    boot = root / "boot/firmware/config.txt"
    boot.parent.mkdir(parents=True)
    boot.write_text("dtparam=audio=on\n[all]\n")
    relay = ("--relay", "gpio:17?active=low&pulse_ms=800", "--red", "gpio:23")
    done = provision(
        hub.url, new_code(hub_dir), key_fingerprint(key), root, "--no-selftest", *relay
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"wrote the relay and indicator pins in {boot}" in done.stdout
    text = boot.read_text()
    assert text.startswith("dtparam=audio=on\n[all]\n")
    assert "gpio=17=op,dh" in text and "gpio=23=op,dl" in text
    cfg = load_config(root / "etc/gatehouse/gate.toml")
    assert pin_problems(cfg, text) == []
    again = provision(hub.url, "USEDALREADY1", key_fingerprint(key), root, "--no-selftest", *relay)
    assert again.returncode == 0 and f"kept the relay and indicator pins in {boot}" in again.stdout
    assert boot.read_text() == text
