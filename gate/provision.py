"""``gate provision``: a bare unit to a working lane, in one command a technician can re-run.

The order is the safety: everything that can be checked without writing is checked
first (the arguments, the configuration they make, the service user, and above all the
hub's ledger key against the fingerprint the hub operator gave), so a typo or a
look-alike hub leaves the unit exactly as it was. Then the configuration, the state
directory (0700) and the device key (0600), owned by the service user; enrolment with
the one-time code; the first sync, with a progress bar; the pins in the Pi's boot
configuration; the self-test; and what to do next.

Re-running is safe: the device key and the record log are never replaced (they are the
unit's identity and its unsent admissions), an enrolment already made is kept (noted in
``enrolment.json`` in the state directory; a code works only once), and each step says
whether it wrote or kept. A unit provisioned as one device id is not silently turned into
another: that takes moving the state directory aside, on purpose.

``--root DIR`` writes into a directory tree instead of ``/`` (an SD-card image being
built, or a test). The configuration's paths are then written relative to the file
(``state_dir = "../../var/lib/gatehouse"``), which names the same place in the tree and,
once the card boots, on the unit.
"""

from __future__ import annotations

import json
import os
import pwd
import time
import tomllib
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from errors import ConfigError, InvalidArgument, SyncError

from .config import parse_config
from .config_reference import toml_value

CONFIG_FILE = Path("etc/gatehouse/gate.toml")
STATE_DIR = Path("var/lib/gatehouse")
CONTROL_SOCKET = Path("run/gatehouse/control.sock")
BOOT_CONFIGS = (Path("boot/firmware/config.txt"), Path("boot/config.txt"))
ENROLMENT_FILE = "enrolment.json"
DEFAULT_USER = "gatehouse"


@dataclass(frozen=True, slots=True)
class Request:
    """What the technician asked for (``gate provision``'s options)."""

    hub: str
    code: str
    fingerprint: str
    device: str
    events: tuple[str, ...]
    zone: str | None = None
    camera: str | None = None
    relay: str | None = None
    green: str | None = None
    red: str | None = None
    sensor: str | None = None
    passage_timeout: float | None = None
    peer_listen: str | None = None
    peers: tuple[str, ...] = ()
    discover_peers: bool = False
    root: Path = Path("/")
    user: str = DEFAULT_USER
    selftest: bool = True


@dataclass(slots=True)
class Paths:
    root: Path
    config: Path
    state: Path

    @classmethod
    def under(cls, root: Path) -> Paths:
        return cls(root, root / CONFIG_FILE, root / STATE_DIR)

    @property
    def relocated(self) -> bool:
        return self.root.resolve() != Path("/")

    def boot_config(self) -> Path | None:
        for candidate in BOOT_CONFIGS:
            if (self.root / candidate).is_file():
                return self.root / candidate
        return None


@dataclass(slots=True)
class Outcome:
    """What a run did, step by step (``wrote`` / ``kept`` / ``skipped`` lines)."""

    lines: list[str] = field(default_factory=list)
    failed: bool = False


@dataclass(frozen=True, slots=True)
class Owner:
    name: str
    uid: int
    gid: int


def _say(text: str) -> None:
    print(text, flush=True)


# -- checks made before anything is written ------------------------------------------------


