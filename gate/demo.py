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


def _signer(name: str) -> Signer:
    return Signer(hashlib.sha256(f"gatehouse-demo:{name}".encode()).digest())


def _ticket(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"gatehouse-demo:{name}"))


def build_ledger(now: int) -> tuple[Signer, list[dict]]:
    """The example ledger: a show, seven tickets, a transfer, a refund, a heartbeat."""
    authority = _signer("authority")
    holders = {n: _signer(n).public_key.hex() for n in
               ("alice", "bob", "carol", "dave", "erin", "frank", "grace")}

    def issue(name: str, *, event: str = EVENT, zones: list[str] | None = None,
              label: str = "GA") -> dict:
        return {"op": "issue", "ticket": _ticket(name), "event": event,
                "holder": holders[name], "from": now - 3600, "until": now + 6 * 3600,
                "zones": zones or [], "entries": 1, "label": label}

    bodies = [
        [{"op": "event", "event": EVENT, "name": "Demo Night", "starts": now,
          "ends": now + 5 * 3600},
         {"op": "event", "event": "other-show", "name": "Another Show", "starts": now,
          "ends": now + 3600}],
        [issue("alice"), issue("bob"), issue("carol", zones=["south"], label="VIP"),
         issue("dave", event="other-show"), issue("erin"), issue("frank")],
        [{"op": "transfer", "ticket": _ticket("frank"), "holder": holders["grace"]},
         {"op": "revoke", "ticket": _ticket("erin"), "reason": "refund"}],
        [],
    ]
    blocks, prev = [], ZERO_HASH
    for height, events in enumerate(bodies):
        block = make_block(authority, height, prev, now - 7200 + 600 * height, events)
        prev = block_hash(block).hex()
        blocks.append(block)
    return authority, blocks


def _code(name: str, at: int, *, holder: str | None = None) -> str:
    return encode_token(_signer(holder or name), _ticket(name), step_of(at))


def _run(args: list[str]) -> int:
    print("$ gate " + shlex.join(args))
    code = cli.main(args)
    sys.stdout.flush()
    return code


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
    failures += _run([*c, "ledger", "apply", str(ledger)]) != 0
    failures += _run([*c, "ledger", "status"]) != 0

    scans = [
        ("alice shows her live code", _code("alice", now), "ok"),
        ("alice's code is scanned again", _code("alice", now), "already_used"),
        ("bob shows a screenshot from two minutes ago", _code("bob", now - 120),
         "expired_code"),
        ("bob refreshes his wallet", _code("bob", now), "ok"),
        ("frank shows the ticket he sold to grace", _code("frank", now), "transferred"),
        ("grace shows the ticket she bought", _code("frank", now, holder="grace"), "ok"),
        ("erin's ticket was refunded", _code("erin", now), "revoked"),
        ("dave has a ticket for another show", _code("dave", now), "wrong_event"),
        ("carol's VIP ticket is for the south zone", _code("carol", now), "wrong_zone"),
        ("someone forges a code for alice's ticket", _code("alice", now, holder="mallory"),
         "bad_signature"),
        ("a phone shows a web link", "https://example.com/t/123", "not_a_ticket"),
    ]
    for what, token, expected in scans:
        print(f"\n# {what}")
        print(f"$ gate -c {config} admit '{token[:20]}…'")
        out = io.StringIO()
        with redirect_stdout(out):
            cli.main([*c, "admit", token, "--json"])
        decision = Decision(**json.loads(out.getvalue()))
        print(cli.describe(decision))
        if decision.reason != expected:
            failures += 1
            print(f"  !! expected {expected}")

    print()
    export = directory / "records.jsonl"
    failures += _run([*c, "records", "export", str(export)]) != 0
    out = io.StringIO()
    with redirect_stdout(out):
        cli.main([*c, "device", "show", "--json"])
    key = bytes.fromhex(json.loads(out.getvalue())["public_key"])
    lines = export.read_text(encoding="utf-8").splitlines()
    count = verify_records(lines, key, device="demo-north-1")
    print(f"verified {count} signed records: hash chain from 64 zeros, no gaps, "
          f"device key {key.hex()[:16]}…")
    from .demo_hub import run_hub_demo  # after this module is whole: it passes helpers in
    failures += run_hub_demo(directory, now, _signer, _ticket, _code)
    print("\ndemo " + ("finished: every decision as expected" if not failures
                       else f"FAILED: {failures} unexpected result(s)"))
    return 0 if not failures else 1
