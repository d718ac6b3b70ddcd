"""``gate demo``'s second part: two gates, a reference hub, and a network that goes away.

It drives the real commands only: ``gate hub`` makes a show and two tickets and serves
the API (``gate hub serve`` in its own process, heartbeat every second so the demo
need not wait); two gates enrol with one-time codes and pull the ledger; the network
goes down and both gates keep admitting, one ticket at both of them (the double entry a
gate alone cannot see); the hub comes back, both gates upload their logs, the hub
reports the double entry, and each gate learns the other's admissions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from hub.served import ServedHub, free_port

from .example import demo_signer, demo_ticket, live_code
from .shell import admit_shown, capture, shown

EVENT = "demo-hub"
GATES = ("north-1", "south-2")


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


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
    try:
        for gate in GATES:
            state = directory / gate
            state.mkdir(mode=0o700, exist_ok=True)
            config = directory / f"{gate}.toml"
            config.write_text(
                f'device = "{gate}"\nledger_key = "{ledger_key}"\nstate_dir = "{gate}"\n'
                f'events = ["{EVENT}"]\n\n[hub]\nurl = "{served.url}"\n',
                encoding="utf-8",
            )
            configs[gate] = ["-c", str(config)]
            print(f"\n# {gate}: the technician enrols it with a one-time code")
            code, enrol_code = shown([*h, "enrol-code"])
            failures += code != 0
            failures += shown([*configs[gate], "enrol", enrol_code.strip()])[0] != 0
            failures += shown([*configs[gate], "sync", "once"])[0] != 0

        print("\n# the site's network goes down")
        served.stop()
        for what, gate, name in (
            ("hana comes in at north-1", "north-1", "hana"),
            ("hana's friend shows a copy of her code at south-2", "south-2", "hana"),
            ("ivan comes in at south-2", "south-2", "ivan"),
        ):
            print(f"\n# {what}")
            failures += admit_shown(configs[gate], live_code(name, int(time.time())), "ok")
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
        print("\n# the hub sees hana's ticket used at both lanes")
        code, _ = shown([*h, "conflicts"])
        failures += code != 1 or not published
        print("\n# north-1 learns what south-2 admitted while they were apart")
        failures += shown([*configs["north-1"], "sync", "once"])[0] != 0
        print("\n# ivan tries to come in again at north-1")
        failures += admit_shown(
            configs["north-1"], live_code("ivan", int(time.time())), "already_used"
        )
    finally:
        served.stop()
    return failures