def config_text(req: Request, ledger_key: str, paths: Paths) -> str:
    """The configuration file a provisioned unit runs on, with the reason for each part."""
    if paths.relocated:  # relative: the same place in the image tree and on the unit
        state = os.path.relpath(paths.state, paths.config.parent)
        socket = os.path.relpath(paths.root / CONTROL_SOCKET, paths.config.parent)
    else:
        state, socket = f"/{STATE_DIR}", f"/{CONTROL_SOCKET}"
    q = json.dumps  # a TOML basic string is a JSON string for these values
    lines = [
        f"# Written by gate provision on {time.strftime('%Y-%m-%d %H:%M:%S %Z')};",
        "# re-run it to change the unit (docs/technicians.md), or edit and run",
        "# gate config check.",
        f"device     = {q(req.device)}",
        f"ledger_key = {q(ledger_key)}   # checked against the hub's fingerprint",
        f"state_dir  = {q(state)}",
        f"events     = [{', '.join(q(e) for e in req.events)}]",
    ]
    if req.zone:
        lines.append(f"zone       = {q(req.zone)}")
    sensor: dict[str, Any] = {"url": req.sensor} if req.sensor else {}
    if sensor and req.passage_timeout is not None:
        sensor["passage_timeout"] = req.passage_timeout
    sections: list[tuple[str, dict[str, Any]]] = [
        ("camera", {"url": req.camera} if req.camera else {}),
        ("relay", {"url": req.relay} if req.relay else {}),
        (
            "indicators",
            {k: v for k, v in (("green", req.green), ("red", req.red)) if v},
        ),
        ("sensor", sensor),
        ("hub", {"url": req.hub}),
        ("control", {"socket": socket, "group": DEFAULT_USER}),
    ]
    if req.peer_listen:  # the other lanes of the venue (docs/peers.md)
        peers: dict[str, Any] = {"listen": req.peer_listen}
        if req.peers:
            peers["urls"] = list(req.peers)
        if req.discover_peers:
            peers["discover"] = True
        sections.append(("peers", peers))
    for name, values in sections:
        if values:
            lines.append("")
            lines.append(f"[{name}]")
            lines.extend(f"{key} = {toml_value(value)}" for key, value in values.items())
    return "\n".join(lines) + "\n"


def _check_request(req: Request) -> None:
    if not req.events:
        raise InvalidArgument("--events needs at least one event id (e.g. --events pub-expo)")
    if not req.hub.startswith(("http://", "https://")):
        raise InvalidArgument(f"--hub {req.hub!r} must be an http:// or https:// URL")
    if (req.peers or req.discover_peers) and not req.peer_listen:
        raise InvalidArgument(
            "--peer and --discover-peers need --peer-listen HOST:PORT (the port the other "
            "lanes reach this one on, e.g. 0.0.0.0:7445)"
        )
    if req.passage_timeout is not None and not req.sensor:
        raise InvalidArgument("--passage-timeout needs --sensor (the passage sensor it times)")


def _service_owner(req: Request, paths: Paths) -> Owner:
    """The user the lane runs as, from the tree's own user database when it has one
    (an image), else this machine's."""
    passwd = paths.root / "etc/passwd"
    if paths.relocated and passwd.is_file():
        for line in passwd.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split(":")
            if len(parts) >= 4 and parts[0] == req.user:
                return Owner(req.user, int(parts[2]), int(parts[3]))
        where = str(passwd)
    else:
        try:
            entry = pwd.getpwnam(req.user)
        except KeyError:
            where = "this machine's user database"
        else:
            return Owner(req.user, entry.pw_uid, entry.pw_gid)
    raise ConfigError(
        f"service user {req.user!r} not found in {where}: run firmware-config/install.sh "
        "first (it creates the user), or pass --user"
    )


def _check_ownership_possible(owner: Owner) -> None:
    if os.geteuid() != 0 and owner.uid != os.geteuid():
        raise ConfigError(
            f"the state directory must belong to {owner.name!r}; only root can give it "
            "away: run gate provision with sudo"
        )


def check_hub_key(req: Request) -> str:
    """The hub's ledger key in hex, refused unless the fingerprint names it."""
    from sync.client import HubConnection
    from verifier.key_fingerprint import fingerprint_matches, key_fingerprint, normalise_fingerprint

    normalise_fingerprint(req.fingerprint)  # a malformed one is refused before the network
    status = HubConnection(req.hub, timeout=10.0, deadline=30.0).status()
    key_hex = status.get("ledger_key")
    try:
        key = bytes.fromhex(key_hex) if isinstance(key_hex, str) else b""
    except ValueError:
        key = b""
    if len(key) != 32:
        raise SyncError(f"hub {req.hub} gave no ledger key in /v1/status (got {key_hex!r})")
    if not fingerprint_matches(req.fingerprint, key):
        raise SyncError(
            f"hub {req.hub} signs with ledger key {key_fingerprint(key)}, not "
            f"{req.fingerprint}: nothing was written. Check the hub URL and the "
            "fingerprint the hub operator gave (gate hub init prints it)"
        )
    return key.hex()


# -- writing ---------------------------------------------------------------------------------


