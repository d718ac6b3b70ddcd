"""``gate demo``'s first part: one gate, an example ledger, and a line of attendees.

It plays the ledger authority (signs a small ledger: a show, tickets, a transfer, a
refund), plays the attendees' wallets (makes their rotating codes at the current time),
writes a gate configuration, and then drives the real ``gate`` commands: apply the
ledger, admit a handful of codes, print every decision, export the signed record log
and verify it independently. Its second part (:mod:`gate.demo.hub_part`) runs two gates
against the reference hub through a network outage.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from verifier import verify_records

from .example import EVENT, build_ledger, live_code
from .hub_part import run_hub_demo
from .shell import admit_shown, capture, shown


def run_demo(directory: Path | None = None) -> int:
    """Run the demo in ``directory`` (a temporary one when None); 0 when all went as shown."""
    if directory is None:
        with tempfile.TemporaryDirectory(prefix="gatehouse-demo-") as tmp:
            return run_demo(Path(tmp))
    now = int(time.time())
    directory.mkdir(parents=True, exist_ok=True)
    state = directory / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    authority, blocks = build_ledger(now)
    ledger = directory / "ledger.jsonl"
    ledger.write_text(
        "".join(json.dumps(b, ensure_ascii=False) + "\n" for b in blocks), encoding="utf-8"
    )
    config = directory / "gate.toml"
    config.write_text(
        f'device = "demo-north-1"\nledger_key = "{authority.public_key.hex()}"\n'
        f'state_dir = "state"\nevents = ["{EVENT}"]\nzone = "north"\n',
        encoding="utf-8",
    )
    c = ["-c", str(config)]
    print(f"Gatehouse demo in {directory}: one gate, lane north, show {EVENT!r}\n")
    failures = 0
    failures += shown([*c, "ledger", "apply", str(ledger)])[0] != 0
    failures += shown([*c, "ledger", "status"])[0] != 0

    scans = [
        ("alice shows her live code", live_code("alice", now), "ok"),
        ("alice's code is scanned again", live_code("alice", now), "already_used"),
        (
            "bob shows a screenshot from two minutes ago",
            live_code("bob", now - 120),
            "expired_code",
        ),
        ("bob refreshes his wallet", live_code("bob", now), "ok"),
        ("frank shows the ticket he sold to grace", live_code("frank", now), "transferred"),
        ("grace shows the ticket she bought", live_code("frank", now, holder="grace"), "ok"),
        ("erin's ticket was refunded", live_code("erin", now), "revoked"),
        ("dave has a ticket for another show", live_code("dave", now), "wrong_event"),
        ("carol's VIP ticket is for the south zone", live_code("carol", now), "wrong_zone"),
        (
            "someone forges a code for alice's ticket",
            live_code("alice", now, holder="mallory"),
            "bad_signature",
        ),
        ("a phone shows a web link", "https://example.com/t/123", "not_a_ticket"),
    ]
    for what, token, expected in scans:
        print(f"\n# {what}")
        failures += admit_shown(c, token, expected)

    print()
    export = directory / "records.jsonl"
    failures += shown([*c, "records", "export", str(export)])[0] != 0
    key = bytes.fromhex(json.loads(capture([*c, "device", "show", "--json"])[1])["public_key"])
    lines = export.read_text(encoding="utf-8").splitlines()
    count = verify_records(lines, key, device="demo-north-1")
    print(
        f"verified {count} signed records: hash chain from 64 zeros, no gaps, "
        f"device key {key.hex()[:16]}…"
    )
    failures += run_hub_demo(directory, now)
    print(
        "\ndemo "
        + (
            "finished: every decision as expected"
            if not failures
            else f"FAILED: {failures} unexpected result(s)"
        )
    )
    return 0 if not failures else 1
