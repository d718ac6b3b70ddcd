"""Driver URLs: ``scheme:path?option=value&...``, parsed strictly.

A source or decoder is configured by one string in the gate's TOML, so a typo must be
an error that names the typo, not a silently ignored option (the habit of Frigate's
``extra="forbid"``). Each handler declares the options it knows; anything else is a
:class:`~verifier.exceptions.BadDriverURL` naming the option and the known ones.

Forms accepted for the path: ``v4l2:/dev/video0``, ``v4l2:///dev/video0`` (URL style,
empty host), ``file:clip.mp4`` (relative to the working directory), ``images:dir/``.
Percent-escapes in the path are decoded (``images:my%20dir``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from verifier.exceptions import BadDriverURL

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass
class DriverURL:
    """A parsed driver URL. Handlers read options with the typed ``get_*`` methods."""

    text: str
    scheme: str
    path: str
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> DriverURL:
        """Split ``text`` into scheme, path and options; duplicates are an error."""
        if not isinstance(text, str) or ":" not in text:
            raise BadDriverURL(f"{text!r} is not a driver URL (expected scheme:path?options, "
                               "e.g. v4l2:/dev/video0?width=1280)")
        scheme, rest = text.split(":", 1)
        scheme = scheme.strip().lower()
        if not _SCHEME.fullmatch(scheme):
            raise BadDriverURL(f"{text!r}: {scheme!r} is not a scheme name")
        path, _, query = rest.partition("?")
        if path.startswith("//"):
            if not path.startswith("///"):
                raise BadDriverURL(f"{text!r}: a host part is not supported; write "
                                   f"{scheme}:/absolute/path or {scheme}:relative/path")
            path = path[2:]
        options: dict[str, str] = {}
        if query:
            try:
                pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
            except ValueError:
                raise BadDriverURL(f"{text!r}: options must be name=value joined by &") from None
            for name, value in pairs:
                if name in options:
                    raise BadDriverURL(f"{text!r}: option {name!r} is given twice")
                options[name] = value
        return cls(text=text, scheme=scheme, path=unquote(path), options=options)

    def check_options(self, known: Iterable[str]) -> None:
        """Refuse any option not in ``known``, naming it and the ones this scheme takes."""
        known = tuple(known)
        for name in self.options:
            if name not in known:
                takes = ", ".join(known) if known else "no options"
                raise BadDriverURL(f"{self.text!r}: unknown option {name!r}; "
                                   f"{self.scheme}: takes {takes}")

    def _bad(self, name: str, value: str, expected: str) -> BadDriverURL:
        return BadDriverURL(f"{self.text!r}: option {name}={value!r} is invalid; "
                            f"expected {expected}")

    def get_int(self, name: str, default: int, *, low: int | None = None,
                high: int | None = None) -> int:
        """An integer option within [low, high]."""
        raw = self.options.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise self._bad(name, raw, "an integer") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise self._bad(name, raw, f"an integer from {low} to {high}")
        return value

    def get_float(self, name: str, default: float, *, low: float | None = None,
                  high: float | None = None) -> float:
        """A number option within [low, high]."""
        raw = self.options.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise self._bad(name, raw, "a number") from None
        if value != value or (low is not None and value < low) or (
                high is not None and value > high):
            raise self._bad(name, raw, f"a number from {low} to {high}")
        return value

    def get_bool(self, name: str, default: bool) -> bool:
        """A yes/no option: 1/0, true/false, yes/no, on/off."""
        raw = self.options.get(name)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise self._bad(name, raw, "1/0, true/false, yes/no or on/off")

    def get_str(self, name: str, default: str, *, choices: Iterable[str] | None = None) -> str:
        """A text option, optionally one of ``choices``."""
        raw = self.options.get(name)
        if raw is None:
            return default
        if choices is not None:
            allowed = tuple(choices)
            if raw not in allowed:
                raise self._bad(name, raw, "one of " + ", ".join(allowed))
        return raw

    def get_list(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """A comma-separated option; empty items are refused."""
        raw = self.options.get(name)
        if raw is None:
            return default
        items = tuple(item.strip() for item in raw.split(","))
        if not raw or any(not item for item in items):
            raise self._bad(name, raw, "a comma-separated list of names")
        return items

    def require_path(self, what: str) -> str:
        if not self.path:
            raise BadDriverURL(f"{self.text!r}: no {what} given "
                               f"(e.g. {self.scheme}:{_EXAMPLE_PATHS.get(self.scheme, 'PATH')})")
        return self.path

    def refuse_path(self) -> None:
        if self.path:
            raise BadDriverURL(f"{self.text!r}: {self.scheme}: takes no path, only options "
                               f"({self.scheme}:?name=value)")


_EXAMPLE_PATHS = {"v4l2": "/dev/video0", "file": "clip.mp4", "images": "frames/",
                  "serial": "/dev/ttyACM0"}