def _write_atomically(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(temp, mode)
    os.replace(temp, path)


def _same_settings(old: str, new: str) -> bool:
    try:
        return tomllib.loads(old) == tomllib.loads(new)
    except tomllib.TOMLDecodeError:
        return False


def write_config(req: Request, text: str, paths: Paths, out: Outcome) -> None:
    if paths.config.exists():
        old = paths.config.read_text(encoding="utf-8", errors="replace")
        if _same_settings(old, text):
            out.lines.append(f"kept {paths.config} (same settings)")
            return
        backup = paths.config.with_name(paths.config.name + ".bak")
        _write_atomically(backup, old, 0o644)
        _write_atomically(paths.config, text, 0o644)
        out.lines.append(f"wrote {paths.config} (the previous one kept as {backup.name})")
        return
    _write_atomically(paths.config, text, 0o644)
    out.lines.append(f"wrote {paths.config}")


def _refuse_other_device(req: Request, paths: Paths) -> None:
    """A unit already provisioned as another device keeps that identity unless the
    technician moves its state aside (its unsent admissions belong to that id)."""
    if not paths.config.exists():
        return
    try:
        held = tomllib.loads(paths.config.read_text(encoding="utf-8")).get("device")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return  # a damaged file is replaced (and kept as .bak)
    key_file = paths.state / "device.key"
    if held not in (None, req.device) and key_file.exists():
        raise ConfigError(
            f"{paths.config} provisions this unit as device {held!r}, and its state "
            f"{paths.state} holds that device's key and records; to make it {req.device!r}, "
            "first upload its records (gate sync once), then move the state directory "
            "aside and re-run"
        )


def _chown_tree(top: Path, owner: Owner) -> None:
    if os.geteuid() != 0:
        return
    for path in [top, *top.rglob("*")]:
        os.lchown(path, owner.uid, owner.gid)


def make_state(cfg: Any, paths: Paths, owner: Owner, out: Outcome) -> None:
    """The state directory (0700) and the device key (0600), owned by the service user;
    an existing key and record log are kept."""
    from .assembly import open_checkpoint

    existed = (paths.state / "device.key").exists()
    paths.state.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.state, 0o700)
    with closing(open_checkpoint(cfg)) as cp:
        public = cp.public_key.hex()
        records = cp.log.count()
    _chown_tree(paths.state, owner)
    if existed:
        out.lines.append(
            f"kept the device key in {paths.state} (public key {public[:16]}…) and its "
            f"record log ({records} record(s))"
        )
    else:
        out.lines.append(f"made {paths.state} and a device key (public key {public[:16]}…)")


def enrol(cfg: Any, req: Request, paths: Paths, out: Outcome) -> bool:
    from sync.client import HubClient

    from .assembly import open_checkpoint

    note = paths.state / ENROLMENT_FILE
    with closing(open_checkpoint(cfg)) as cp:
        public = cp.public_key.hex()
        held = _read_note(note)
        # The hub is known by its ledger key, not its URL (a hub may move to a new name).
        if held.get("ledger_key") == cfg.ledger_key.hex() and held.get("public_key") == public:
            out.lines.append(
                f"kept the enrolment with the hub (made {held.get('at', '?')} at "
                f"{held.get('hub', '?')})"
            )
            return True
        try:
            HubClient(req.hub, cp).enrol(req.code)
        except SyncError as exc:
            _say(f"gate: {exc} (hub {req.hub})")
            _say(
                "gate: the configuration and device key are kept; re-run with a new code "
                "from the hub operator (gate hub enrol-code)"
            )
            return False
    record = {
        "hub": req.hub,
        "ledger_key": cfg.ledger_key.hex(),
        "device": req.device,
        "public_key": public,
        "at": _now_text(),
    }
    _write_atomically(note, json.dumps(record, indent=1) + "\n", 0o600)
    out.lines.append(f"enrolled {req.device} with {req.hub}")
    return True


def _read_note(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _now_text() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())


