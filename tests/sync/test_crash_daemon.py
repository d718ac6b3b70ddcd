"""Power cuts and crashes under the real daemon, its sync child and its peer child,
against a real hub and a peer that keeps pushing.

``gate run`` (its own process group, like a systemd unit's cgroup) takes codes from a
serial scanner on a pty while its sync child pulls blocks from a hub that keeps
publishing (heartbeats carry the redeems of uploaded records) and pushes records, and
its peer child (``[peers]``) takes the records another gate of the venue keeps posting
to it. At random moments the whole group is SIGKILLed (a power cut: daemon and both
children together), or only the sync child, or only the peer child (the daemon must
carry on and restart it). After every power cut: each admission the daemon reported
(it reports only after the synced commit) is in the log, no ticket is admitted twice,
the chain verifies, every database passes SQLite's integrity check, what the hub holds
is a prefix of the gate's log, and the peer's records held are a prefix of its chain
that includes every one the gate acknowledged.

40 kills by default; the long variant is ``GATEHOUSE_CRASH_KILLS=200`` (docs/testing in
tests/README.md).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from hub import Authority, Hub
from verifier.records import verify_records

from ..clikit import ROOT, gate
from ..hubkit import held_rows
from ..ledgerkit import code, issue, show, signer, write_config
from ..peerkit import PeerChain
from ..peers.venue import free_port
from ..test_crash import check_state

KILLS = int(os.environ.get("GATEHOUSE_CRASH_KILLS", "40"))
TICKETS = 1500
DEVICE = "crash-1"
PEER = "peer-2"


class Peer:
    """Another gate of the venue, posting its records to the daemon's peer port as a
    real peer does: from the head the gate says it holds, a few at a time. ``acked`` is
    the highest seq the gate acknowledged as held."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.chain = PeerChain(PEER)
        for i in range(3000):
            if i % 3:
                self.chain.admit(f"x{i}")
            else:
                self.chain.reject()
        self.acked = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        rng = random.Random(7)
        held: int | None = None  # the gate's head for this peer, as it last said
        while not self.stop.is_set():
            try:
                if held is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                    conn.request("GET", "/v1/peer/heads")
                    held = json.loads(conn.getresponse().read()).get(PEER, 0)
                    conn.close()
                batch = self.chain.lines[held : held + rng.randint(1, 8)]
                if not batch:
                    return
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("POST", "/v1/peer/records", body="\n".join(batch).encode())
                reply = json.loads(conn.getresponse().read())
                conn.close()
                if reply.get("accepted") == len(batch) and not reply.get("refused"):
                    held += len(batch)
                    self.acked = max(self.acked, held)
                else:
                    held = None
            except (OSError, http.client.HTTPException, ValueError):
                held = None  # the gate is down or restarting: as a peer sees a power cut
            self.stop.wait(rng.uniform(0.02, 0.06))


