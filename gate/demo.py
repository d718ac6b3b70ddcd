"""``gate demo``: a short end-to-end run over an example ledger, for the README's Quick start.

It plays the ledger authority (signs a small ledger: a show, tickets, a transfer, a
refund), plays the attendees' wallets (makes their rotating codes at the current time),
writes a gate configuration, and then drives the real ``gate`` commands: apply the
ledger, admit a handful of codes, print every decision, export the signed record log
and verify it independently. Its second part (gate/demo_hub.py) runs two gates against
the reference hub through a network outage. Keys are derived from fixed names, so every
run makes the same ledger apart from its times.
"""

from __future__ import annotations

import hashlib
import io
import json
import shlex
import sys
import tempfile
import time
import uuid
from contextlib import redirect_stdout
from pathlib import Path

from verifier import Decision, Signer, encode_token, make_block, step_of, verify_records
from verifier.blocks import ZERO_HASH, block_hash

from . import cli

EVENT = "demo-night"


def demo_signer(name: str) -> Signer:
    return Signer(hashlib.sha256(f"gatehouse-demo:{name}".encode()).digest())


def demo_ticket(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"gatehouse-demo:{name}"))


def build_ledger(now: int) -> tuple[Signer, list[dict]]:
    """The example ledger: a show, seven tickets, a transfer, a refund, a heartbeat."""
    authority = demo_signer("authority")
    holders = {n: demo_signer(n).public_key.hex() for n in
               ("alice", "bob", "carol", "dave", "erin", "frank", "grace")}

    def issue(name: str, *, event: str = EVENT, zones: list[str] | None = None,
              label: str = "GA") -> dict:
        return {"op": "issue", "ticket": demo_ticket(name), "event": event,
                "holder": holders[name], "from": now - 3600, "until": now + 6 * 3600,
                "zones": zones or [], "entries": 1, "label": label}

    bodies = [
        [{"op": "event", "event": EVENT, "name": "Demo Night", "starts": now,
          "ends": now + 5 * 3600},
         {"op": "event", "event": "other-show", "name": "Another Show", "starts": now,
          "ends": now + 3600}],
        [issue("alice"), issue("bob"), issue("carol", zones=["south"], label="VIP"),
         issue("dave", event="other-show"), issue("erin"), issue("frank")],
        [{"op": "transfer", "ticket": demo_ticket("frank"), "holder": holders["grace"]},
         {"op": "revoke", "ticket": demo_ticket("erin"), "reason": "refund"}],
        [],
    ]
    blocks, prev = [], ZERO_HASH
    for height, events in enumerate(bodies):
        block = make_block(authority, height, prev, now - 7200 + 600 * height, events)
        prev = block_hash(block).hex()
        blocks.append(block)
    return authority, blocks


def live_code(name: str, at: int, *, holder: str | None = None) -> str:
    return encode_token(demo_signer(holder or name), demo_ticket(name), step_of(at))


def capture(args: list[str]) -> tuple[int, str]:
    """``gate ARGS`` in this process; its exit code and what it printed."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(args)
    return code, out.getvalue()


def shown(args: list[str]) -> tuple[int, str]:
    """``gate ARGS`` as a person would type it, with its output."""
    print("$ gate " + shlex.join(args))
    code, text = capture(args)
    print(text, end="")
    sys.stdout.flush()
    return code, text


def admit_shown(config: list[str], token: str, expected: str) -> int:
    """Admit ``token`` at the gate of ``config`` (``["-c", FILE]``) and say the decision in
    words; 1 when its reason is not ``expected``."""
    print(f"$ gate {' '.join(config)} admit '{token[:20]}…'")
    _, text = capture([*config, "admit", token, "--json"])
    decision = Decision(**json.loads(text))
    print(cli.describe(decision))
    if decision.reason != expected:
        print(f"  !! expected {expected}")
        return 1
    return 0


def run_demo(directory: Path | None = None) -> int:
    """Run the demo in ``directory`` (a temporary one when None); 0 when all went as shown."""
    if directory is None:
        with tempfile.TemporaryDirectory(prefix="gatehouse-demo-") as tmp:
            return run_demo(Path(tmp))
    now = int(time.time())
    directory.mkdir(parents=True, exist_ok=True)
    state = directory / "state"
    state.mkdir(exist_ok=True)
    authority, blocks = build_ledger(now)
    ledger = directory / "ledger.jsonl"
    ledger.write_text("".join(json.dumps(b, ensure_ascii=False) + "\n" for b in blocks),
                      encoding="utf-8")
    config = directory / "gate.toml"
    config.write_text(
        f'device = "demo-north-1"\nledger_key = "{authority.public_key.hex()}"\n'
        f'state_dir = "state"\nevents = ["{EVENT}"]\nzone = "north"\n', encoding="utf-8")
    c = ["-c", str(config)]
    print(f"Gatehouse demo in {directory}: one gate, lane north, show {EVENT!r}\n")
    failures = 0
    failures += shown([*c, "ledger", "apply", str(ledger)])[0] != 0
    failures += shown([*c, "ledger", "status"])[0] != 0

    scans = [
        ("alice shows her live code", live_code("alice", now), "ok"),
        ("alice's code is scanned again", live_code("alice", now), "already_used"),
        ("bob shows a screenshot from two minutes ago", live_code("bob", now - 120),
         "expired_code"),
        ("bob refreshes his wallet", live_code("bob", now), "ok"),
        ("frank shows the ticket he sold to grace", live_code("frank", now), "transferred"),
        ("grace shows the ticket she bought", live_code("frank", now, holder="grace"), "ok"),
        ("erin's ticket was refunded", live_code("erin", now), "revoked"),
        ("dave has a ticket for another show", live_code("dave", now), "wrong_event"),
        ("carol's VIP ticket is for the south zone", live_code("carol", now), "wrong_zone"),
        ("someone forges a code for alice's ticket", live_code("alice", now, holder="mallory"),
         "bad_signature"),
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
    print(f"verified {count} signed records: hash chain from 64 zeros, no gaps, "
          f"device key {key.hex()[:16]}…")
    from .demo_hub import run_hub_demo  # it imports this module's helpers
    failures += run_hub_demo(directory, now)
    print("\ndemo " + ("finished: every decision as expected" if not failures
                       else f"FAILED: {failures} unexpected result(s)"))
    return 0 if not failures else 1