def first_sync(cfg: Any, req: Request, out: Outcome) -> bool:
    from sync.client import HubClient

    from .assembly import open_checkpoint
    from .sync_progress import SyncProgress

    with closing(open_checkpoint(cfg)) as cp:
        client = HubClient(req.hub, cp, batch=cfg.lane.hub_batch)
        try:
            with SyncProgress() as progress:
                pulled = client.pull(progress)
            pushed = client.push()
        except SyncError as exc:
            _say(f"gate: first sync with {req.hub} failed: {exc}")
            return False
        tickets = cp.status().get("tickets")
    for problem in (pulled.error, pushed.error):
        if problem:
            _say(f"gate: first sync: {problem}")
            return False
    out.lines.append(
        f"synced: ledger height {pulled.height}"
        + (f", {tickets} ticket(s)" if tickets is not None else "")
        + f"; {pushed.sent} record(s) uploaded"
    )
    return True


def boot_pins(cfg: Any, paths: Paths, out: Outcome) -> None:
    lane = cfg.lane
    urls = (lane.relay, lane.green, lane.red, lane.buzzer, lane.sensor)
    if not any(u and u.startswith("gpio:") for u in urls):
        return  # serial boards and sims: nothing for the firmware to hold at power-on
    from .boot_pins import write_pins

    boot = paths.boot_config()
    if boot is None:
        out.lines.append(
            f"skipped the boot pins: no {' or '.join(str(paths.root / b) for b in BOOT_CONFIGS)}"
            " (not a Raspberry Pi OS tree?); relays float at power-on until gate run starts"
        )
        return
    changed = write_pins(boot, cfg)
    out.lines.append(
        f"{'wrote' if changed else 'kept'} the relay and indicator pins in {boot} "
        "(resting levels from power-on)"
    )


def provision(req: Request) -> int:
    """Run every step; the exit code is 0 done, 1 a step failed (said why), 2 refused
    before anything was written."""
    paths = Paths.under(req.root)
    out = Outcome()
    _check_request(req)
    owner = _service_owner(req, paths)
    _check_ownership_possible(owner)
    _say(f"checking the hub at {req.hub} …")
    ledger_key = check_hub_key(req)
    _say("the hub's ledger key matches the fingerprint")
    text = config_text(req, ledger_key, paths)
    cfg = parse_config(tomllib.loads(text), paths.config)  # as gate config check does
    _refuse_other_device(req, paths)

    write_config(req, text, paths, out)
    make_state(cfg, paths, owner, out)
    _flush(out)
    if not enrol(cfg, req, paths, out):
        _chown_tree(paths.state, owner)
        return 1
    _flush(out)
    synced = first_sync(cfg, req, out)
    _chown_tree(paths.state, owner)
    if not synced:
        _say("gate: re-run gate provision (it keeps what is done) once the hub answers")
        return 1
    boot_pins(cfg, paths, out)
    _flush(out)
    if req.selftest:  # an SD-card image being built has no camera: --no-selftest
        from .lanetools import selftest

        _say("self-test:")
        passed = selftest(cfg, pulse=False) == 0
        _chown_tree(paths.state, owner)
        if not passed:
            _say("gate: the self-test failed: see the FAIL lines; gate doctor says more")
            return 1
    _say(_next_steps(req, paths))
    return 0


def _flush(out: Outcome) -> None:
    for line in out.lines:
        _say(line)
    out.lines.clear()


def _next_steps(req: Request, paths: Paths) -> str:
    config = f"/{CONFIG_FILE}"
    return "\n".join(
        [
            f"{req.device} is provisioned. Next:",
            "  sudo systemctl enable --now gatehouse      # the lane daemon",
            f"  sudo -u {req.user} gate -c {config} doctor     # every check, with what to do",
            f"  gate -c {config} ctl status              # the running lane (group gatehouse)",
            "  wire and test the turnstile: docs/technicians.md, 'Wiring'",
        ]
    )


def main_args_to_request(args: Any) -> Request:
    events = tuple(e.strip() for e in args.events.split(",") if e.strip())
    return Request(
        hub=args.hub,
        code=args.code,
        fingerprint=args.ledger_key_fingerprint,
        device=args.device,
        events=events,
        zone=args.zone,
        camera=args.camera,
        relay=args.relay,
        green=args.green,
        red=args.red,
        sensor=args.sensor,
        passage_timeout=args.passage_timeout,
        peer_listen=args.peer_listen,
        peers=tuple(args.peer or ()),
        discover_peers=args.discover_peers,
        root=Path(args.root),
        user=args.user,
        selftest=not args.no_selftest,
    )


__all__ = ["Request", "config_text", "main_args_to_request", "provision"]
