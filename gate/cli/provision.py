"""``gate provision``: a bare unit to a working lane (gate/provision.py does the steps).

It needs no configuration file: it writes one. Exit 0 provisioned; 1 a step failed
after the configuration was written (the enrolment refused, the hub gone during the
first sync, the self-test), said on stderr with what to do, and a re-run keeps what is
done; 2 refused before anything was written (bad arguments, a hub whose ledger key does
not match the fingerprint, a missing service user).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..provision import DEFAULT_USER


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "provision",
        help="make this unit a lane: config, state, device key, enrolment, first sync",
        description=(
            "Check the hub's ledger key against the fingerprint before writing anything; "
            "then write the configuration, make the state directory and device key, enrol "
            "with the one-time code, sync the ledger (with a progress bar), write the relay "
            "pins into the Pi's boot configuration and run the self-test. Safe to re-run: "
            "the device key, record log and enrolment are kept."
        ),
    )
    p.add_argument("--hub", required=True, metavar="URL", help="the hub's URL")
    p.add_argument("--code", required=True, help="one-time enrolment code (gate hub enrol-code)")
    p.add_argument(
        "--ledger-key-fingerprint",
        required=True,
        metavar="FP",
        help="the ledger key's fingerprint as the hub operator gave it (gate hub init prints it)",
    )
    p.add_argument("--device", required=True, metavar="ID", help="this unit's id, e.g. north-1")
    p.add_argument("--events", required=True, metavar="E[,E]", help="event ids this lane admits")
    p.add_argument("--zone", help="this lane's zone")
    p.add_argument("--camera", metavar="URL", help="camera source, e.g. v4l2:/dev/video0")
    p.add_argument("--relay", metavar="URL", help="turnstile relay, e.g. gpio:17?active=low")
    p.add_argument("--green", metavar="URL", help="green indicator output")
    p.add_argument("--red", metavar="URL", help="red indicator output")
    p.add_argument("--sensor", metavar="URL", help="passage sensor input")
    p.add_argument(
        "--passage-timeout",
        type=float,
        metavar="S",
        help="void an admission with no passage within S seconds (default 10)",
    )
    p.add_argument(
        "--peer-listen",
        metavar="HOST:PORT",
        help="serve the peer port here, for the venue's other lanes (e.g. 0.0.0.0:7445)",
    )
    p.add_argument(
        "--peer",
        action="append",
        metavar="URL",
        help="another lane's peer URL, e.g. http://10.0.0.12:7445 (repeat for each)",
    )
    p.add_argument(
        "--discover-peers", action="store_true", help="find the other lanes by mDNS as well"
    )
    p.add_argument(
        "--root",
        default="/",
        metavar="DIR",
        help="install into this directory tree instead of / (an SD-card image, a test)",
    )
    p.add_argument(
        "--user",
        default=DEFAULT_USER,
        help=f"the service user that owns the state (default {DEFAULT_USER})",
    )
    p.add_argument(
        "--no-selftest",
        action="store_true",
        help="skip the self-test (an image built away from its camera and relay)",
    )
    p.set_defaults(handler=None, run=cmd_provision)


def cmd_provision(args: argparse.Namespace) -> int:
    from ..provision import main_args_to_request, provision

    return provision(main_args_to_request(args))
