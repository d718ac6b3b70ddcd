"""``gate device show``: this gate's id and the public key its records are signed with.

The hub operator needs the key to check an exported log; the device key is created on
first use of the state directory, so showing it also proves the state opens.
"""

from __future__ import annotations

import argparse
import json
from contextlib import closing
from typing import Any

from ..assembly import open_checkpoint
from ..config import GateConfig
from .base import EXIT_OK, add_group


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    dsub = add_group(sub, common, "device", "this gate's identity")
    p = dsub.add_parser("show", parents=[common], help="device id and public key")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_device_show)


def cmd_device_show(cfg: GateConfig, args: argparse.Namespace) -> int:
    with closing(open_checkpoint(cfg)) as cp:
        info = {"device": cfg.device, "public_key": cp.public_key.hex()}
    if args.json:
        print(json.dumps(info))
    else:
        print(f"device {info['device']}\npublic key {info['public_key']}")
    return EXIT_OK