def check_peers(state: Path, peer: Peer) -> None:
    """peers.db is sound and holds a prefix of the peer's chain, at least what it
    acknowledged (the gate replied only after the commit)."""
    conn = sqlite3.connect(state / "peers.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "peers.db"
        held = [
            r[0]
            for r in conn.execute(
                "SELECT body FROM peer_records WHERE device = ? ORDER BY seq", (PEER,)
            )
        ]
    finally:
        conn.close()
    assert held == peer.chain.lines[: len(held)], "peers.db holds what the peer never sent"
    assert len(held) >= peer.acked, f"acknowledged seq {peer.acked} lost: {len(held)} held"
    assert verify_records(held, signer(f"device:{PEER}").public_key, device=PEER) == len(held)


class Daemon:
    def __init__(self, config: Path, scanner: int) -> None:
        self.scanner = scanner
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gate", "-c", str(config), "run"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own group: a power cut takes the child too
        )
        self.lines: list[dict] = []
        self.kills = {"sync": 0, "peers": 0}
        self.started = threading.Event()  # the lane
        self.peers_started = threading.Event()  # its peer port
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                event = json.loads(line)
                self.lines.append(event)
                if event.get("event") == "started":
                    self.started.set()
                if event.get("event") == "peers_started":
                    self.peers_started.set()

    def child(self, kind: str) -> int | None:
        """The pid of the daemon's ``gate ... KIND run`` child (``sync`` or ``peers``),
        whichever of the daemon's threads started it."""
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            try:
                pids = [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                continue
            for pid in pids:
                try:
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if kind.encode() in argv and b"run" in argv:
                    return pid
        return None

    def power_cut(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=10)

    def admitted(self) -> dict[str, int]:
        return {
            e["ticket"]: e["seq"]
            for e in self.lines
            if e.get("event") == "decision" and e.get("result") == "admitted"
        }


def test_power_cuts_and_sync_crashes_lose_nothing(tmp_path: Path, start_hub) -> None:
    rng = random.Random(20261203)
    now = int(time.time())
    hub_dir = tmp_path / "hub"
    hub_dir.mkdir()
    live = {"valid_from": now - 3600, "until": now + 7200}
    with Authority(hub_dir) as authority:
        authority.append([show(starts=now - 3600, ends=now + 7200)], now - 900)
        for first in range(0, TICKETS, 250):
            authority.append([issue(f"t{i}", **live) for i in range(first, first + 250)], now)
        key = authority.public_key
    hub = start_hub(hub_dir, heartbeat=0.2)
    peer_port = free_port("127.0.0.1")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    master, slave = os.openpty()
    config = write_config(
        tmp_path / "gate.toml",
        ledger_key=key,
        state_dir=state,
        device=DEVICE,
        extra=f"""
[camera]
url = "serial:{os.ttyname(slave)}"
[relay]
url = "sim:relay?pulse_ms=20"
[lane]
debounce = 0.1
[hub]
url = "{hub.url}"
[control]
socket = "{tmp_path / "control.sock"}"
group = "root"
[peers]
listen = "127.0.0.1:{peer_port}"
urls = []
interval = 0.5
""",
    )
    operator = Hub(hub_dir)
    try:
        enrol = operator.enrol_code(now)
        operator.register_device(PEER, signer(f"device:{PEER}").public_key, now)
    finally:
        operator.close()
    assert gate(config, "enrol", enrol).returncode == 0
    public_key = bytes.fromhex(
        json.loads(gate(config, "device", "show", "--json").stdout)["public_key"]
    )

    reported: dict[str, int] = {}
    next_ticket = kills = 0
    child_kills = {"sync": 0, "peers": 0}
    daemon = Daemon(config, master)
    peer = Peer(peer_port)
    try:
        while kills < KILLS:
            assert daemon.started.wait(60), "gate run did not start"
            # Half the time the peer port is up and taking the peer's pushes before the
            # cut; else the cut may fall while the peer child starts and opens peers.db.
            if rng.random() < 0.5:
                assert daemon.peers_started.wait(60), "gate run's peer child did not start"
            # Feed codes for a while, at a turnstile's pace or faster.
            until = time.monotonic() + rng.uniform(0.05, 0.6)
            while time.monotonic() < until and next_ticket < TICKETS:
                os.write(master, code(f"t{next_ticket}", int(time.time())).encode() + b"\r\n")
                next_ticket += 1
                time.sleep(rng.uniform(0.005, 0.03))
            draw = rng.random()
            kind = "sync" if draw < 0.25 else "peers" if draw < 0.5 else None
            child = daemon.child(kind) if kind else None
            # A child just killed comes back after the daemon's back-off (1 s, then 5 s),
            # and a loaded machine starts one slowly: wait for it rather than cut power
            # instead, so each child is killed as often as drawn.
            patience = time.monotonic() + 8
            while kind and child is None and time.monotonic() < patience:
                time.sleep(0.1)
                child = daemon.child(kind)
            if kind and child is not None:
                try:
                    os.kill(child, signal.SIGKILL)  # only one child: the lane goes on
                except ProcessLookupError:
                    continue  # it ended and was reaped in between: nothing was killed
                daemon.kills[kind] += 1
                child_kills[kind] += 1
                kills += 1
                continue
            daemon.power_cut()
            # A child dies only when killed here: never by itself.
            for name in ("sync", "peers"):
                exits = [e for e in daemon.lines if e.get("alarm") == f"{name}_worker_exited"]
                assert len(exits) <= daemon.kills[name], exits
            kills += 1
            admitted = daemon.admitted()
            for ticket, seq in admitted.items():
                assert reported.setdefault(ticket, seq) == seq, f"{ticket} admitted twice"
            check_state(state, public_key, reported, device=DEVICE)
            log = sqlite3.connect(state / "records.db")  # the log as the gate uploads it
            try:
                ours = [r[0] for r in log.execute("SELECT body FROM records ORDER BY seq")]
            finally:
                log.close()
            theirs = held_rows(hub_dir, DEVICE)
            assert theirs == ours[: len(theirs)], "the hub holds what the gate never wrote"
            check_peers(state, peer)
            daemon = Daemon(config, master)
    finally:
        peer.stop.set()
        if daemon.proc.poll() is None:
            daemon.power_cut()
        os.close(master)
        os.close(slave)
    assert min(child_kills.values()) >= KILLS // 8 and kills == KILLS, child_kills
    assert peer.acked > 100, "the peer must have pushed a real stream between kills"
    assert len(reported) > 50, "the daemon must have admitted a real stream between kills"
