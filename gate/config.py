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
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier import ConfigError, Policy
from verifier.keys import is_valid_point

ENV_VAR = "GATEHOUSE_CONFIG"
MAX_STEPS = 240  # one hour of 15-second steps; a wider window defeats the rotating code

_DEVICE = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")
_EVENT = re.compile(r"[a-z0-9-]{1,64}\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


@dataclass(frozen=True, slots=True)
class GateConfig:
    """A validated configuration."""

    path: Path
    device: str
    ledger_key: bytes
    state_dir: Path
    policy: Policy


@dataclass(frozen=True, slots=True)
class Key:
    """One configuration key: whether it is required, its form in words, and its check."""

    required: bool
    form: str
    check: Callable[[Any], bool]
    default: Any = None


def _is_int(v: Any) -> bool:
    return type(v) is int


SCHEMA: Mapping[str, Key] = {
    "device": Key(True, "a string of letters, digits, '.', '_' or '-' (1-64)",
                  lambda v: type(v) is str and bool(_DEVICE.match(v))),
    "ledger_key": Key(True, "64 lowercase hex digits of a valid Ed25519 public key",
                      lambda v: type(v) is str and bool(_HEX64.match(v))
                      and is_valid_point(bytes.fromhex(v))),
    "state_dir": Key(True, "a directory path string", lambda v: type(v) is str and v != ""),
    "events": Key(True, "a non-empty list of event ids ([a-z0-9-]{1,64})",
                  lambda v: type(v) is list and len(v) > 0
                  and all(type(e) is str and _EVENT.match(e) for e in v)),
    "zone": Key(False, "a non-empty string", lambda v: type(v) is str and v != ""),
    "back": Key(False, f"an integer from 0 to {MAX_STEPS}",
                lambda v: _is_int(v) and 0 <= v <= MAX_STEPS, 2),
    "fwd": Key(False, f"an integer from 0 to {MAX_STEPS}",
               lambda v: _is_int(v) and 0 <= v <= MAX_STEPS, 1),
}


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def config_path(explicit: str | None) -> Path:
    """The configuration file: ``-c PATH`` if given, else ``$GATEHOUSE_CONFIG``."""
    chosen = explicit or os.environ.get(ENV_VAR)
    if not chosen:
        raise ConfigError(f"no configuration file: pass -c PATH or set {ENV_VAR}")
    return Path(chosen)


def parse_config(data: Mapping[str, Any], path: Path) -> GateConfig:
    """Validate a parsed TOML document; every error names ``path`` and the key."""
    for key in data:
        if key not in SCHEMA:
            known = ", ".join(SCHEMA)
            raise ConfigError(f"{path}: unknown key {key!r} (known keys: {known})")
    values: dict[str, Any] = {}
    for key, spec in SCHEMA.items():
        if key not in data:
            if spec.required:
                raise ConfigError(f"{path}: missing required key {key!r} ({spec.form})")
            values[key] = spec.default
            continue
        value = data[key]
        if not spec.check(value):
            shown = repr(value) if not isinstance(value, (list, dict)) else _type_name(value)
            raise ConfigError(f"{path}: key {key!r} must be {spec.form}; got "
                              f"{_type_name(value)} {shown}"[:300])
        values[key] = value
    state_dir = Path(values["state_dir"]).expanduser()
    if not state_dir.is_absolute():
        state_dir = path.parent / state_dir
    policy = Policy(events=frozenset(values["events"]), zone=values["zone"],
                    back=values["back"], fwd=values["fwd"])
    return GateConfig(path=path, device=values["device"],
                      ledger_key=bytes.fromhex(values["ledger_key"]), state_dir=state_dir,
                      policy=policy)


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
