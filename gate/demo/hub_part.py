"""``gate demo``'s second part: two gates, a reference hub, and a network that goes away.

It drives the real commands only: ``gate hub`` makes a show and two tickets and serves
the API (``gate hub serve`` in its own process, heartbeat every second so the demo
need not wait); two gates enrol with one-time codes and pull the ledger, and each runs
its peer exchange (``gate peers run``, what ``gate run`` starts beside the lane). The
site's uplink goes down and both gates keep admitting: a copy of hana's code at the
second lane is refused at once, because the lanes tell each other their entries over
the venue's LAN (docs/peers.md), and the demo shows it as the steward's console does.
Then the LAN between the lanes fails too, and a copy of ivan's code gets in at both
(the double entry no gate alone can see); the hub comes back, both gates upload their
logs, the hub reports that double entry, and each gate learns the other's admissions.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from hub.served import ServedHub, free_port

from ..decision_text import local_time
from ..steward.reasons_text import reason_text
from .example import demo_signer, demo_ticket, live_code
from .shell import GATE, admit_shown, capture, shown

EVENT = "demo-hub"
GATES = ("north-1", "south-2")


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _peers(configs: dict[str, list[str]], directory: Path) -> list[subprocess.Popen[bytes]]:
    """Each gate's peer exchange in the background, as ``gate run`` starts it."""
    running = []
    for gate, config in configs.items():
        print(f"$ gate {' '.join(config)} peers run &   # what gate run starts beside the lane")
        log = (directory / f"{gate}-peers.log").open("ab")
        running.append(
            subprocess.Popen(
                [*GATE, *config, "peers", "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        )
        log.close()
    for gate in configs:  # serving once its log says so
        _wait(lambda g=gate: b"peers_started" in (directory / f"{g}-peers.log").read_bytes(), 20)
    return running


def _stop(running: list[subprocess.Popen[bytes]]) -> None:
    for proc in running:
        proc.terminate()
    for proc in running:
        proc.wait(10)


def _steward_sees(config: list[str], token: str, expected: str, within: float) -> int:
    """The decision at the gate of ``config`` as the steward's console shows it, once it
    is ``expected`` (or ``within`` seconds have passed); 1 when it is not."""
    decision: dict = {}
    _wait(
        lambda: (
            decision.update(json.loads(capture([*config, "check", token, "--json"])[1]))
            or decision.get("reason") == expected
        ),
        within,
    )
    decision = json.loads(capture([*config, "admit", token, "--json"])[1])
    words = reason_text(decision["reason"])
    verdict = "✔ ADMITTED" if decision["result"] == "admitted" else "✘ REFUSED"
    print(f"$ gate {' '.join(config)} admit '{token[:20]}…'")
    print(f"  steward's console: {verdict} — {words.banner}")
    if decision.get("first_device"):
        print(
            f"    first let in at {decision['first_device']}, "
            f"{local_time(decision.get('first_at'))}"
        )
    print(f"    {words.do}")
    if decision["reason"] != expected:
        print(f"  !! expected {expected}")
        return 1
    return 0


def run_hub_demo(directory: Path, now: int) -> int:
    """Run the hub part in ``directory``; the number of unexpected results."""
    try:
        import fastapi  # noqa: F401  (the hub extra)
        import uvicorn  # noqa: F401
    except ImportError:
        print(
            "\n(skipping the hub part: the hub extra is not installed; "
            "pip install 'gatehouse[hub]')"
        )
        return 0
    hub_dir = directory / "hub"
    h = ["hub", "--dir", str(hub_dir)]
    failures = 0
    print("\n==== part 2: two gates and a hub; the network goes down ====\n")
    code, text = shown([*h, "init"])
    ledger_key = text.split('"')[1]
    failures += code != 0
    failures += (
        shown(
            [
                *h,
                "event",
                EVENT,
                "Demo Night (two lanes)",
                "--starts",
                str(now),
                "--ends",
                str(now + 5 * 3600),
            ]
        )[0]
        != 0
    )
    for name in ("hana", "ivan"):
        holder = demo_signer(name).public_key.hex()
        failures += (
            shown(
                [
                    *h,
                    "issue",
                    "--event",
                    EVENT,
                    "--holder",
                    holder,
                    "--ticket",
                    demo_ticket(name),
                    "--from",
                    str(now - 3600),
                    "--until",
                    str(now + 6 * 3600),
                ]
            )[0]
            != 0
        )
    port = free_port()
    log = directory / "hub.log"
    print(f"$ gate hub --dir {hub_dir} serve --port {port} --heartbeat 1 &")
    served = ServedHub(hub_dir, port, log)
    configs: dict[str, list[str]] = {}
    peer_ports = {gate: free_port() for gate in GATES}
    peers: list[subprocess.Popen[bytes]] = []
    try:
        for gate in GATES:
            state = directory / gate
            state.mkdir(mode=0o700, exist_ok=True)
            config = directory / f"{gate}.toml"
            others = ", ".join(f'"http://127.0.0.1:{peer_ports[g]}"' for g in GATES if g != gate)
            config.write_text(
                f'device = "{gate}"\nledger_key = "{ledger_key}"\nstate_dir = "{gate}"\n'
                f'events = ["{EVENT}"]\n\n[hub]\nurl = "{served.url}"\n\n'
                f'[peers]\nlisten = "127.0.0.1:{peer_ports[gate]}"\nurls = [{others}]\n',
                encoding="utf-8",
            )
            configs[gate] = ["-c", str(config)]
            print(f"\n# {gate}: the technician enrols it with a one-time code")
            code, enrol_code = shown([*h, "enrol-code"])
            failures += code != 0
            failures += shown([*configs[gate], "enrol", enrol_code.strip()])[0] != 0
            failures += shown([*configs[gate], "sync", "once"])[0] != 0

        print("\n# the lanes start telling each other their entries over the venue's LAN")
        peers = _peers(configs, directory)

        print("\n# the site's uplink goes down: the hub is out of reach")
        served.stop()
        print("\n# hana comes in at north-1")
        failures += admit_shown(configs["north-1"], live_code("hana", int(time.time())), "ok")
        print("\n# a moment later hana's friend shows a copy of her code at south-2")
        failures += _steward_sees(
            configs["south-2"], live_code("hana", int(time.time())), "already_used", 2.0
        )
        print("\n# the LAN between the lanes fails too: each lane is on its own")
        _stop(peers)
        peers = []
        for what, gate in (
            ("ivan comes in at south-2", "south-2"),
            ("ivan's friend shows a copy of his code at north-1: no lane can know", "north-1"),
        ):
            print(f"\n# {what}")
            failures += admit_shown(configs[gate], live_code("ivan", int(time.time())), "ok")
        print("\n# north-1 cannot reach the hub; it keeps admitting and keeps its log")
        failures += shown([*configs["north-1"], "sync", "once"])[0] != 1
        shown([*configs["north-1"], "sync", "status"])

        print("\n# the network is back")
        print(f"$ gate hub --dir {hub_dir} serve --port {port} --heartbeat 1 &")
        served = ServedHub(hub_dir, port, log)
        for gate in GATES:
            failures += shown([*configs[gate], "sync", "once"])[0] != 0
        # The hub publishes the admissions as redeem events in its next block.
        published = _wait(
            lambda: capture([*h, "conflicts", "--json"])[1].strip() not in ("", "[]"), 15
        )
        print("\n# the hub sees ivan's ticket used at both lanes")
        code, _ = shown([*h, "conflicts"])
        failures += code != 1 or not published
        print("\n# north-1 learns what south-2 admitted while they were apart")
        failures += shown([*configs["north-1"], "sync", "once"])[0] != 0
        print("\n# hana's friend tries again, now at north-1")
        failures += admit_shown(
            configs["north-1"], live_code("hana", int(time.time())), "already_used"
        )
    finally:
        _stop(peers)
        served.stop()
    return failures
