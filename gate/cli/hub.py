"""``gate hub …``: the reference hub's commands, handed whole to ``hub.cli``.

The hub is its own package (an extra a gate does not install), so this module imports
none of it: everything after ``hub`` goes unparsed to the hub's own parser, imported
only when a hub command runs. ``gate hub --help`` is therefore the hub's help.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    # No prefix char makes an option here, so `gate hub --dir D init` reaches it whole.
    p = sub.add_parser(
        "hub",
        add_help=False,
        prefix_chars="\0",
        help="the reference hub (ledger authority, record intake)",
    )
    p.add_argument("hub_argv", nargs=argparse.REMAINDER, metavar="...")
    p.set_defaults(handler=None, run=cmd_hub)


def cmd_hub(args: argparse.Namespace) -> int:
    from hub.cli import main as hub_main  # the hub extra: loaded only for `gate hub`

    return hub_main(args.hub_argv)
