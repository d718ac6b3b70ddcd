"""``gate check`` and ``gate admit``: decide on a token, dry or recorded.

``TOKEN`` ``-`` reads one token per stdin line, which is how a serial scanner's output
or a test's batch is fed in; the exit code is 1 if any decision was a rejection.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from typing import IO, TYPE_CHECKING, Any

from ..assembly import open_checkpoint
from ..config import GateConfig
from ..decision_text import describe
from .base import EXIT_OK, EXIT_REJECTED

if TYPE_CHECKING:
    from verifier import Decision

#: Longest stdin line read as one token; longer lines are refused as malformed unread.
MAX_LINE = 64 * 1024


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    for name, doc in (
        ("check", "decide on a token without recording (dry run)"),
        ("admit", "decide on a token and record the decision"),
    ):
        p = sub.add_parser(name, parents=[common], help=doc, description=doc)
        p.add_argument("token", metavar="TOKEN", help="token text, or - for one per stdin line")
        p.add_argument("--now", type=int, metavar="UNIX", help="decide as of this Unix time")
        p.add_argument("--json", action="store_true", help="one JSON object per decision")
        p.set_defaults(handler=cmd_decide)


def _stdin_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """Lines without their terminator; an over-long line comes back truncated to
    MAX_LINE + 1 bytes (still too long to be a token) and its rest is skipped."""
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while True:
                rest = stream.readline(MAX_LINE)
                if not rest or rest.endswith(b"\n"):
                    break
        yield line.rstrip(b"\r\n")


def _emit(decision: Decision, as_json: bool) -> None:
    sys.stdout.write((decision.to_json() if as_json else describe(decision)) + "\n")
    sys.stdout.flush()


def cmd_decide(cfg: GateConfig, args: argparse.Namespace) -> int:
    with closing(open_checkpoint(cfg)) as cp:
        decide = cp.admit if args.command == "admit" else cp.check
        if args.token != "-":
            now = args.now if args.now is not None else int(time.time())
            decision = decide(args.token, now)
            _emit(decision, args.json)
            return EXIT_OK if decision.admitted else EXIT_REJECTED
        code = EXIT_OK
        for line in _stdin_lines(sys.stdin.buffer):
            if not line:
                continue
            now = args.now if args.now is not None else int(time.time())
            decision = decide(line, now)
            _emit(decision, args.json)
            if not decision.admitted:
                code = EXIT_REJECTED
        return code
