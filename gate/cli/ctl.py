"""``gate ctl``: talk to the running lane daemon over its control socket (docs/control.md).

``status``, ``watch``, ``open-once``, ``mode`` and ``lookup``, one line of text each (a
line per event for ``watch``, a few for ``status``) or ``--json``. Exit codes: 0 done,
1 refused by the daemon (no steward name or reason, a ticket not on the ledger, the
socket refusing this user), 2 usage, 4 the daemon is not running (the message names the
socket). Only the configuration and the standard-library client are loaded: a
technician types these at a running lane, and nothing here may load the camera stack or
open the state the daemon holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from errors import DaemonNotRunning, InvalidArgument, Refused

from ..config import GateConfig
from ..control_client import ControlClient
from .base import EXIT_NOT_RUNNING, EXIT_OK, EXIT_REJECTED, EXIT_USAGE, add_group

MODES = ("normal", "closed", "free")


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    ctl = add_group(sub, common, "ctl", "talk to the running lane (its control socket)")
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", help="the result as JSON")
    steward = argparse.ArgumentParser(add_help=False)
    steward.add_argument("--as", dest="by", default="", metavar="NAME", help="your name")
    steward.add_argument("--reason", default="", metavar="TEXT", help="why (kept in the log)")

    p = ctl.add_parser("status", parents=[common, json_flag], help="mode, counters, health")
    p.set_defaults(handler=cmd_status)
    p = ctl.add_parser("watch", parents=[common, json_flag], help="every event, until Ctrl-C")
    p.set_defaults(handler=cmd_watch)
    p = ctl.add_parser(
        "open-once", parents=[common, steward, json_flag], help="let one person through"
    )
    p.add_argument("--ticket", metavar="ID|LABEL", help="the ticket it counts for (optional)")
    p.set_defaults(handler=cmd_open_once)
    p = ctl.add_parser("mode", parents=[common, steward, json_flag], help="normal, closed, free")
    p.add_argument("mode", choices=MODES)
    p.set_defaults(handler=cmd_mode)
    p = ctl.add_parser("lookup", parents=[common, json_flag], help="a ticket by id or label")
    p.add_argument("query", metavar="TICKET-ID|LABEL")
    p.set_defaults(handler=cmd_lookup)


def _failed(exc: DaemonNotRunning | Refused | InvalidArgument) -> int:
    """Say why the daemon did not do it, and the exit code that means so."""
    if isinstance(exc, Refused):
        print(f"gate: refused: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    print(f"gate: {exc}", file=sys.stderr)
    return EXIT_NOT_RUNNING if isinstance(exc, DaemonNotRunning) else EXIT_USAGE


def _talk(cfg: GateConfig, args: argparse.Namespace, cmd: str, **request: Any) -> int:
    """One request; print its result; map the daemon's answers to exit codes."""
    try:
        with ControlClient(cfg.control.socket) as client:
            result = client.request(cmd, **request)
    except (DaemonNotRunning, Refused, InvalidArgument) as exc:
        return _failed(exc)
    print(json.dumps(result, ensure_ascii=False) if args.json else describe(cmd, result))
    return EXIT_OK


def cmd_status(cfg: GateConfig, args: argparse.Namespace) -> int:
    return _talk(cfg, args, "status")


def cmd_open_once(cfg: GateConfig, args: argparse.Namespace) -> int:
    extra = {"ticket": args.ticket} if args.ticket else {}
    return _talk(cfg, args, "open_once", **{"as": args.by}, reason=args.reason, **extra)


def cmd_mode(cfg: GateConfig, args: argparse.Namespace) -> int:
    return _talk(cfg, args, "mode", mode=args.mode, **{"as": args.by}, reason=args.reason)


def cmd_lookup(cfg: GateConfig, args: argparse.Namespace) -> int:
    return _talk(cfg, args, "lookup", query=args.query)


def cmd_watch(cfg: GateConfig, args: argparse.Namespace) -> int:
    try:
        with ControlClient(cfg.control.socket) as client:
            client.watch()
            for event in client.events():
                print(json.dumps(event, ensure_ascii=False) if args.json else line_of(event))
                sys.stdout.flush()
    except (DaemonNotRunning, Refused, InvalidArgument) as exc:
        return _failed(exc)
    print(f"gate: {cfg.control.socket}: the daemon closed the connection", file=sys.stderr)
    return EXIT_NOT_RUNNING


# -- in words ----------------------------------------------------------------------------


def _clock(unix: Any) -> str:
    return datetime.fromtimestamp(unix).strftime("%H:%M:%S") if isinstance(unix, int) else "?"


def _short(ticket: Any) -> str:
    return f"{ticket[:8]}…" if isinstance(ticket, str) else "no ticket"


