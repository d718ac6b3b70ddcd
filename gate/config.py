"""The gate's configuration: one TOML file, read strictly.

Unknown keys, wrong types and missing required keys are errors that name the file and
the key, in the manner of Frigate's ``extra="forbid"`` and Klipper's range checks: a
typo in a turnstile's configuration must stop it at start-up with a clear message, not
run it with a default nobody chose.

Keys (top level)::

    device     = "north-1"                 # this gate's id: [A-Za-z0-9._-]{1,64}
    ledger_key = "d7e9…"                   # the ledger authority's public key, 64 hex
    state_dir  = "/var/lib/gatehouse"      # relative paths are relative to this file
    events     = ["pub-expo"]              # event ids this gate admits
    zone       = "north"                   # optional: this gate's zone
    back       = 2                         # optional: steps a code may be old (15 s each)
    fwd        = 1                         # optional: steps a code may be ahead

Sections for the lane daemon (``gate run``); each is optional for the other commands::

    [camera]      url = "v4l2:/dev/video0?width=1280&height=720"   # or images:, file:,
                                                                   # synthetic:, serial:
    [decoder]     name = "zxing"                   # scanner.DECODERS; default DEFAULT_DECODER
    [relay]       url = "gpio:17?active=low&pulse_ms=800"
    [indicators]  green = "sim:green"   red = "sim:red"   buzzer = "sim:buzzer"
    [sensor]      url = "gpio:27?edge=falling"   passage_timeout = 10   # seconds
    [lane]        mode = "normal"   debounce = 3.0                 # seconds
    [hub]         url = "https://hub.example:8443"   max_ledger_age = 120   max_clock_skew = 30
                  batch = 500                       # records per upload request (1-5000)
    [control]     socket = "/run/gatehouse/control.sock"   group = "gatehouse"
                  # gate run's control socket (docs/control.md); relative paths are
                  # relative to this file; the group's members may use it (gate ctl)
    [peers]       listen = "0.0.0.0:7445"            # the peer service (docs/peers.md)
                  urls = ["http://10.0.0.12:7445"]   discover = false   # mDNS
                  interval = 1.0   fanout = 3        # seconds between rounds; peers each
                  direct_peers = 8                   # beyond: two relays batch for all

Every driver URL (camera, relay, indicators, sensor) is checked here by its own driver,
scheme, path and options, without opening a device or loading a device library, so a
typo such as ``gpio:17?actve=low`` stops ``gate config check`` and ``gate run`` alike
with the file, the key, the bad part and the choices.

``SCHEMA`` (top-level keys) and ``SECTIONS`` are the one table of keys: the validator
reads each key's check, form and default there, and the reference in
docs/configuration.md is generated from the same entries, meanings included
(``python -m gate.config_reference``), so the two cannot drift apart.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any

from drivers import Registry
from errors import BadDriverURL, ConfigError
from hardware import OUTPUTS, SENSORS
from scanner.decoders import DECODERS, DEFAULT_DECODER
from scanner.sources import SOURCES
from verifier import Policy
from verifier.keys import is_valid_point

ENV_VAR = "GATEHOUSE_CONFIG"
MAX_STEPS = 240  # one hour of 15-second steps; a wider window defeats the rotating code

_DEVICE = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")
_EVENT = re.compile(r"[a-z0-9-]{1,64}\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


@dataclass(frozen=True, slots=True)
class LaneConfig:
    """The daemon's sections; None where a section is absent."""

    camera: str | None = None
    decoder: str | None = None
    relay: str | None = None
    green: str | None = None
    red: str | None = None
    buzzer: str | None = None
    sensor: str | None = None
    passage_timeout: float = 10.0
    mode: str = "normal"
    debounce: float = 3.0
    hub: str | None = None
    max_ledger_age: float = 120.0
    max_clock_skew: float = 30.0
    hub_batch: int = 500


#: The defaults above, read where a key is absent (the sync alarm thresholds are here only).
LANE_DEFAULTS = LaneConfig()


#: Where ``gate run`` listens for ``gate ctl`` and the steward console, and who may talk.
DEFAULT_CONTROL_SOCKET = "/run/gatehouse/control.sock"
DEFAULT_CONTROL_GROUP = "gatehouse"


