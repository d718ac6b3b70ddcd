"""What every ``gate`` command shares: the exit codes, the parser class, command groups.

Apart from ``gate/cli/__init__.py`` so the command modules can import it without
importing the package that imports them.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_DAMAGED = 0, 1, 2, 3
#: ``gate ctl``: no lane daemon answers on the control socket.
EXIT_NOT_RUNNING = 4


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, as every other usage error does."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"gate: {message} (see gate --help)\n")


def add_group(sub: Any, common: argparse.ArgumentParser, name: str, doc: str) -> Any:
    """A command with subcommands (``gate NAME ...``); returns their subparsers."""
    group = sub.add_parser(name, parents=[common], help=doc)
    return group.add_subparsers(dest=f"{name}_command", required=True, parser_class=Parser)


def add_child_limits(p: argparse.ArgumentParser, *, idle_io: bool) -> None:
    """The limits a daemon's child takes (``gate sync run``, ``gate peers run``; set by
    :func:`gate.process_limits.limit_child`)."""
    p.add_argument(
        "--nice",
        type=int,
        default=0,
        metavar="N",
        help="lower this process's CPU priority by N, so the lane comes first",
    )
    if idle_io:
        p.add_argument(
            "--idle-io",
            action="store_true",
            help="use the disk only when nothing else wants it (the idle I/O class)",
        )
    p.add_argument(
        "--max-data-mb",
        type=int,
        default=0,
        metavar="MB",
        help="cap this process's data memory (RLIMIT_DATA) at MB mebibytes (0: no cap)",
    )
