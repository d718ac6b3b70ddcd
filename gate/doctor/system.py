"""The unit around the gate: the Pi's boot config pins and the systemd service.

Pins: every ``gpio:`` part of the configuration needs its level (outputs) or pull
(the sensor) set by the firmware from power-on (gate/boot_pins.py); the whole
``config.txt`` is read, not only Gatehouse's block, since a line anywhere counts.

Services: ``systemctl show`` of ``gatehouse.service`` where systemd is the init
(``/run/systemd/system`` exists); elsewhere (a container, a laptop without systemd) the
check says it cannot tell. The unit's ``User=`` must own the state directory, and its
``GATEHOUSE_CONFIG`` should be the configuration doctor was given: a unit running
another configuration is a different gate from the one examined.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from errors import GatehouseError

from ..boot_pins import default_boot_config, pin_problems, wanted_pins
from .hub import systemd_running
from .result import Context, Finding, fail, ok, warn

#: The services of a gate unit, as systemd/ installs them.
UNITS = ("gatehouse.service",)


def check_boot_pins(ctx: Context) -> list[Finding]:
    name, cfg = "boot pins", ctx.cfg
    try:
        wanted = wanted_pins(cfg)
    except GatehouseError as exc:  # the config check already validated every URL
        return [fail(name, str(exc), f"fix the URL in {cfg.path}")]
    if not wanted:
        return [ok(name, "no gpio: parts configured; nothing for the firmware to set")]
    path = ctx.options.boot_config or default_boot_config()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return [
            warn(
                name,
                f"{path} not found (not a Raspberry Pi, or the boot partition is not "
                "mounted), so the power-on level of "
                + ", ".join(f"GPIO{w.pin}" for w in wanted)
                + " is unknown",
                "on a Pi: mount the boot partition (/boot/firmware); elsewhere pass "
                "--boot-config PATH",
            )
        ]
    except OSError as exc:
        return [warn(name, f"{path}: {exc.strerror}", "run gate doctor as root")]
    problems = pin_problems(cfg, text)
    if not problems:
        lines = ", ".join(w.line for w in wanted)
        return [ok(name, f"{path} sets {lines}")]
    fix = (
        f"gate provision writes the pins block into {path} from {cfg.path} (or edit it "
        "as said), then reboot"
    )
    return [fail(name, problem, fix) for problem in problems]


def _show(unit: str) -> dict[str, str]:
    keys = ("LoadState", "ActiveState", "SubState", "UnitFileState", "User", "Environment")
    result = subprocess.run(
        ["systemctl", "show", unit, *(f"--property={k}" for k in keys)],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    shown: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        shown[key] = value
    return shown


def _config_of(environment: str) -> str | None:
    for item in environment.split():
        if item.startswith("GATEHOUSE_CONFIG="):
            return item.partition("=")[2]
    return None


def check_services(ctx: Context) -> list[Finding]:
    name = "services"
    if not systemd_running() or not shutil.which("systemctl"):
        return [
            warn(
                name,
                "systemd is not running here; cannot check services",
                "on the unit itself: systemctl status gatehouse",
            )
        ]
    return [_service(ctx, name, unit) for unit in UNITS]


def _service(ctx: Context, name: str, unit: str) -> Finding:
    try:
        shown = _show(unit)
    except (OSError, subprocess.SubprocessError) as exc:
        return warn(name, f"systemctl show {unit}: {exc}", "systemctl status gatehouse")
    short = unit.removesuffix(".service")
    if shown.get("LoadState") in ("not-found", "", None):
        return warn(
            name,
            f"{unit} is not installed: the lane does not start at boot",
            "run firmware-config/install.sh from the Gatehouse checkout (it installs and "
            f"enables the units), then sudo systemctl start {short}",
        )
    cfg = ctx.cfg
    runs = _config_of(shown.get("Environment", ""))
    if runs and Path(runs).resolve() != cfg.path.resolve():
        return warn(
            name,
            f"{unit} runs {runs}, not {cfg.path}: it is not the gate examined here",
            f"examine that one: gate -c {runs} doctor",
        )
    user = shown.get("User") or "root"
    try:
        owner = cfg.state_dir.stat().st_uid
        import pwd

        owner_name = pwd.getpwuid(owner).pw_name
    except (OSError, KeyError):
        owner_name = None
    if owner_name is not None and owner_name != user:
        return fail(
            name,
            f"{unit} runs as {user}, but state_dir {cfg.state_dir} belongs to {owner_name}",
            f"sudo chown -R {user}: {cfg.state_dir} (or fix User= in the unit)",
        )
    active, sub = shown.get("ActiveState", "?"), shown.get("SubState", "?")
    state = f"{unit} {active} ({sub})"
    if active == "failed" or sub == "auto-restart":
        return fail(
            name,
            f"{state}: the daemon keeps stopping",
            f"journalctl -u {short} -n 50 -o cat shows why",
        )
    if active != "active":
        return warn(name, f"{state}: the lane is not running", f"sudo systemctl start {short}")
    if shown.get("UnitFileState") not in ("enabled", "static", "enabled-runtime"):
        return warn(
            name,
            f"{state}, but {shown.get('UnitFileState')}: it will not start at the next boot",
            f"sudo systemctl enable {short}",
        )
    return ok(name, f"{state}, enabled, as {user}")
