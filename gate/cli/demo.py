"""``gate demo``: the README's quick start; it needs no configuration file.

The demo itself (``gate.demo``) runs the real ``gate`` commands in subprocesses, so it
is imported only here, inside the command, and never imports the CLI back.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("demo", help="a short end-to-end run over an example ledger")
    p.add_argument("--dir", metavar="DIR", help="keep the demo's files here (default: temp)")
    p.set_defaults(handler=None, run=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    return run_demo(Path(args.dir) if args.dir else None)
