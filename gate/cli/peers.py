"""The peer exchange from the command line: ``gate peers status|run`` (docs/peers.md).

``peers run`` is the daemon's peer child (:mod:`gate.peer_worker`); ``status`` is for a
technician: each peer, when it last answered, what it lacks, and any fork. It exits 1
when a fork is held or a peer has not answered for a minute.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from errors import ConfigError

from ..config import GateConfig
from .base import EXIT_OK, EXIT_REJECTED, add_child_limits, add_group

#: A peer silent this long makes ``gate peers status`` exit 1.
SILENT_S = 60


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    psub = add_group(sub, common, "peers", "the exchange with the other lanes (LAN)")
    p = psub.add_parser("status", parents=[common], help="each peer, last contact, lag, forks")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_peers_status)
    p = psub.add_parser(
        "run", parents=[common], help="serve the peer port and exchange (gate run starts it)"
    )
    add_child_limits(p, idle_io=False)
    p.set_defaults(handler=cmd_peers_run)


def _need_peers(cfg: GateConfig) -> None:
    if cfg.peers is None:
        raise ConfigError(
            f'{cfg.path}: missing section [peers] (listen = "HOST:PORT"; see docs/peers.md)'
        )


def cmd_peers_status(cfg: GateConfig, args: argparse.Namespace) -> int:
    from ..peer_worker import status_of

    now = int(time.time())
    info = status_of(cfg, now)
    silent = [
        p["url"] for p in info["peers"] if p["contact_age"] is None or p["contact_age"] > SILENT_S
    ]
    if args.json:
        print(json.dumps(info))
    else:
        print(f"device {info['device']}, peer port {info['listen'] or 'not configured'}")
        held = info["held"]
        print(
            "records held: "
            + (", ".join(f"{d} {seq}" for d, seq in sorted(held.items())) or "none")
        )
        if not info["peers"]:
            print("peers: none on record (is gate run serving [peers]?)")
        for p in info["peers"]:
            seen = "never" if p["contact_age"] is None else f"{p['contact_age']} s ago"
            lacks = sum(p["lacks"].values())
            ahead = sum(p["ahead"].values())
            name = f" ({p['device']})" if p["device"] else ""
            line = f"{p['url']}{name} [{p['source']}]: last contact {seen}"
            line += f", lacks {lacks} record(s) held here" if lacks else ", up to date"
            if ahead:
                line += f", holds {ahead} more"
            if p["last_error"] and (p["contact_age"] is None or p["error_at"] > p["last_contact"]):
                line += f"; last error: {p['last_error']}"
            print(line)
        for fork in info["forks"]:
            print(f"FORK: {fork['describe']}")
    return EXIT_REJECTED if info["forks"] or silent else EXIT_OK


def cmd_peers_run(cfg: GateConfig, args: argparse.Namespace) -> int:
    """The peer child: one JSON line per event on stdout."""
    from ..events import emit_json
    from ..peer_worker import run_peer_loop
    from ..process_limits import limit_child
    from ..stop_signal import Stop

    _need_peers(cfg)
    if args.max_data_mb < 0:
        raise ConfigError(f"--max-data-mb must be 0 or more, not {args.max_data_mb}")
    limit_child(
        "gate peers run",
        nice=args.nice,
        idle_io=False,
        max_data_mb=args.max_data_mb,
        emit=emit_json,
    )
    stop = Stop()
    stop.install()
    run_peer_loop(cfg, emit_json, stop.event)
    return EXIT_OK