def _words(reason: str) -> str:
    from verifier.reasons import WORDS  # plain words for a steward; no state, no crypto

    return WORDS.get(reason, reason)


def describe(cmd: str, result: dict[str, Any]) -> str:
    if cmd == "status":
        return status_lines(result)
    if cmd == "open_once":
        return f"opened once: record {result['seq']} ({_short(result.get('ticket'))})"
    if cmd == "mode":
        return f"lane mode {result['mode']} (was {result['previous']})"
    if cmd == "lookup":
        tickets = result.get("tickets", [])
        return "\n".join(ticket_line(t) for t in tickets) or "no ticket matches"
    return json.dumps(result, ensure_ascii=False)


def status_lines(s: dict[str, Any]) -> str:
    c, h = s["counters"], s["health"]
    refused = ", ".join(f"{r} {n}" for r, n in sorted(c["refused_by_reason"].items()))
    by_hand = f" ({c['overrides']} by hand)" if c.get("overrides") else ""
    age = "no block yet" if h["ledger_age"] is None else f"{h['ledger_age']} s old"
    clock = "" if h["clock_offset"] is None else f", clock {h['clock_offset']:+} s"
    if h.get("clock_behind"):  # a daemon older than the time floor sends no such key
        clock += f", clock {h['clock_behind']} s BEHIND what the gate can prove"
    fps = "?" if h["camera_fps"] is None else f"{h['camera_fps']}"
    alarms = "; ".join(
        f"{a['alarm']} since {_clock(a['since'])}" + (f" ({a['detail']})" if a["detail"] else "")
        for a in s["alarms"]
    )
    return "\n".join(
        [
            f"{s['device']} {s['mode']}: {c['admitted']} admitted{by_hand}, {c['refused']} "
            f"refused{f' ({refused})' if refused else ''}, {c['voided']} voided, "
            f"{c['entries_per_minute']} entries/min",
            f"health: ledger height {h['ledger_height']}, {age}; hub {h['hub'] or '?'}{clock}; "
            f"upload backlog {h['upload_backlog']}; camera {fps} fps ({h['decoder']}); "
            f"relay {h['relay']}",
            f"alarms: {alarms or 'none'}",
        ]
    )


def ticket_line(t: dict[str, Any]) -> str:
    parts = [
        f"{t['ticket']} {t['label']} ({t['event']}): {t['used']} of {t['entries']} used, "
        f"{t['left']} left",
        f"valid {_clock(t['valid_from'])}-{_clock(t['until'])}",
        f"zones {','.join(t['zones']) or 'any'}",
        f"holder {t['holder']}",
    ]
    parts += [f"transferred from {x['from']} at height {x['height']}" for x in t["transfers"]]
    if t["revoked"] is not None:
        parts.append(f"REVOKED: {t['revoked']}")
    parts += [f"admitted at {a['device']} #{a['seq']} {_clock(a['at'])}" for a in t["admissions"]]
    return "; ".join(parts)


def line_of(e: dict[str, Any]) -> str:
    """One event in words, for ``gate ctl watch``."""
    kind, at = e.get("type"), _clock(e.get("time"))
    if kind == "decision":
        verdict = "ADMITTED" if e.get("result") == "admitted" else "REFUSED"
        who = f"{e.get('label') or '?'} {_short(e.get('ticket'))}" if e.get("ticket") else ""
        why = _words(str(e.get("reason")))
        if e.get("first_device"):
            why += f", first at {e['first_device']} {_clock(e.get('first_at'))}"
        return f"{at} {verdict} {who}: {why} (record {e.get('seq')}, {e.get('latency_ms')} ms)"
    if kind == "status":
        c, h = e["counters"], e["health"]
        return (
            f"{at} status: {e['mode']}, {c['admitted']} admitted, {c['refused']} refused, "
            f"ledger {h['ledger_height']}, hub {h['hub'] or '?'}, relay {h['relay']}, "
            f"{len(e['alarms'])} alarm(s)"
        )
    if kind == "alarm":
        return f"{at} ALARM {e.get('alarm')}: {e.get('detail') or ''}"
    if kind == "alarm_cleared":
        return f"{at} alarm cleared: {e.get('alarm')}"
    if kind == "mode":
        who = f"by {e.get('by')}: {e.get('reason')}"
        return f"{at} MODE {e.get('mode')} (was {e.get('previous')}) {who}"
    if kind == "override":
        return (
            f"{at} OPENED ONCE by {e.get('by')}: {e.get('reason')} "
            f"(record {e.get('seq')}, {_short(e.get('ticket'))})"
        )
    if kind == "voided":
        return f"{at} VOIDED record {e.get('seq')} ({_short(e.get('ticket'))}): nobody passed"
    if kind == "dropped":
        return f"{at} ... {e.get('count')} events missed (this terminal was not reading)"
    return json.dumps(e, ensure_ascii=False)
