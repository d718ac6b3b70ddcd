"""The ``gate`` command: what technicians, scripts, the scanner path and tests drive.

Exit codes: 0 admitted / done; 1 rejected, or a ledger block refused; 2 usage,
configuration or state-directory error; 3 damaged database or device key, or state
others may read (or another user owns); 4 (``gate
ctl``) the lane daemon is not running. Errors are
one line on stderr naming the file, key, height or ticket; never a traceback.

Text output is for people (one line per decision, the reason in words); ``--json`` is
for programs and keeps the keys documented in docs/protocol.md.

One module per command group (``decide``, ``ledger``, ``records``, ``device``,
``config_cmd``, ``provision``, ``lane``, ``ctl``, ``sync``, ``peers``, ``steward``, ``hub``,
``demo``), each adding its parsers with ``add_commands``. This module builds the parser
and turns errors into exit codes. Command modules import only what light commands need
(``verifier``, ``errors``); the camera stack, the daemon, the demo, the console and the
hub are imported inside the command that runs them, so ``gate check`` or ``gate relay
reset`` start in a blink on a Pi.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys

from errors import DeviceKeyError, GatehouseError, StoreCorrupt, UnsafePermissions

from ..config import config_path, load_config
from . import (
    config_cmd,
    ctl,
    decide,
    demo,
    device,
    doctor,
    hub,
    lane,
    ledger,
    peers,
    provision,
    records,
    steward,
    sync,
)
from .base import EXIT_DAMAGED, EXIT_OK, EXIT_USAGE, Parser

__all__ = ["build_parser", "main"]

#: In the order ``gate --help`` lists them.
_GROUPS = (
    decide,
    ledger,
    records,
    device,
    config_cmd,
    provision,
    lane,
    ctl,
    sync,
    peers,
    steward,
    doctor,
)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c",
        "--config",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="configuration file (default: $GATEHOUSE_CONFIG)",
    )
    parser = Parser(
        prog="gate", parents=[common], description="Gatehouse turnstile gate: decide, record, sync."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in _GROUPS:
        group.add_commands(sub, common)
    hub.add_commands(sub, common)
    demo.add_commands(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "run", None) is not None:
            return int(args.run(args))
        cfg = load_config(config_path(getattr(args, "config", None)))
        return int(args.handler(cfg, args))
    except (StoreCorrupt, DeviceKeyError, UnsafePermissions) as exc:
        print(f"gate: {exc}", file=sys.stderr)
        return EXIT_DAMAGED
    except GatehouseError as exc:
        print(f"gate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.Error as exc:
        if "readonly" in str(exc):
            print(
                f"gate: the state database is not writable by this user ({exc}); was it "
                "created by another user, e.g. with sudo? Fix the state_dir's ownership",
                file=sys.stderr,
            )
            return EXIT_USAGE
        print(
            f"gate: database error: {exc} (is another process holding the state_dir, "
            "or is the disk full?)",
            file=sys.stderr,
        )
        return EXIT_DAMAGED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); nothing useful is left to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"gate: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