@dataclass(frozen=True, slots=True)
class ControlConfig:
    """The ``[control]`` section: the daemon's control socket and the group it serves."""

    socket: Path = Path(DEFAULT_CONTROL_SOCKET)
    group: str = DEFAULT_CONTROL_GROUP


@dataclass(frozen=True, slots=True)
class PeersConfig:
    """The ``[peers]`` section: the peer exchange on the venue LAN (docs/peers.md)."""

    host: str
    port: int
    urls: tuple[str, ...] = ()
    discover: bool = False
    interval: float = 1.0
    fanout: int = 3
    direct_peers: int = 8

    @property
    def bind(self) -> str | None:
        """The address to send from: the listen address when it names one."""
        return None if self.host in ("0.0.0.0", "::", "") else self.host


@dataclass(frozen=True, slots=True)
class GateConfig:
    """A validated configuration."""

    path: Path
    device: str
    ledger_key: bytes
    state_dir: Path
    policy: Policy
    lane: LaneConfig = LaneConfig()
    control: ControlConfig = ControlConfig()
    peers: PeersConfig | None = None


@dataclass(frozen=True, slots=True)
class Key:
    """One configuration key: whether it is required, its form in words, and its check.

    The same entry feeds the validator and the generated reference
    (``python -m gate.config_reference``, docs/configuration.md), so what a technician
    reads there is what ``gate config check`` enforces: ``toml_type`` and ``meaning`` are
    required for that reason, and ``example`` is a valid value for a key that has no
    default (the reference's example configuration is built from it and must parse).
    """

    required: bool
    form: str
    check: Callable[[Any], bool]
    default: Any = None
    _: KW_ONLY
    toml_type: str
    meaning: str
    example: Any = None


@dataclass(frozen=True, slots=True)
class Section:
    """One ``[section]`` of the file: what it is for (one line) and its keys."""

    meaning: str
    keys: Mapping[str, Key]


def _is_int(v: Any) -> bool:
    return type(v) is int


SCHEMA: Mapping[str, Key] = {
    "device": Key(
        True,
        "a string of letters, digits, '.', '_' or '-' (1-64)",
        lambda v: type(v) is str and bool(_DEVICE.match(v)),
        toml_type="string",
        meaning="this gate's id, written into every record it signs and enrolled with the hub",
        example="north-1",
    ),
    "ledger_key": Key(
        True,
        "64 lowercase hex digits of a valid Ed25519 public key",
        lambda v: type(v) is str and bool(_HEX64.match(v)) and is_valid_point(bytes.fromhex(v)),
        toml_type="string",
        meaning="the ledger authority's public key; blocks signed by any other key are refused",
        example="d7e9f1dae8d2dca89d2703a270b6bcb88a22fab28cedda703eb33bcfa1038340",
    ),
    "state_dir": Key(
        True,
        "a directory path string",
        lambda v: type(v) is str and v != "",
        toml_type="string",
        meaning="where ledger.db, records.db, peers.db and the device key live "
        "(relative: to this file)",
        example="/var/lib/gatehouse",
    ),
    "events": Key(
        True,
        "a non-empty list of event ids ([a-z0-9-]{1,64})",
        lambda v: (
            type(v) is list and len(v) > 0 and all(type(e) is str and _EVENT.match(e) for e in v)
        ),
        toml_type="array of strings",
        meaning="the events this gate admits tickets for",
        example=["pub-expo"],
    ),
    "zone": Key(
        False,
        "a non-empty string",
        lambda v: type(v) is str and v != "",
        toml_type="string",
        meaning="this gate's zone; absent: tickets of any zone pass",
        example="north",
    ),
    "back": Key(
        False,
        f"an integer from 0 to {MAX_STEPS}",
        lambda v: _is_int(v) and 0 <= v <= MAX_STEPS,
        2,
        toml_type="integer",
        meaning="how many 15-second steps a wallet's code may be behind this gate's clock",
    ),
    "fwd": Key(
        False,
        f"an integer from 0 to {MAX_STEPS}",
        lambda v: _is_int(v) and 0 <= v <= MAX_STEPS,
        1,
        toml_type="integer",
        meaning="how many 15-second steps a wallet's code may be ahead of this gate's clock",
    ),
}


def _url(v: Any) -> bool:
    return type(v) is str and ":" in v and v.split(":", 1)[0].isidentifier()


