"""The hub exchange from the command line: ``gate enrol`` and ``gate sync once|status|run``.

``sync run`` is the daemon's sync child (``gate.sync_worker``), a process of its own
so a long catch-up never stalls the lane; ``once`` and ``status`` are for a technician.
``status`` exits 1 when an alarm is raised, with the same alarms the worker logs
(``gate.sync_health``), and ``clock_behind`` when the clock is below the newest time
the gate can prove (which the lane raises in the daemon).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import closing
from typing import TYPE_CHECKING, Any

from errors import ConfigError, SyncError

from ..assembly import open_checkpoint
from ..config import GateConfig
from ..sync_health import clock_alarms, health_alarms
from .base import EXIT_OK, EXIT_REJECTED, add_child_limits, add_group

if TYPE_CHECKING:
    from sync.client import HubClient
    from verifier import Checkpoint


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("enrol", parents=[common], help="enrol this gate with the hub")
    p.add_argument("code", metavar="CODE", help="the one-time code from the hub operator")
    p.set_defaults(handler=cmd_enrol)

    ssub = add_group(sub, common, "sync", "exchange with the hub")
    p = ssub.add_parser("once", parents=[common], help="pull blocks, push records, once")
    p.set_defaults(handler=cmd_sync)
    p = ssub.add_parser("status", parents=[common], help="ledger age, clock offset, backlog")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_sync)
    p = ssub.add_parser(
        "run", parents=[common], help="sync every few seconds until SIGTERM (gate run starts it)"
    )
    p.add_argument(
        "--interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between rounds (default 5)",
    )
    add_child_limits(p, idle_io=True)
    p.set_defaults(handler=cmd_sync_run)


def _hub_client(cfg: GateConfig, cp: Checkpoint) -> HubClient:
    from sync.client import HubClient

    if not cfg.lane.hub:
        raise ConfigError(f"{cfg.path}: missing required key 'hub.url' (where the hub is)")
    return HubClient(cfg.lane.hub, cp, batch=cfg.lane.hub_batch)


def cmd_enrol(cfg: GateConfig, args: argparse.Namespace) -> int:
    with closing(open_checkpoint(cfg)) as cp:
        try:
            reply = _hub_client(cfg, cp).enrol(args.code)
        except SyncError as exc:
            print(f"gate: {exc}", file=sys.stderr)
            return EXIT_REJECTED
    if reply.get("ledger_key") != cfg.ledger_key.hex():
        print(
            f"gate: enrolled, but the hub's ledger key {reply.get('ledger_key')} is not the "
            f"configured ledger_key; fix {cfg.path}",
            file=sys.stderr,
        )
        return EXIT_REJECTED
    print(f"enrolled {cfg.device} with {cfg.lane.hub}")
    return EXIT_OK


def cmd_sync(cfg: GateConfig, args: argparse.Namespace) -> int:
    with closing(open_checkpoint(cfg)) as cp:
        client = _hub_client(cfg, cp)
        if args.sync_command == "status":
            from verifier import clock_state

            now = int(time.time())
            info = client.health(now)
            clock = clock_state(now, cp.time_floor(), cfg.policy.clock_tolerance)
            info["time_floor"] = clock.floor.at
            info["time_floor_source"] = clock.floor.source
            info["clock_behind"] = clock.behind_s if clock.behind else 0
            alarms = info["alarms"] = health_alarms(info, cfg.lane) + clock_alarms(clock)
            if clock.behind:
                print(f"gate: {clock.words()}", file=sys.stderr)
            print(
                json.dumps(info) if args.json else "\n".join(f"{k}: {v}" for k, v in info.items())
            )
            return EXIT_OK if not alarms else EXIT_REJECTED
        try:
            pulled, pushed = client.exchange(int(time.time()))
        except SyncError as exc:
            print(f"gate: {exc}", file=sys.stderr)
            return EXIT_REJECTED
        print(
            f"pulled {pulled.applied} block(s), height {pulled.height}; pushed "
            f"{pushed.sent} record(s), acknowledged through seq {pushed.acked}"
        )
        for problem in (pulled.error, pushed.error):
            if problem:
                print(f"gate: {problem}", file=sys.stderr)
        return EXIT_OK if not (pulled.error or pushed.error) else EXIT_REJECTED


def cmd_sync_run(cfg: GateConfig, args: argparse.Namespace) -> int:
    """The sync loop as its own process: one JSON line per event on stdout."""
    from ..events import emit_json
    from ..process_limits import limit_child
    from ..stop_signal import Stop
    from ..sync_worker import run_sync_loop

    if not cfg.lane.hub:
        raise ConfigError(f"{cfg.path}: missing required key 'hub.url' (where the hub is)")
    if args.interval <= 0:
        raise ConfigError(f"--interval must be more than 0 seconds, not {args.interval}")
    if args.max_data_mb < 0:
        raise ConfigError(f"--max-data-mb must be 0 or more, not {args.max_data_mb}")
    # Limits first, before the state and the network: what the lane must never lose.
    limit_child(
        "gate sync run",
        nice=args.nice,
        idle_io=args.idle_io,
        max_data_mb=args.max_data_mb,
        emit=emit_json,
    )
    stop = Stop()
    stop.install()
    run_sync_loop(cfg, emit_json, stop.event, interval=args.interval)
    return EXIT_OK
