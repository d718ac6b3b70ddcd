"""The lane's commands: ``gate run``, ``gate relay reset``, ``gate scan``, ``gate selftest``.

The daemon and the image tools need the camera stack (OpenCV, numpy, the decoders), so
they are imported inside their command; ``relay reset`` needs only the outputs, because
systemd runs it before every start and after every stop, when a slow or broken camera
library must not keep the turnstile from its resting state.
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from typing import Any

from ..assembly import open_outputs
from ..config import GateConfig
from .base import EXIT_OK, add_group


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("run", parents=[common], help="the lane daemon (systemd runs it)")
    p.set_defaults(handler=cmd_run)

    rlsub = add_group(sub, common, "relay", "the turnstile relay and lamps")
    p = rlsub.add_parser("reset", parents=[common], help="drive every output to rest")
    p.set_defaults(handler=cmd_relay_reset)

    p = sub.add_parser("scan", parents=[common], help="decode image files and decide each code")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    p.add_argument("--admit", action="store_true", help="record the decisions (default: dry)")
    p.add_argument("--now", type=int, metavar="UNIX", help="decide as of this Unix time")
    p.set_defaults(handler=cmd_scan)

    p = sub.add_parser("selftest", parents=[common], help="exercise every configured device")
    p.add_argument(
        "--no-pulse",
        action="store_true",
        help="do not pulse the relay and lamps (the turnstile stays shut)",
    )
    p.set_defaults(handler=cmd_selftest)


def cmd_run(cfg: GateConfig, args: argparse.Namespace) -> int:
    from ..daemon import run_daemon

    return run_daemon(cfg)


def cmd_relay_reset(cfg: GateConfig, args: argparse.Namespace) -> int:
    """Drive the relay and every indicator to rest; systemd runs it around the daemon."""
    with ExitStack() as stack:
        outputs = open_outputs(cfg, stack)
        outputs.reset()
        for output in outputs.all():
            print(f"{output.url}: at rest ({'energised' if output.rest else 'de-energised'})")
    return EXIT_OK


def cmd_scan(cfg: GateConfig, args: argparse.Namespace) -> int:
    from ..lanetools import scan_images

    return scan_images(cfg, args.images, as_json=args.json, admit=args.admit, now=args.now)


def cmd_selftest(cfg: GateConfig, args: argparse.Namespace) -> int:
    from ..lanetools import selftest

    return selftest(cfg, pulse=not args.no_pulse)
