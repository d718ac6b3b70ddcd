"""The demo's second part: two gates, a reference hub, and a network that goes away.

It drives the real commands only: ``gate hub`` makes a show and two tickets and serves
the API (``gate hub serve`` in its own process, heartbeat every second so the demo
need not wait); two gates enrol with one-time codes and pull the ledger; the network
goes down and both gates keep admitting, one ticket at both of them (the double entry a
gate alone cannot see); the hub comes back, both gates upload their logs, the hub
reports the double entry, and each gate learns the other's admissions.
"""

from __future__ import annotations

import io
import json
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path

from verifier import Decision, Signer

from . import cli

EVENT = "demo-hub"
GATES = ("north-1", "south-2")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _capture(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(args)
    return code, out.getvalue()


def _show(args: list[str], *, quiet: bool = False) -> tuple[int, str]:
    """Run ``gate ARGS`` as a person would type it; print its output."""
    print("$ gate " + shlex.join(args))
    code, text = _capture(args)
    if not quiet:
        print(text, end="")
    sys.stdout.flush()
    return code, text


class ServedHub:
    """``gate hub serve`` in a child process on loopback, as systemd would run it; its
    output goes to ``log``. (bench/sync.py serves its hubs the same way.)"""

    def __init__(self, hub_dir: Path, port: int, log: Path, *, heartbeat: float = 1.0,
                 start_timeout: float = 30.0) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gate", "hub", "--dir", str(hub_dir), "serve",
             "--port", str(port), "--heartbeat", str(heartbeat)],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/v1/status", timeout=2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"gate hub serve did not start; see {log}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def run_hub_demo(directory: Path, now: int, signer_of: Callable[[str], Signer],
                 ticket_of: Callable[[str], str], code_of: Callable[..., str]) -> int:
    """Run the hub part in ``directory``; the number of unexpected results."""
    try:
        import fastapi  # noqa: F401  (the hub extra)
        import uvicorn  # noqa: F401
    except ImportError:
        print("\n(skipping the hub part: the hub extra is not installed; "
              "pip install 'gatehouse[hub]')")
        return 0
    hub_dir = directory / "hub"
    h = ["hub", "--dir", str(hub_dir)]
    failures = 0
    print("\n==== part 2: two gates and a hub; the network goes down ====\n")
    code, text = _show([*h, "init"])
    ledger_key = text.split('"')[1]
    failures += code != 0
    failures += _show([*h, "event", EVENT, "Demo Night (two lanes)", "--starts", str(now),
                       "--ends", str(now + 5 * 3600)])[0] != 0
    for name in ("hana", "ivan"):
        holder = signer_of(name).public_key.hex()
        failures += _show([*h, "issue", "--event", EVENT, "--holder", holder,
                           "--ticket", ticket_of(name), "--from", str(now - 3600),
                           "--until", str(now + 6 * 3600)])[0] != 0
    port = free_port()
    log = directory / "hub.log"
    print(f"$ gate hub --dir {hub_dir} serve --port {port} --heartbeat 1 &")
    served = ServedHub(hub_dir, port, log)
    configs: dict[str, list[str]] = {}
    try:
        for gate in GATES:
            state = directory / gate
            state.mkdir(exist_ok=True)
            config = directory / f"{gate}.toml"
            config.write_text(
                f'device = "{gate}"\nledger_key = "{ledger_key}"\nstate_dir = "{gate}"\n'
                f'events = ["{EVENT}"]\n\n[hub]\nurl = "{served.url}"\n', encoding="utf-8")
            configs[gate] = ["-c", str(config)]
            print(f"\n# {gate}: the technician enrols it with a one-time code")
            code, enrol_code = _show([*h, "enrol-code"])
            failures += code != 0
            failures += _show([*configs[gate], "enrol", enrol_code.strip()])[0] != 0
            failures += _show([*configs[gate], "sync", "once"])[0] != 0

        print("\n# the site's network goes down")
        served.stop()
        for what, gate, name in (("hana comes in at north-1", "north-1", "hana"),
                                 ("hana's friend shows a copy of her code at south-2",
                                  "south-2", "hana"),
                                 ("ivan comes in at south-2", "south-2", "ivan")):
            print(f"\n# {what}")
            failures += _admit(configs[gate], code_of(name, int(time.time())), "ok")
        print("\n# north-1 cannot reach the hub; it keeps admitting and keeps its log")
        failures += _show([*configs["north-1"], "sync", "once"])[0] != 1
        _show([*configs["north-1"], "sync", "status"])

        print("\n# the network is back")
        print(f"$ gate hub --dir {hub_dir} serve --port {port} --heartbeat 1 &")
        served = ServedHub(hub_dir, port, log)
        for gate in GATES:
            failures += _show([*configs[gate], "sync", "once"])[0] != 0
        # The hub publishes the admissions as redeem events in its next block.
        published = _wait(lambda: _capture([*h, "conflicts", "--json"])[1].strip() not in
                          ("", "[]"), 15)
        print("\n# the hub sees hana's ticket used at both lanes")
        code, _ = _show([*h, "conflicts"])
        failures += code != 1 or not published
        print("\n# north-1 learns what south-2 admitted while they were apart")
        failures += _show([*configs["north-1"], "sync", "once"])[0] != 0
        print("\n# ivan tries to come in again at north-1")
        failures += _admit(configs["north-1"], code_of("ivan", int(time.time())),
                           "already_used")
    finally:
        served.stop()
    return failures


def _admit(config: list[str], token: str, expected: str) -> int:
    print(f"$ gate {' '.join(config)} admit '{token[:20]}…'")
    _, text = _capture([*config, "admit", token, "--json"])
    decision = Decision(**json.loads(text))
    print(cli.describe(decision))
    if decision.reason != expected:
        print(f"  !! expected {expected}")
        return 1
    return 0
