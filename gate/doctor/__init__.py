"""``gate doctor``: what is wrong with this unit, and what to do about it.

Each check returns findings (:class:`Finding`: the check's name, ``OK``/``WARN``/
``FAIL``/``SKIP``, one line of what it found, and the technician's next step). The
checks, in the order they run and report:

=============  ==========================================================  ===========
check          what it looks at                                            module
=============  ==========================================================  ===========
config         the file loads and validates (as ``gate config check``)     here
permissions    config not world-writable; state_dir 0700, files its        state
               owner's; device key 0600
disk           free space and inodes where state_dir lives, against the    state
               records the next hours need
databases      SQLite quick_check of ledger.db and records.db, read-only   state
ledger         the newest block's age against ``max_ledger_age``           state
backlog        records the hub has not acknowledged, the oldest one's age  state
hub            reachable, same ledger key, this device enrolled            hub
clock          synchronised (timedatectl or adjtimex), offset to the hub   hub
camera         opens, frames per second over ~2 s                          devices
relay, green,  each output opens (and with ``--pulse`` pulses once)        devices
red, buzzer,
sensor
boot pins      config.txt's gpio= lines against the gpio: parts            system
services       gatehouse.service active, enabled, its user and config      system
=============  ==========================================================  ===========

Doctor changes nothing: no state directory, key or database is created (a missing one
is "not provisioned"), databases are opened read-only, and the devices the lane daemon
holds are read from its status rather than opened. A check that needs something an
earlier one found broken is ``SKIP``, naming it. Exit code: 0 when all is OK (or
skipped), 1 when any check warns, 2 when any fails. A check that crashes is reported as
a failure of that check, never as a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from errors import GatehouseError

from ..config import config_path, load_config
from . import devices, hub, state, system
from .result import Context, Finding, Options, Status, exit_code, fail, ok, skip

__all__ = ["CHECKS", "Finding", "Options", "Status", "examine", "exit_code"]


#: (name, check) in the order they run and report, after ``config``.
_CHECKS: tuple[tuple[str, Callable[[Context], Finding | list[Finding]]], ...] = (
    ("permissions", state.check_permissions),
    ("disk", state.check_disk),
    ("databases", state.check_databases),
    ("ledger", state.check_ledger),
    ("backlog", state.check_backlog),
    ("hub", hub.check_hub),
    ("clock", hub.check_clock),
    ("camera", devices.check_camera),
    ("relay", devices.check_outputs),
    ("sensor", devices.check_sensor),
    ("boot pins", system.check_boot_pins),
    ("services", system.check_services),
)
#: Their names.
CHECKS = tuple(name for name, _ in _CHECKS)


def examine(config: str | Path | None, options: Options | None = None) -> list[Finding]:
    """Every check on the unit the configuration file ``config`` describes (None:
    ``$GATEHOUSE_CONFIG``), in order."""
    options = options or Options()
    try:
        cfg = load_config(config_path(str(config) if config is not None else None))
    except GatehouseError as exc:
        return [
            fail(
                "config",
                str(exc),
                "do as the message says (gate config check gives the same message)",
            ),
            *(skip(name, "needs a valid configuration") for name in CHECKS),
        ]
    p = cfg.policy
    findings = [
        ok(
            "config",
            f"{cfg.path}: device {cfg.device}, events {', '.join(sorted(p.events))}, zone "
            f"{p.zone or 'any'}, state {cfg.state_dir}",
        )
    ]
    ctx = Context(cfg, options)
    for name, check in _CHECKS:
        try:
            if name == "camera":  # the devices: from the daemon's status if it runs
                devices.ask_daemon(ctx)
            found = check(ctx)
        except Exception as exc:  # a doctor that crashes tells nothing: report it, go on
            found = fail(
                name,
                f"the check itself failed: {type(exc).__name__}: {exc}",
                "report this with the output of gate doctor --json",
            )
        findings.extend(found if isinstance(found, list) else [found])
    return findings