def _seconds(low: float, high: float) -> Callable[[Any], bool]:
    return lambda v: type(v) in (int, float) and low <= v <= high


_LISTEN = re.compile(
    r"(?P<host>[0-9.]{7,15}|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):(?P<port>[0-9]{1,5})\Z"
)
_PEER_URL = re.compile(r"http://[A-Za-z0-9.\[\]:-]{1,300}(:[0-9]{1,5})?/?\Z")


def _listen(v: Any) -> bool:
    found = type(v) is str and _LISTEN.match(v)
    return bool(found) and 1 <= int(found["port"]) <= 65535


_GROUP = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,31}\$?\Z")
_URL = "a driver URL string such as 'sim:relay' or 'gpio:17?active=low'"
SECTIONS: Mapping[str, Section] = {
    "camera": Section(
        "the frame source the lane reads codes from (gate run needs it)",
        {
            "url": Key(
                True,
                "a source URL such as 'v4l2:/dev/video0' or 'images:DIR'",
                _url,
                toml_type="string",
                meaning="which camera, video file, image folder or serial scanner, and its options",
                example="v4l2:/dev/video0?width=1280&height=720",
            )
        },
    ),
    "decoder": Section(
        "the QR decoder run on each frame",
        {
            "name": Key(
                False,
                f"one of {', '.join(DECODERS.names)}",
                lambda v: type(v) is str and v in DECODERS,
                DEFAULT_DECODER,
                toml_type="string",
                meaning="the decoder library; the default was chosen by measurement "
                "(docs/scanner.md)",
            )
        },
    ),
    "relay": Section(
        "the turnstile's relay (gate run needs it)",
        {
            "url": Key(
                True,
                _URL,
                _url,
                toml_type="string",
                meaning="the output that releases the turnstile; docs/wiring.md has the "
                "resting states",
                example="gpio:17?active=low&pulse_ms=800",
            )
        },
    ),
    "indicators": Section(
        "the lane's lamps and buzzer; each is optional",
        {
            "green": Key(
                False,
                _URL,
                _url,
                toml_type="string",
                meaning="the lamp lit on an admission; absent: none",
                example="sim:green",
            ),
            "red": Key(
                False,
                _URL,
                _url,
                toml_type="string",
                meaning="the lamp lit on a refusal; absent: none",
                example="sim:red",
            ),
            "buzzer": Key(
                False,
                _URL,
                _url,
                toml_type="string",
                meaning="the buzzer sounded on a refusal; absent: none",
                example="sim:buzzer",
            ),
        },
    ),
    "sensor": Section(
        "the passage sensor that sees a person go through",
        {
            "url": Key(
                True,
                _URL,
                _url,
                toml_type="string",
                meaning="the sensor input; without it no admission is voided for want of a passage",
                example="gpio:27?edge=falling",
            ),
            "passage_timeout": Key(
                False,
                "seconds from 1 to 120",
                _seconds(1, 120),
                LANE_DEFAULTS.passage_timeout,
                toml_type="number",
                meaning="an admission with no passage within this is voided, so the "
                "ticket can be used again",
            ),
        },
    ),
    "lane": Section(
        "how the lane runs",
        {
            "mode": Key(
                False,
                "one of normal, closed, free",
                lambda v: v in ("normal", "closed", "free"),
                LANE_DEFAULTS.mode,
                toml_type="string",
                meaning="the mode at start-up: decide; refuse every scan; or hold the "
                "turnstile open for emergency egress",
            ),
            "debounce": Key(
                False,
                "seconds from 0.1 to 60",
                _seconds(0.1, 60),
                LANE_DEFAULTS.debounce,
                toml_type="number",
                meaning="how long the same code held under the camera is read as one",
            ),
        },
    ),
    "hub": Section(
        "the venue's hub: where the ledger comes from and the records go",
        {
            "url": Key(
                True,
                "an http:// or https:// URL of the hub",
                lambda v: type(v) is str and v.startswith(("http://", "https://")),
                toml_type="string",
                meaning="the hub's address (docs/hub-api.md)",
                example="https://hub.example:8443",
            ),
            "max_ledger_age": Key(
                False,
                "seconds from 10 to 86400",
                _seconds(10, 86400),
                LANE_DEFAULTS.max_ledger_age,
                toml_type="number",
                meaning="a ledger copy older than this raises the ledger_stale alarm",
            ),
            "max_clock_skew": Key(
                False,
                "seconds from 1 to 3600",
                _seconds(1, 3600),
                LANE_DEFAULTS.max_clock_skew,
                toml_type="number",
                meaning="a clock further than this from the hub's raises the clock_skew alarm",
            ),
            "batch": Key(
                False,
                "an integer from 1 to 5000 (records per upload request)",
                lambda v: _is_int(v) and 1 <= v <= 5000,
                LANE_DEFAULTS.hub_batch,
                toml_type="integer",
                meaning="records per upload request; smaller loses less on a link that "
                "keeps breaking",
            ),
        },
    ),
    "control": Section(
        "the daemon's control socket for gate ctl and the steward console (docs/control.md)",
        {
            "socket": Key(
                False,
                "a path string for the control socket",
                lambda v: type(v) is str and v != "" and "\0" not in v,
                DEFAULT_CONTROL_SOCKET,
                toml_type="string",
                meaning="where gate run listens (relative: to this file)",
            ),
            "group": Key(
                False,
                "a group name (letters, digits, '.', '_', '-'; at most 32)",
                lambda v: type(v) is str and bool(_GROUP.match(v)),
                DEFAULT_CONTROL_GROUP,
                toml_type="string",
                meaning="the Unix group whose members may use the socket",
            ),
        },
    ),
    "peers": Section(
        "the record exchange with the venue's other gates on the LAN (docs/peers.md)",
        {
            "listen": Key(
                True,
                "'HOST:PORT' to serve the peer port on, such as '0.0.0.0:7445'",
                _listen,
                toml_type="string",
                meaning="the address the peer service listens on",
                example="0.0.0.0:7445",
            ),
            "urls": Key(
                False,
                "a list of peer URLs such as 'http://10.0.0.12:7445'",
                lambda v: type(v) is list and all(type(u) is str and _PEER_URL.match(u) for u in v),
                [],
                toml_type="array of strings",
                meaning="the other gates' peer ports, listed by hand",
            ),
            "discover": Key(
                False,
                "true or false (find peers by mDNS)",
                lambda v: type(v) is bool,
                False,
                toml_type="boolean",
                meaning="find the other gates by mDNS (needs gatehouse[peers])",
            ),
            "interval": Key(
                False,
                "seconds from 0.2 to 60",
                _seconds(0.2, 60),
                1.0,
                toml_type="number",
                meaning="seconds between rounds that even out records with peers",
            ),
            "fanout": Key(
                False,
                "an integer from 1 to 64 (peers evened out each round)",
                lambda v: _is_int(v) and 1 <= v <= 64,
                3,
                toml_type="integer",
                meaning="how many peers each round evens out with",
            ),
            "direct_peers": Key(
                False,
                "an integer from 1 to 256 (peers a record is pushed to directly)",
                lambda v: _is_int(v) and 1 <= v <= 256,
                8,
                toml_type="integer",
                meaning="up to this many peers, each record is pushed to every peer; "
                "beyond, to two relays that pass records on in batches",
            ),
        },
    ),
}


