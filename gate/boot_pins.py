"""The Raspberry Pi boot configuration's GPIO lines for this gate: what they should say,
what they say, and writing them.

Between power-on and the moment ``gate run`` sets its pins up, every header pin is what
the firmware makes it: by default an input, so an active-low relay module's IN line
floats (or is pulled low by the module) and the relay clicks on at every boot. The
firmware can set each pin's direction and level before Linux starts, from lines in
``config.txt`` such as::

    gpio=17=op,dh        # GPIO17 an output, driven high
    gpio=22,23=op,dl     # GPIO22 and GPIO23 outputs, driven low
    gpio=2-5=ip,pu       # GPIO2..5 inputs with the pull-up

For each ``gpio:`` output of the configuration (``relay.url``, ``indicators.*``) the
level at power-on must be the output's resting level: energised is high unless
``active=low``, and the resting state is ``rest=off`` (the default) or ``on``, so the
pin rests high when (active high) == (rest on): ``op,dh``, else ``op,dl``. A ``gpio:``
sensor gets its pull: ``pull=up|down|off`` (the driver's default is up) ->
``ip,pu|pd|pn``. The URLs are read by the drivers' own option parsers
(``GpioOutput.settings``, ``GpioSensor.settings``), never parsed again here.

Gatehouse's lines live in a sub-block between :data:`PINS_BEGIN` and :data:`PINS_END`,
inside the block firmware-config/install.sh installs (:data:`BLOCK_BEGIN` ..
:data:`BLOCK_END`). ``gate provision`` writes it (:func:`write_pins`) and ``gate
doctor`` checks the whole file (:func:`pin_problems`), because a line elsewhere in
``config.txt`` counts too.

Reading the file, simply (documented in docs/technicians.md): lines are read in order
and a later line wins, option by option (``gpio=17=op`` then ``gpio=17=dh`` is
``op,dh``); ``np`` is read as ``pn``. Lines under a conditional section (``[pi4]``,
``[cm4]``, ``[gpio4=1]`` ...) count as if they applied, and a finding about such a line
says which section it was under; lines under ``[none]`` apply to nothing and are
skipped; ``include`` lines are not followed.

Only ``drivers``-level code is imported (``hardware``'s URL checks and the gpio driver
classes, which load RPi.GPIO only when a pin is opened): light enough for ``gate
doctor`` and ``gate provision`` on any machine.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from errors import ConfigError
from hardware import OUTPUTS, SENSORS, check_output_url, check_sensor_url

if TYPE_CHECKING:
    from .config import GateConfig

PINS_BEGIN = (
    "# >>> gatehouse pins (gate provision writes these from gate.toml; gate doctor checks them)"
)
PINS_END = "# <<< gatehouse pins"
BLOCK_BEGIN = (
    "# >>> gatehouse (installed by firmware-config/install.sh; edit firmware-config/config.txt "
    "instead)"
)
BLOCK_END = "# <<< gatehouse"

#: Where the firmware reads its configuration: Bookworm and later, then older releases.
BOOT_CONFIGS = (Path("/boot/firmware/config.txt"), Path("/boot/config.txt"))

#: Config key -> the LaneConfig field, what it drives and what it does when energised.
_OUTPUT_KEYS = (
    ("relay.url", "relay", "the relay", "click on"),
    ("indicators.green", "green", "the green lamp", "light"),
    ("indicators.red", "red", "the red lamp", "light"),
    ("indicators.buzzer", "buzzer", "the buzzer", "sound"),
)
_PULLS = {"up": "pu", "down": "pd", "off": "pn"}
_PULL_WORDS = {"pu": "pull-up", "pd": "pull-down", "pn": "no pull"}
_GPIO_LINE = re.compile(r"gpio\s*=\s*([0-9,\s-]+?)\s*=\s*([A-Za-z0-9,\s]+)\Z", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PinLine:
    """One pin the gate uses and the boot setting it needs.

    ``setting`` is the firmware's option list (``op,dh``, ``op,dl``, ``ip,pu`` ...),
    ``key`` the configuration key that names the pin (``relay.url``), ``why`` the parts
    of its URL that decide the setting, in words (``active-low, rest off``).
    """

    pin: int
    setting: str
    key: str
    why: str
    url: str
    energised: str | None = None  # outputs: the level that energises, "high" or "low"

    @property
    def line(self) -> str:
        """The ``config.txt`` line: ``gpio=17=op,dh``."""
        return f"gpio={self.pin}={self.setting}"

    @property
    def is_output(self) -> bool:
        return self.setting.startswith("op")


@dataclass(frozen=True, slots=True)
class BootSetting:
    """What the boot configuration makes of one pin: the options in force and the line
    (1-based) and section (``None`` for the top or ``[all]``) of the last line that
    touched it."""

    function: str | None  # ip, op, a0..a5
    drive: str | None  # dh, dl
    pull: str | None  # pu, pd, pn
    line: int
    section: str | None

    @property
    def setting(self) -> str:
        """The options as one firmware list: ``op,dh``, ``ip,pu``, ``op`` ..."""
        extra = self.drive if self.function == "op" else self.pull
        parts = [p for p in (self.function, extra) if p]
        if self.function is None:  # only a drive or a pull was set
            parts = [p for p in (self.drive, self.pull) if p]
        return ",".join(parts)


def default_boot_config() -> Path:
    """``/boot/firmware/config.txt``, or ``/boot/config.txt`` where only that exists (Raspberry
    Pi OS before Bookworm); the first when neither does."""
    for path in BOOT_CONFIGS:
        if path.exists():
            return path
    return BOOT_CONFIGS[0]


# -- what the configuration needs ------------------------------------------------------------


def _output_line(key: str, url: str) -> PinLine:
    parsed = check_output_url(url)
    opts: dict[str, Any] = OUTPUTS.backend_class("gpio").settings(parsed)
    active_low, rest = bool(opts["active_low"]), bool(opts["rest"])
    high = (not active_low) == rest  # energised is high unless active-low
    why = f"active-{'low' if active_low else 'high'}, rest {'on' if rest else 'off'}"
    energised = "low" if active_low else "high"
    return PinLine(int(opts["pin"]), "op,dh" if high else "op,dl", key, why, url, energised)


def _sensor_line(key: str, url: str) -> PinLine:
    parsed = check_sensor_url(url)
    opts: dict[str, Any] = SENSORS.backend_class("gpio").settings(parsed)
    pull = str(opts["pull"])
    return PinLine(int(opts["pin"]), f"ip,{_PULLS[pull]}", key, f"pull {pull}", url)


def _gpio_urls(cfg: GateConfig) -> list[tuple[str, str]]:
    lane = cfg.lane
    urls = [(key, getattr(lane, field)) for key, field, *_ in _OUTPUT_KEYS]
    urls.append(("sensor.url", lane.sensor))
    return [(key, url) for key, url in urls if url and _scheme(url) == "gpio"]


def _scheme(url: str) -> str:
    return url.split(":", 1)[0].strip().lower()


def wanted_pins(cfg: GateConfig) -> list[PinLine]:
    """Every ``gpio:`` pin of ``cfg`` with the boot setting it needs, in configuration order
    (relay, green, red, buzzer, sensor). Two keys on one pin give two lines; see
    :func:`pin_problems`."""
    return [
        _sensor_line(key, url) if key == "sensor.url" else _output_line(key, url)
        for key, url in _gpio_urls(cfg)
    ]


def _shared_pins(lines: list[PinLine]) -> dict[int, list[str]]:
    keys: dict[int, list[str]] = {}
    for line in lines:
        keys.setdefault(line.pin, []).append(line.key)
    return {pin: names for pin, names in keys.items() if len(names) > 1}


def render_pins(cfg: GateConfig) -> str:
    """The pins sub-block for ``cfg``: the markers, and for each pin a comment naming its
    configuration key and URL, then its ``gpio=`` line. ``ConfigError`` when two keys
    share a pin (no boot setting can suit both)."""
    lines = wanted_pins(cfg)
    shared = _shared_pins(lines)
    if shared:
        pin, keys = next(iter(shared.items()))
        raise ConfigError(
            f"{cfg.path}: GPIO{pin} is used by {' and '.join(keys)}; give each part a pin "
            "of its own"
        )
    out = [PINS_BEGIN]
    for pin in lines:
        level = (
            f"resting level {'high' if pin.setting == 'op,dh' else 'low'}"
            if pin.is_output
            else _PULL_WORDS[pin.setting.split(",")[1]]
        )
        out.append(f"# {pin.key} = {pin.url} ({pin.why}: {level})")
        out.append(pin.line)
    if not lines:
        out.append(f"# no gpio: pins in {cfg.path}")
    out.append(PINS_END)
    return "\n".join(out) + "\n"


# -- what the boot configuration says --------------------------------------------------------


def _pins_of(spec: str) -> list[int] | None:
    """``17`` / ``17,22`` / ``2-5`` as pin numbers; None when not of that form."""
    pins: list[int] = []
    for part in spec.replace(" ", "").split(","):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            return None
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            return None
        pins.extend(range(first, last + 1))
    return pins


def read_settings(text: str) -> dict[int, BootSetting]:
    """Every pin a ``gpio=`` line of ``text`` (a ``config.txt``) sets, with the options in
    force after the last line that touched it (see the module's notes on sections)."""
    found: dict[int, BootSetting] = {}
    section: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip()
            section = None if name.lower() == "all" else name
            continue
        if section is not None and section.lower() == "none":
            continue
        match = _GPIO_LINE.match(line)
        if not match:
            continue
        pins = _pins_of(match.group(1))
        if pins is None:
            continue
        options = [o.strip().lower() for o in match.group(2).split(",") if o.strip()]
        for pin in pins:
            held = found.get(pin)
            function, drive, pull = (
                (held.function, held.drive, held.pull) if held else (None, None, None)
            )
            for option in options:
                if option in ("ip", "op") or re.fullmatch(r"a[0-5]", option):
                    function = option
                elif option in ("dh", "dl"):
                    drive = option
                elif option in ("pu", "pd", "pn", "np"):
                    pull = "pn" if option == "np" else option
            found[pin] = BootSetting(function, drive, pull, number, section)
    return found


def read_pins(text: str) -> dict[int, str]:
    """Pin -> the options the boot configuration ``text`` sets for it (``op,dh``)."""
    return {pin: held.setting for pin, held in read_settings(text).items()}


def _said(pin: int, held: BootSetting) -> str:
    """``(gpio=17=op,dl)``, naming the conditional section the line was under, if any."""
    where = "" if held.section is None else f", under [{held.section}]: that case only"
    return f"(gpio={pin}={held.setting or '?'}{where})"


def _floating(want: PinLine, noun: str) -> str:
    if "rest on" in want.why:
        return f"{noun} may be off at every boot until the daemon starts, though it rests on"
    return f"{noun} may {_switches_on(want.key)} at every boot until the daemon starts"


def _noun(key: str) -> str:
    return next((noun for k, _, noun, _ in _OUTPUT_KEYS if k == key), "the passage sensor")


def _switches_on(key: str) -> str:
    """``the relay would click on``'s verb: what the part does when energised."""
    return next((verb for k, _, _, verb in _OUTPUT_KEYS if k == key), "switch on")


def _problem(want: PinLine, held: BootSetting | None) -> str | None:
    head = f"GPIO{want.pin} ({want.key}, {want.why})"
    noun = _noun(want.key)
    if held is None:
        if want.is_output:
            return (
                f"{head}: not set in the boot config, so it floats at power-on and "
                f"{_floating(want, noun)}: add {want.line}"
            )
        return (
            f"{head}: not set in the boot config, so its pull at power-on is the "
            f"firmware's default, not the sensor's: add {want.line}"
        )
    got = held.setting
    if got == want.setting:
        return None
    said = _said(want.pin, held)
    if want.is_output:
        if held.function == "op" and held.drive in ("dh", "dl"):
            boot_high = held.drive == "dh"
            rest_high = want.setting == "op,dh"
            energised_high = want.energised == "high"
            consequence = (
                f"{noun} would {_switches_on(want.key)} at every boot until the daemon starts"
                if boot_high == energised_high
                else f"{noun} would be off at every boot until the daemon starts, though it "
                "rests on"
            )
            return (
                f"{head}: boot config drives it {'high' if boot_high else 'low'} at power-on "
                f"{said}, but its resting level is {'high' if rest_high else 'low'}; "
                f"{consequence}: set {want.line}"
            )
        return (
            f"{head}: boot config makes it {_function_words(held)} {said}, so its level at "
            f"power-on is not its resting level and {_floating(want, noun)}: set {want.line}"
        )
    if held.function == "op":
        return (
            f"{head}: boot config drives it as an output {said}, but it is "
            f"{noun}'s input, and a sensor driving the line could be damaged: set {want.line}"
        )
    return (
        f"{head}: boot config sets {_function_words(held)} {said}, but the sensor "
        f"uses {_PULL_WORDS[want.setting.split(',')[1]]}: set {want.line}"
    )


def _function_words(held: BootSetting) -> str:
    if held.function == "op":
        return "an output with no level"
    if held.function == "ip":
        return f"an input with {_PULL_WORDS.get(held.pull or '', 'the default pull')}"
    if held.function:
        return f"alternate function {held.function}"
    return f"only {held.setting or 'nothing'}"


def pin_problems(cfg: GateConfig, text: str) -> list[str]:
    """What is wrong with the boot configuration ``text`` for ``cfg``'s ``gpio:`` pins, one
    message each naming the pin, the key, what the file says and what it should: a pin
    set otherwise, a pin not set at all, two keys on one pin. Empty: nothing wrong."""
    wanted = wanted_pins(cfg)
    problems = [
        f"GPIO{pin} is used by {' and '.join(keys)}: two parts cannot share a pin; give "
        f"each its own in {cfg.path}"
        for pin, keys in _shared_pins(wanted).items()
    ]
    held = read_settings(text)
    for want in wanted:
        problem = _problem(want, held.get(want.pin))
        if problem:
            problems.append(problem)
    return problems


# -- writing the block -----------------------------------------------------------------------


def _find(lines: list[str], marker: str, start: int = 0) -> int | None:
    for i in range(start, len(lines)):
        if lines[i].rstrip("\r\n").rstrip() == marker:
            return i
    return None


def _closing(lines: list[str], begin: int, marker: str, path: Path, missing: str) -> int:
    """The line of ``marker`` closing the block opened at ``begin``; an unclosed block is
    refused (the file is kept as it is: a guess could cut the user's own lines)."""
    end = _find(lines, marker, begin + 1)
    if end is None:
        raise ConfigError(f"{path}:{begin + 1}: {missing}; repair the file by hand")
    return end


def _with_pins(text: str, block: str, path: Path) -> str:
    """``text`` with its pins sub-block replaced by ``block`` (or added to the gatehouse
    block, or appended inside a new gatehouse block); nothing else changes."""
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    block_lines = [line + newline for line in block.splitlines()]
    begin = _find(lines, PINS_BEGIN)
    if begin is not None:
        end = _closing(lines, begin, PINS_END, path, f"{PINS_BEGIN!r} has no {PINS_END!r} after it")
        return "".join(lines[:begin] + block_lines + lines[end + 1 :])
    outer = _find(lines, BLOCK_BEGIN)
    if outer is not None:
        end = _closing(
            lines, outer, BLOCK_END, path, f"the gatehouse block has no {BLOCK_END!r} line"
        )
        return "".join(lines[:end] + block_lines + lines[end:])
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += newline
    wrapped = [BLOCK_BEGIN + newline, *block_lines, BLOCK_END + newline]
    return "".join(lines + wrapped)


def write_pins(path: Path, cfg: GateConfig) -> bool:
    """Put ``cfg``'s pins sub-block into the boot configuration at ``path``: replaced in
    place, else added at the end of the gatehouse block, else appended inside a new
    gatehouse block (a missing file is created). Everything else in the file stays byte
    for byte. Atomic: a temporary file in the same directory, synced, renamed over the
    old one with its mode and owner. Returns whether the file changed."""
    block = render_pins(cfg)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw, st = b"", None
    else:
        st = path.stat()
    old = raw.decode("utf-8", "surrogateescape")
    new = _with_pins(old, block, path)
    if new == old and st is not None:
        return False
    tmp = path.with_name(f".{path.name}.gatehouse-{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            os.write(fd, new.encode("utf-8", "surrogateescape"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if st is not None:
            # On the Pi's FAT boot partition neither is possible nor needed.
            with contextlib.suppress(OSError):
                os.chmod(tmp, st.st_mode & 0o7777)
            with contextlib.suppress(OSError):
                os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return True
