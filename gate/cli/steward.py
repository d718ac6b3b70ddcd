"""``gate steward``: the steward's console at the lane (a Textual terminal UI).

Textual and the console are imported inside the command: ``gate --help`` and every
other command stay light, and a unit without the ``steward`` extra says what to
install. The console reaches the daemon only through the control socket, so it needs
nothing of the configuration but ``[control] socket`` (or ``--socket``).
"""

from __future__ import annotations

import argparse
from typing import Any

from errors import ConfigError

from ..config import GateConfig, config_path, load_config
from ..control_client import ControlClient
from .base import EXIT_OK


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("steward", parents=[common], help="the steward's console for this lane")
    p.add_argument("--as", dest="steward", metavar="NAME", help="your name (asked if not given)")
    p.add_argument(
        "--socket",
        metavar="PATH",
        help="the lane daemon's control socket (default: [control] socket of the config)",
    )
    p.set_defaults(run=cmd_steward)


def socket_from_config(cfg: GateConfig) -> str:
    """``[control] socket`` (the configuration's default when the file names none)."""
    return str(cfg.control.socket)


def cmd_steward(args: argparse.Namespace) -> int:
    """Run the console until the steward quits; the lane runs on regardless."""
    path = args.socket or socket_from_config(
        load_config(config_path(getattr(args, "config", None)))
    )
    try:
        from gate.steward.app import StewardApp
    except ImportError as exc:
        raise ConfigError(
            f"gate steward needs Textual ({exc}): pip install 'gatehouse[steward]'"
        ) from exc

    def connect() -> ControlClient:
        return ControlClient(path)

    StewardApp(connect, socket_path=path, steward=args.steward).run()
    return EXIT_OK