#: (section, key) -> the registry of drivers for that URL. Its ``check`` raises
#: BadDriverURL naming the bad part and the choices, and opens nothing; its ``names``
#: are the schemes the reference lists for the key.
DRIVER_URLS: Mapping[tuple[str, str], Registry] = {
    ("camera", "url"): SOURCES,
    ("relay", "url"): OUTPUTS,
    ("indicators", "green"): OUTPUTS,
    ("indicators", "red"): OUTPUTS,
    ("indicators", "buzzer"): OUTPUTS,
    ("sensor", "url"): SENSORS,
}


def _check_driver_urls(sections: Mapping[str, Mapping[str, Any]], path: Path) -> None:
    """Each configured driver URL checked by its driver; the error keeps its class
    (``UnknownScheme``, ``BadDriverURL``) and gains the file and the key."""
    for (section, key), registry in DRIVER_URLS.items():
        url = sections.get(section, {}).get(key)
        if url is None:
            continue
        try:
            registry.check(url)
        except BadDriverURL as exc:
            raise type(exc)(f"{path}: key '{section}.{key}': {exc}") from None


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def config_path(explicit: str | None) -> Path:
    """The configuration file: ``-c PATH`` if given, else ``$GATEHOUSE_CONFIG``."""
    chosen = explicit or os.environ.get(ENV_VAR)
    if not chosen:
        raise ConfigError(f"no configuration file: pass -c PATH or set {ENV_VAR}")
    return Path(chosen)


