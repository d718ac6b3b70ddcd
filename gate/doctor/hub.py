"""The hub and the clock: is the hub there, does it take this device, and is this unit's
clock synchronised and close to the hub's.

Reaching the hub is ``GET /v1/status`` (unauthenticated: its time and ledger
key). Whether this device is enrolled is the cheapest signed request there is, an
upload of no records (``HubClient.probe_enrolment``): the hub checks the signature
against the key it enrolled for this device id and answers how far it holds the log.
It changes nothing on the gate and nothing on the hub but its replay memory. The
device key is read, never created.

Synchronised: ``timedatectl show -p NTPSynchronized`` where systemd runs (it asks
systemd-timesyncd, or chrony through timedated), else the kernel's own flag read with
``adjtimex(2)`` (``STA_UNSYNC``), which every NTP daemon clears once it disciplines the
clock. The offset is the hub's ``server_time`` against the midpoint of the request.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from errors import DeviceKeyError, HubRefusal, SyncError

from .result import Context, Finding, fail, ok, warn

if TYPE_CHECKING:
    from sync.client import HubClient

STA_UNSYNC = 0x0040
TIME_ERROR = 5


@dataclass(frozen=True, slots=True)
class _Identity:
    """What ``HubClient.probe_enrolment`` needs of a checkpoint, without opening one."""

    device: str
    signer: Any


def check_hub(ctx: Context) -> list[Finding]:
    name, cfg = "hub", ctx.cfg
    url = cfg.lane.hub
    if not url:
        ctx.hub_error = "standalone"
        return [
            warn(
                name,
                "standalone: no [hub] in the configuration; the ledger and the records go "
                "by USB stick",
                "nothing, at a site without a network; otherwise add [hub] url and enrol "
                "(gate enrol CODE)",
            )
        ]
    from sync.client import HubClient
    from verifier.device_key import load_device_key

    try:
        signer, key_problem = load_device_key(cfg.state_dir, create=False), None
    except (DeviceKeyError, OSError) as exc:
        signer, key_problem = None, str(exc)
    clock = ctx.options.clock
    timeout = ctx.options.timeout
    identity = _Identity(cfg.device, signer)
    client = HubClient(url, identity, timeout=timeout, deadline=2 * timeout, clock=clock)  # type: ignore[arg-type]
    before = clock()
    try:
        status = client.status()
    except SyncError as exc:
        ctx.hub_error = str(exc)
        return [
            fail(
                name,
                f"{url}: {exc}",
                "check the network (ping, the URL in [hub] url) and, on the hub, "
                "systemctl status gatehouse-hub",
            )
        ]
    after = clock()
    try:
        ctx.hub_time = (float(status["server_time"]), (before + after) / 2)
    except (KeyError, TypeError, ValueError):
        ctx.hub_error = "the hub's /v1/status has no server_time"
    found: list[Finding] = []
    held_key = status.get("ledger_key")
    if held_key and held_key != cfg.ledger_key.hex():
        found.append(
            fail(
                name,
                f"{url} signs its ledger with key {held_key[:16]}…, but ledger_key in "
                f"{cfg.path} is {cfg.ledger_key.hex()[:16]}…: every block would be refused",
                "use the hub of this venue, or copy its ledger key into ledger_key "
                "(only on a fresh state_dir: the state is pinned to the old key)",
            )
        )
    if key_problem is not None:
        return [
            *found,
            warn(
                name,
                f"{url} reachable; enrolment not checked: {key_problem}",
                "see permissions: the unit needs its own readable device key",
            ),
        ]
    try:
        acked = client.probe_enrolment()
    except HubRefusal as exc:
        return [*found, _refused(name, url, cfg.device, exc)]
    except SyncError as exc:
        return [
            *found,
            fail(
                name,
                f"{url} answered its status but not a signed request: {exc}",
                "see the hub's log",
            ),
        ]
    if not found:
        found.append(
            ok(
                name,
                f"{url} reachable, {cfg.device} enrolled; the hub is at height "
                f"{_hub_height(client)} and holds this unit's records through seq {acked}",
            )
        )
    return found


def _hub_height(client: HubClient) -> str:
    """The hub's height, from a signed read asking for nothing (``/v1/status`` no longer
    says it: a height grows with sales)."""
    from sync.wire import HEADER_HEIGHT

    try:
        status, _, headers = client.read(f"/v1/blocks?since={2**62}")
    except SyncError:
        return "unknown"
    height = headers.get(HEADER_HEIGHT) if status == 200 else None
    return str(height) if height is not None else "unknown"


def _refused(name: str, url: str, device: str, exc: HubRefusal) -> Finding:
    reason = exc.reason
    if "not enrolled" in reason:
        return fail(
            name,
            f"{url} reachable, but {device} is not enrolled there",
            "get a one-time code from the hub operator (gate hub enrol-code) and run "
            "gate enrol CODE",
        )
    if "revoked" in reason:
        return fail(
            name,
            f"{url} reachable, but {device} is revoked there",
            "ask the hub operator why; a revoked unit is re-provisioned under a new device id",
        )
    if "signature" in reason:
        # The hub answers an unknown device and a wrong key alike (no probing of ids).
        return fail(
            name,
            f"{url} reachable, but it refuses this unit's signed requests: either {device} "
            "is not enrolled there, or it is enrolled with another key (the hub does not "
            "say which, so that device ids cannot be probed)",
            "a unit never enrolled: gate enrol CODE with a one-time code from the hub "
            "operator; one that was: this state_dir is not the enrolled one, so use the "
            "right state_dir, or have the operator revoke the old unit and enrol this one "
            "under a new id",
        )
    if "request time" in reason:
        return fail(
            name, f"{url} refused this unit's signed request: {reason}", "fix the clock (see clock)"
        )
    return fail(name, f"{url} refused this unit's signed request: {reason}", "see the hub's log")


# -- the clock ------------------------------------------------------------------------------


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>; only ``status`` is read, the rest is room.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("reserved", ctypes.c_int * 11),
    ]


def systemd_running() -> bool:
    """systemd is this machine's init (sd_booted(3): /run/systemd/system exists)."""
    return Path("/run/systemd/system").is_dir()


