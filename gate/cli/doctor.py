"""``gate doctor``: every check of gate/doctor on this unit, one line each, and what to do.

It reads the configuration itself (``run=``, not ``handler=``), so a file that does
not load is the first finding rather than the end of the command. Exit code 0 when all
is OK, 1 when any check warns, 2 when any fails. Light: the camera stack is imported
only by the camera check, when a camera is configured and no lane daemon holds it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from errors import ConfigError


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "doctor",
        parents=[common],
        help="diagnose this unit: config, state, disk, hub, clock, devices, boot pins, services",
    )
    p.add_argument(
        "--json", action="store_true", help="a JSON list of {check, status, detail, fix}"
    )
    p.add_argument(
        "--pulse",
        action="store_true",
        help="pulse the relay and each lamp once (the turnstile opens: watch it)",
    )
    p.add_argument(
        "--boot-config",
        type=Path,
        metavar="PATH",
        help="the Pi's config.txt (default /boot/firmware/config.txt, else /boot/config.txt)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds to wait for the hub and the lane daemon (default 5)",
    )
    p.set_defaults(run=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..doctor import Options, examine, exit_code
    from ..doctor.report import render_json, render_text, use_colour

    if not args.timeout > 0:
        raise ConfigError(f"--timeout must be more than 0 seconds, not {args.timeout}")

    def say(text: str) -> None:
        print(f"gate doctor: {text}", file=sys.stderr, flush=True)

    options = Options(pulse=args.pulse, boot_config=args.boot_config, timeout=args.timeout, say=say)
    findings = examine(getattr(args, "config", None), options)
    if args.json:
        sys.stdout.write(render_json(findings))
    else:
        sys.stdout.write(render_text(findings, colour=use_colour(sys.stdout)))
    return exit_code(findings)