def parse_config(data: Mapping[str, Any], path: Path) -> GateConfig:
    """Validate a parsed TOML document; every error names ``path`` and the key."""
    top = {k: v for k, v in data.items() if k not in SECTIONS}
    values = _validate(top, SCHEMA, path, "")
    sections: dict[str, dict[str, Any]] = {}
    for name, section in SECTIONS.items():
        if name in data:
            if type(data[name]) is not dict:
                raise ConfigError(f"{path}: [{name}] must be a table")
            sections[name] = _validate(data[name], section.keys, path, f"{name}.")
    _check_driver_urls(sections, path)
    state_dir = Path(values["state_dir"]).expanduser()
    if not state_dir.is_absolute():
        state_dir = Path(os.path.normpath(path.parent / state_dir))
    policy = Policy(
        events=frozenset(values["events"]),
        zone=values["zone"],
        back=values["back"],
        fwd=values["fwd"],
    )

    def get(section: str, key: str) -> Any:
        # An absent section reads its keys' defaults from the same table as a present one.
        return sections.get(section, {}).get(key, SECTIONS[section].keys[key].default)

    lane = LaneConfig(
        camera=get("camera", "url"),
        decoder=get("decoder", "name"),
        relay=get("relay", "url"),
        green=get("indicators", "green"),
        red=get("indicators", "red"),
        buzzer=get("indicators", "buzzer"),
        sensor=get("sensor", "url"),
        passage_timeout=float(get("sensor", "passage_timeout")),
        mode=get("lane", "mode"),
        debounce=float(get("lane", "debounce")),
        hub=get("hub", "url"),
        max_ledger_age=float(get("hub", "max_ledger_age")),
        max_clock_skew=float(get("hub", "max_clock_skew")),
        hub_batch=get("hub", "batch"),
    )
    socket_path = Path(get("control", "socket")).expanduser()
    if not socket_path.is_absolute():
        socket_path = Path(os.path.normpath(path.parent / socket_path))
    peers = None
    if "peers" in sections:
        section = sections["peers"]
        if section["discover"] and importlib.util.find_spec("zeroconf") is None:
            raise ConfigError(
                f"{path}: key 'peers.discover' is true, but python-zeroconf is not installed "
                "(install gatehouse[peers], or list the peers in 'peers.urls')"
            )
        host, _, port = section["listen"].rpartition(":")
        peers = PeersConfig(
            host=host.strip("[]"),
            port=int(port),
            urls=tuple(u.rstrip("/") for u in section["urls"]),
            discover=section["discover"],
            interval=float(section["interval"]),
            fanout=section["fanout"],
            direct_peers=section["direct_peers"],
        )
    return GateConfig(
        path=path,
        device=values["device"],
        ledger_key=bytes.fromhex(values["ledger_key"]),
        state_dir=state_dir,
        policy=policy,
        lane=lane,
        control=ControlConfig(socket=socket_path, group=get("control", "group")),
        peers=peers,
    )


def _validate(
    data: Mapping[str, Any], schema: Mapping[str, Key], path: Path, prefix: str
) -> dict[str, Any]:
    """Check one table against its schema; errors name the file and the dotted key."""
    for key in data:
        if key not in schema:
            known = ", ".join(schema) if prefix else ", ".join([*schema, *SECTIONS])
            raise ConfigError(f"{path}: unknown key {prefix + key!r} (known keys: {known})")
    values: dict[str, Any] = {}
    for key, spec in schema.items():
        if key not in data:
            if spec.required:
                raise ConfigError(f"{path}: missing required key {prefix + key!r} ({spec.form})")
            values[key] = spec.default
            continue
        value = data[key]
        if not spec.check(value):
            shown = "" if isinstance(value, (list, dict)) else f" {value!r}"
            raise ConfigError(
                f"{path}: key {prefix + key!r} must be {spec.form}; got {_type_name(value)}{shown}"[
                    :300
                ]
            )
        values[key] = value
    return values


def load_config(path: Path) -> GateConfig:
    """Read and validate the TOML file at ``path``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, path)
