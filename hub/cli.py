"""``gate hub …``: the operator's commands for the reference hub (the ``hub`` extra).

The gate's command line hands everything after ``hub`` to :func:`main` and imports
this module only then, so no other ``gate`` command loads the hub. Errors other than a
refused block propagate to that caller, which prints and maps them as for every
``gate`` command (one line on stderr; exit 2 for usage and configuration, 3 for a
damaged database or key).

Enough to run a show end to end without any other backend: create the hub, define a
show, issue tickets one by one or from a CSV file, transfer and revoke them, make test
wallets, hand out enrolment codes, serve the API, take a gate's records from a USB
stick, list double entries, and make the operator's token for reading the ledger and
the conflicts over HTTP. Every command works on the hub directory given by
``--dir`` or ``$GATEHOUSE_HUB_DIR``; issuing while ``gate hub serve`` runs is safe (a
block appended concurrently by the server's heartbeat is built upon, not overwritten).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any, NoReturn

from errors import BlockRejected, ConfigError, HubRefusal
from sync.request_auth import canonical_hex
from verifier.key_fingerprint import key_fingerprint
from verifier.keys import Signer
from verifier.token import encode_token, step_of

from .service import Hub

ENV_DIR = "GATEHOUSE_HUB_DIR"
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, as every other ``gate`` usage error does."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"gate: {message} (see gate hub --help)\n")


def build_parser() -> argparse.ArgumentParser:
    hub = _Parser(
        prog="gate hub", description="The reference hub: ledger authority and record intake."
    )
    hub.add_argument("--dir", metavar="DIR", help=f"hub directory (default ${ENV_DIR})")
    hsub = hub.add_subparsers(dest="hub_command", required=True, parser_class=_Parser)

    p = hsub.add_parser("init", help="create the hub directory and its ledger key")
    p = hsub.add_parser("serve", help="serve the hub API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--heartbeat", type=float, default=10.0, help="seconds between heartbeats")
    p = hsub.add_parser("event", help="define or update a show")
    p.add_argument("event")
    p.add_argument("name")
    p.add_argument("--starts", type=int, required=True)
    p.add_argument("--ends", type=int, required=True)
    p = hsub.add_parser("issue", help="issue one ticket")
    _ticket_options(p)
    p = hsub.add_parser("import", help="issue tickets from a CSV file")
    p.add_argument(
        "csv",
        metavar="CSV",
        help="columns: event,holder,from,until[,zones,"
        "entries,label,ticket]; zones separated by ';'",
    )
    p = hsub.add_parser("transfer", help="give a ticket to a new holder key")
    p.add_argument("ticket")
    p.add_argument("holder")
    p = hsub.add_parser("revoke", help="revoke a ticket (refund, fraud)")
    p.add_argument("ticket")
    p.add_argument("reason")
    p = hsub.add_parser("wallet", help="a new test attendee's wallet key")
    p.add_argument("action", choices=["new", "code"])
    p.add_argument("--seed", help="(code) the wallet's seed in hex")
    p.add_argument("--ticket", help="(code) the ticket id")
    p = hsub.add_parser(
        "operator-token",
        help="a new bearer token for reading /v1/blocks and /v1/conflicts over HTTP "
        "(replaces the previous one)",
    )
    p.add_argument("--revoke", action="store_true", help="withdraw the token, make none")
    p = hsub.add_parser("enrol-code", help="a one-time code to enrol a gate")
    p.add_argument("--ttl", type=int, default=3600, help="seconds it stays valid")
    p = hsub.add_parser(
        "register",
        help="enrol a gate by hand (sites without a network): "
        "its id and the public key `gate device show` prints",
    )
    p.add_argument("device")
    p.add_argument("public_key")
    p = hsub.add_parser("revoke-device", help="stop accepting a gate's records")
    p.add_argument("device")
    p = hsub.add_parser("conflicts", help="tickets admitted more often than their entries")
    p.add_argument("--json", action="store_true")
    p = hsub.add_parser("records", help="records brought on a USB stick")
    p.add_argument("action", choices=["import"])
    p.add_argument("file", metavar="FILE", help="a gate's `gate records export` file")
    return hub


def main(argv: list[str]) -> int:
    """``gate hub ARGV…``: the exit status (argparse exits 2 itself on a usage error)."""
    return run_hub(build_parser().parse_args(argv))


def _ticket_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--event", required=True)
    p.add_argument("--holder", required=True, help="holder public key, 64 hex")
    p.add_argument("--ticket", help="ticket id (default: a new UUID)")
    p.add_argument("--from", dest="valid_from", type=int, required=True)
    p.add_argument("--until", type=int, required=True)
    p.add_argument("--zones", default="", help="comma-separated; empty: any zone")
    p.add_argument("--entries", type=int, default=1)
    p.add_argument("--label", default="GA")


def _hub_dir(args: argparse.Namespace) -> Path:
    chosen = args.dir or os.environ.get(ENV_DIR)
    if not chosen:
        raise ConfigError(f"no hub directory: pass --dir DIR or set {ENV_DIR}")
    return Path(chosen)


def _issue_event(
    event: str,
    holder: str,
    valid_from: int,
    until: int,
    zones: list[str],
    entries: int,
    label: str,
    ticket: str | None,
) -> dict[str, Any]:
    return {
        "op": "issue",
        "ticket": ticket or str(uuid.uuid4()),
        "event": event,
        "holder": holder.lower(),
        "from": valid_from,
        "until": until,
        "zones": zones,
        "entries": entries,
        "label": label,
    }


def _csv_events(path: Path) -> list[dict[str, Any]]:
    events = []
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                zones = [z for z in (row.get("zones") or "").split(";") if z]
                events.append(
                    _issue_event(
                        row["event"],
                        row["holder"],
                        int(row["from"]),
                        int(row["until"]),
                        zones,
                        int(row.get("entries") or 1),
                        row.get("label") or "GA",
                        row.get("ticket") or None,
                    )
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise ConfigError(
                    f"{path}:{line}: {exc!s} (columns: event,holder,from,until,"
                    "zones,entries,label,ticket)"
                ) from None
    return events


def run_hub(args: argparse.Namespace) -> int:
    now = int(time.time())
    command = args.hub_command
    if command == "wallet":
        return _wallet(args, now)
    hub_dir = _hub_dir(args)
    if command == "init":
        hub_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if command == "serve":
        import uvicorn  # the hub extra's server: only for `gate hub serve`

        from .api import create_app

        uvicorn.run(
            create_app(hub_dir, heartbeat=args.heartbeat),
            host=args.host,
            port=args.port,
            log_level="info",
        )
        return 0
    hub = Hub(hub_dir, now=now)
    try:
        return _run(hub, args, now)
    except BlockRejected as exc:
        print(f"gate hub: refused, nothing signed: {exc}", file=sys.stderr)
        return 1
    finally:
        hub.close()


def _run(hub: Hub, args: argparse.Namespace, now: int) -> int:
    command = args.hub_command
    authority = hub.authority
    if command == "init":
        print(f'hub ready; ledger_key = "{authority.public_key.hex()}"')
        print(f"ledger key fingerprint: {key_fingerprint(authority.public_key)}")
        return 0
    events: list[dict[str, Any]] = []
    if command == "event":
        events = [
            {
                "op": "event",
                "event": args.event,
                "name": args.name,
                "starts": args.starts,
                "ends": args.ends,
            }
        ]
    elif command == "issue":
        zones = [z for z in args.zones.split(",") if z]
        events = [
            _issue_event(
                args.event,
                args.holder,
                args.valid_from,
                args.until,
                zones,
                args.entries,
                args.label,
                args.ticket,
            )
        ]
    elif command == "import":
        events = _csv_events(Path(args.csv))
    elif command == "transfer":
        events = [{"op": "transfer", "ticket": args.ticket, "holder": args.holder.lower()}]
    elif command == "revoke":
        events = [{"op": "revoke", "ticket": args.ticket, "reason": args.reason}]
    if events:
        blocks = authority.publish(events, now)
        tickets = [e["ticket"] for e in events if e["op"] == "issue"]
        heights = (
            f"{blocks[0]['height']}"
            if len(blocks) == 1
            else f"s {blocks[0]['height']}-{blocks[-1]['height']}"
        )
        print(f"block{heights} signed with {len(events)} event(s)")
        for ticket in tickets[:20]:
            print(f"ticket {ticket}")
        return 0
    if command == "operator-token":
        if args.revoke:
            had = hub.drop_operator_token()
            print("operator token withdrawn" if had else "there was no operator token")
            return 0
        print(hub.new_operator_token(now), flush=True)
        print(
            "shown once (the hub keeps only its hash); any earlier token no longer works. "
            "Send it as: Authorization: Bearer TOKEN",
            file=sys.stderr,
        )
        return 0
    if command == "enrol-code":
        print(hub.enrol_code(now, args.ttl), flush=True)
        print(
            f"valid {args.ttl} s; on the unit: gate provision --code CODE "
            f"--ledger-key-fingerprint {key_fingerprint(hub.authority.public_key)} ...",
            file=sys.stderr,
        )
    elif command == "register":
        public_key = canonical_hex(args.public_key, 32)
        if public_key is None:
            raise ConfigError(
                f"device {args.device}: the public key must be 64 lower-case hex digits, "
                "as `gate device show` prints it"
            )
        try:
            hub.register_device(args.device, public_key, now)
        except HubRefusal as exc:  # enrolled with another key
            raise ConfigError(f"device {args.device}: {exc}") from None
        print(f"device {args.device} enrolled")
    elif command == "revoke-device":
        hub.revoke_device(args.device, now)
        print(f"device {args.device} revoked")
    elif command == "conflicts":
        found = hub.conflicts()
        if args.json:
            print(
                json.dumps(
                    [
                        {
                            "ticket": c.ticket,
                            "entries": c.entries,
                            "admissions": [
                                {"device": d, "seq": s, "at": a} for d, s, a in c.admissions
                            ],
                        }
                        for c in found
                    ]
                )
            )
        for c in [] if args.json else found:
            where = ", ".join(f"{d}#{s}" for d, s, _ in c.admissions)
            print(
                f"ticket {c.ticket}: {len(c.admissions)} admissions for {c.entries} "
                f"entr{'y' if c.entries == 1 else 'ies'} ({where})"
            )
        return 0 if not found else 1
    elif command == "records":
        return _import_records(hub, Path(args.file), now)
    return 0


def _import_records(hub: Hub, path: Path, now: int) -> int:
    """A gate's export brought by hand: the same idempotence as the API."""
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read records: {exc}") from None
    if not lines:
        print(f"{path}: no records")
        return 0
    try:
        device = json.loads(lines[0])["device"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{path}:1: not a record") from None
    result = hub.records(device, lines, now)
    print(
        f"{device}: {result.accepted} new, {result.duplicates} already held, held through "
        f"seq {result.acked}"
    )
    if result.error:
        print(f"gate hub: refused: {result.error}", file=sys.stderr)
        return 1
    return 0


def _wallet(args: argparse.Namespace, now: int) -> int:
    if args.action == "new":
        seed = os.urandom(32)
        print(json.dumps({"seed": seed.hex(), "holder": Signer(seed).public_key.hex()}))
        return 0
    if not args.seed or not args.ticket:
        raise ConfigError("gate hub wallet code needs --seed and --ticket")
    print(encode_token(bytes.fromhex(args.seed), args.ticket, step_of(now)))
    return 0
