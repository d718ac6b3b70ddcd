"""``gate ledger apply`` and ``gate ledger status``: the gate's local copy of the ledger.

``apply`` verifies every block before it is applied and stops at the first refused one,
so a broken file applies nothing past its last valid block (exit 1, the reason on
stderr); blocks already held are counted, not applied twice.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import closing
from typing import IO, Any

from errors import ConfigError

from ..assembly import open_checkpoint
from ..config import GateConfig
from ..decision_text import local_time
from .base import EXIT_OK, EXIT_REJECTED, add_group


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    lsub = add_group(sub, common, "ledger", "the local ledger copy")
    p = lsub.add_parser("apply", parents=[common], help="verify and apply JSONL ledger files")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSONL file, or - for stdin")
    p.set_defaults(handler=cmd_ledger_apply)
    p = lsub.add_parser("status", parents=[common], help="height, head and counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_ledger_status)


def _ledger_sources(files: list[str]) -> Iterator[tuple[str, IO[bytes]]]:
    for name in files:
        if name == "-":
            yield "<stdin>", sys.stdin.buffer
            continue
        try:
            stream = open(name, "rb")  # noqa: SIM115 - closed below, after its lines
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read ledger file: {exc.strerror}") from None
        with stream:
            yield name, stream


def cmd_ledger_apply(cfg: GateConfig, args: argparse.Namespace) -> int:
    from verifier.blocks import read_blocks  # the parser: only when applying

    missing = [f for f in args.files if f != "-" and not os.path.isfile(f)]
    if missing:
        raise ConfigError(f"{missing[0]}: ledger file not found")
    applied = held = 0
    with closing(open_checkpoint(cfg)) as cp:
        for name, stream in _ledger_sources(args.files):
            report = cp.apply_lines(read_blocks(stream), source=name)
            applied += report.applied
            held += report.held
            if report.error is not None:
                print(
                    f"gate: refused {report.error}; applied {applied} block(s) before it, "
                    f"ledger height {report.height}",
                    file=sys.stderr,
                )
                return EXIT_REJECTED
        head = cp.ledger.head()
    print(
        f"applied {applied} block(s), {held} already held; ledger height {head.height}, "
        f"head {head.hash}"
    )
    return EXIT_OK


def cmd_ledger_status(cfg: GateConfig, args: argparse.Namespace) -> int:
    with closing(open_checkpoint(cfg)) as cp:
        status = cp.status()
    if args.json:
        print(json.dumps(status))
    else:
        print(f"height {status['height']}, head {status['head']}")
        print(f"newest block time {local_time(status['time'])}")
        print(
            f"{status['events']} event(s), {status['tickets']} ticket(s), "
            f"{status['revoked']} revoked, {status['admissions']} admission(s) counted, "
            f"{status['records']} record(s) in this gate's log"
        )
    return EXIT_OK
