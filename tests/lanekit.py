"""A real lane for end-to-end tests: ``gate run`` in a subprocess over a small signed
ledger, sim outputs, a control socket, and a camera that is a serial scanner on a pty
(so the test says when a code arrives) or any source URL the test names."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hardware import read_sim_log

from .clikit import ROOT, gate
from .ledgerkit import LedgerKit, issue, show, signer, ticket_id, write_config


class Lane:
    """A running daemon: its config, its journal (read on a thread), its scanner pty."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        group: str = "root",
        socket_path: Path | None = None,
        camera: str | None = None,
    ):
        self.now = now = int(time.time())
        kit = LedgerKit(time=now - 7200)
        kit.append([show(starts=now - 3600, ends=now + 7200)])
        live = {"valid_from": now - 3600, "until": now + 7200}
        kit.append(
            [
                issue("t0", **live),
                issue("t1", **live),
                issue("t2", label="Box 7", entries=2, **live),
                issue("t3", **live),
            ]
        )
        holder = signer("buyer").public_key.hex()
        kit.append([{"op": "transfer", "ticket": ticket_id("t3"), "holder": holder}])
        state = tmp_path / "state"
        state.mkdir(mode=0o700)
        (tmp_path / "ledger.jsonl").write_text("".join(kit.lines()), encoding="utf-8")
        self.master, slave = os.openpty()
        self.tty = os.ttyname(slave)
        self.camera = camera or f"serial:{self.tty}"
        self.relay_log = tmp_path / "relay.log"
        self.socket = socket_path or tmp_path / "control.sock"
        self.config = write_config(
            tmp_path / "gate.toml",
            ledger_key=kit.key,
            state_dir=state,
            extra=f"""
[camera]
url = "{self.camera}"
[relay]
url = "sim:relay?log={self.relay_log}&pulse_ms=300"
[lane]
debounce = 0.1
[control]
socket = "{self.socket}"
group = "{group}"
""",
        )
        assert gate(self.config, "ledger", "apply", str(tmp_path / "ledger.jsonl")).returncode == 0
        self.start()

    def start(self) -> None:
        """Start ``gate run`` (again, after :meth:`stop`: the same state and socket)."""
        env = {**os.environ, "GATEHOUSE_CONFIG": str(self.config)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gate", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.journal: list[dict] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for(lambda e: e["event"] == "started")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                with self._cond:
                    self.journal.append(json.loads(line))
                    self._cond.notify_all()

    def wait_for(self, pred: Callable[[dict], bool], timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self.journal:
                    if pred(e):
                        return e
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    pytest.fail(f"not in the journal: {[e['event'] for e in self.journal]}")
                self._cond.wait(min(left, 0.2))

    def decisions(self) -> list[dict]:
        with self._cond:
            return [e for e in self.journal if e["event"] == "decision"]

    def scan(self, text: str) -> None:
        os.write(self.master, text.encode() + b"\r\n")

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return gate(self.config, "ctl", *args)

    def relay_states(self) -> list[bool]:
        return [s for _, s in read_sim_log(self.relay_log)]

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        return err

    def close(self) -> str:
        """Stop the daemon for good and close the scanner's pty."""
        err = self.stop()
        os.close(self.master)
        return err


def wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("timed out")
        time.sleep(0.05)
