"""``gate demo``: the README's first command; it needs no configuration file.

The venue (``gate.demo.venue``): a hub, several gate daemons, a crowd, an outage and the
reconciliation, watched live. ``--walkthrough`` is the older transcript of CLI calls
that teaches the commands one by one. The demo drives real processes, so it is imported
only here, inside the command.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} is not above 0")
        return value

    return parse


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo",
        help="a whole venue on this machine: lanes, a crowd, fraud, an outage, reconciliation",
        description=(
            "Start a reference hub on loopback, sell tickets, provision GATES gates with "
            "gate provision and run each as a gate run daemon on a synthetic camera, then "
            "send a crowd through them (honest attendees, screenshots, forgeries, resold, "
            "refunded and wrong-zone tickets, copies of live codes at two lanes) while the "
            "hub goes down and comes back. Ends with a summary and the invariants checked; "
            "exit status 1 when one fails."
        ),
    )
    p.add_argument("--gates", type=_positive(int), default=4, help="lanes (default 4; at least 2)")
    p.add_argument(
        "--attendees", type=_positive(int), default=200, help="people in the crowd (default 200)"
    )
    p.add_argument(
        "--seconds", type=_positive(float), default=40.0, help="length of the crowd (default 40)"
    )
    p.add_argument(
        "--seed", type=int, default=1, help="the venue's seed (same seed, same decisions)"
    )
    p.add_argument(
        "--tickets", type=_positive(int), default=3000, help="tickets on sale (default 3000)"
    )
    p.add_argument("--steward", metavar="LANE", help="open LANE's steward console beside the run")
    p.add_argument("--keep", metavar="DIR", help="leave the venue's files in DIR")
    p.add_argument("--json", metavar="FILE", help="write the summary and invariants as JSON")
    p.add_argument(
        "--record",
        metavar="DIR",
        help="draw the live table mid-run and the summary into DIR (SVG; PNG with rsvg-convert)",
    )
    p.add_argument(
        "--walkthrough",
        action="store_true",
        help="instead: the transcript of CLI calls over an example ledger (teaches the commands)",
    )
    p.add_argument("--dir", metavar="DIR", help="--walkthrough only: keep its files here")
    p.set_defaults(handler=None, run=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    if args.walkthrough:
        from ..demo import run_demo

        return run_demo(Path(args.dir) if args.dir else None)
    from ..demo.venue import Options, run_venue

    return run_venue(
        Options(
            gates=args.gates,
            attendees=args.attendees,
            seconds=args.seconds,
            seed=args.seed,
            tickets=args.tickets,
            steward=args.steward,
            keep=Path(args.keep) if args.keep else None,
            json=Path(args.json) if args.json else None,
            record=Path(args.record) if args.record else None,
        )
    )
