"""``gate config check``: validate the configuration without opening or starting anything.

Loading the file already checks every key (``gate.config``); this command adds the
one check that needs the file system, that the state directory exists, and says in one
line what the gate will admit.
"""

from __future__ import annotations

import argparse
from typing import Any

from errors import ConfigError

from ..config import GateConfig
from .base import EXIT_OK, add_group


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    csub = add_group(sub, common, "config", "the configuration file")
    p = csub.add_parser("check", parents=[common], help="validate without side effects")
    p.set_defaults(handler=cmd_config_check)


def cmd_config_check(cfg: GateConfig, args: argparse.Namespace) -> int:
    if not cfg.state_dir.is_dir():
        raise ConfigError(
            f"{cfg.path}: key 'state_dir': {cfg.state_dir} does not exist or is not a directory"
        )
    p = cfg.policy
    print(
        f"{cfg.path}: ok (device {cfg.device}, events {', '.join(sorted(p.events))}, "
        f"zone {p.zone or 'any'}, window -{p.back}/+{p.fwd} steps, state {cfg.state_dir})"
    )
    return EXIT_OK