def clock_synchronised() -> tuple[bool | None, str]:
    """(synchronised, how it was found); None when nothing could tell."""
    if systemd_running() and shutil.which("timedatectl"):
        try:
            answer = subprocess.run(
                ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            answer = ""
        if answer in ("yes", "no"):
            return answer == "yes", "timedatectl"
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        try:
            libc = ctypes.CDLL(libc_name, use_errno=True)
            timex = _Timex()  # modes 0: read only
            state = libc.adjtimex(ctypes.byref(timex))
        except (OSError, AttributeError):
            state = -1
        if state >= 0:
            return not (timex.status & STA_UNSYNC or state == TIME_ERROR), "adjtimex"
    return None, "neither timedatectl nor adjtimex answered"


def check_clock(ctx: Context) -> Finding:
    name, lane = "clock", ctx.cfg.lane
    from verifier.time_floor import clock_state

    from .state import stored_time_floor

    # Behind what the state proves (a signed block, an admission): the lane refuses
    # everything as clock_behind, hub or no hub (issue: a Pi without an RTC after an outage).
    behind = clock_state(int(ctx.options.clock()), stored_time_floor(ctx))
    if behind.behind:
        return fail(
            name,
            behind.words(),
            "set the clock: timedatectl set-ntp true (firmware-config's time sync), or by "
            "hand with date -u -s; fit an RTC module if the unit often starts offline",
        )
    synced, how = clock_synchronised()
    sync_text = {
        True: f"synchronised ({how})",
        False: f"not synchronised ({how})",
        None: f"synchronisation unknown ({how})",
    }[synced]
    ntp_fix = (
        "enable time sync (timedatectl set-ntp true; firmware-config's time-sync settings) "
        "and check that NTP reaches a server"
    )
    if ctx.hub_time is None:
        if ctx.hub_error == "standalone":
            if synced:
                return ok(name, f"{sync_text}; standalone, no hub to compare with")
            return warn(name, f"{sync_text}; standalone, no hub to compare with", ntp_fix)
        return warn(
            name,
            f"{sync_text}; offset against the hub unknown (hub unreachable)",
            "see hub; meanwhile compare date -u with a good clock",
        )
    server_time, ours = ctx.hub_time
    offset = server_time - ours
    seen = (
        f"{sync_text}; {round(offset):+d} s off the hub's clock "
        f"(max_clock_skew {lane.max_clock_skew:g} s)"
    )
    if abs(offset) > lane.max_clock_skew:
        return fail(
            name,
            f"{seen}: codes rotate every 15 s, so valid ones are refused as expired_code",
            f"{ntp_fix}; if this clock is right, the hub's is wrong: compare date -u on both",
        )
    if synced is False:
        return warn(name, seen, ntp_fix)
    if synced is None:
        return warn(name, seen, "check time sync by hand: timedatectl, chronyc tracking")
    return ok(name, seen)
