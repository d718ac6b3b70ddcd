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
