"""Driver URLs: ``scheme:path?option=value&...``, parsed strictly, for every driver.

A technician types these into the configuration (``v4l2:/dev/video0?width=1280``,
``gpio:17?active=low``, ``serial:/dev/ttyUSB0?board=lcus&channel=1``, ``sim:``), so a
typo must fail loudly at start-up with the URL and the option named, never be ignored:
a misspelt ``rest=on`` silently read as the default could leave a fail-safe turnstile
locked on power loss (the habit of Frigate's ``extra="forbid"``).

Forms of the path: ``v4l2:/dev/video0``; ``v4l2:///dev/video0`` (URL style, an empty
host); ``file:clip.mp4`` (relative to the working directory). Anything after the first
``:`` up to ``?`` is the path, so a pyserial URL such as ``serial:loop://`` keeps its
own ``://``; ``scheme://host/...`` is refused. The path and option values are
percent-decoded (``images:my%20dir``); ``+`` is kept as it is (it occurs in paths).

Options are read through one API, :class:`Options`: typed getters that check ranges and
choices and remember what was asked, then ``done()``, which refuses whatever option the
driver never asked for and lists the ones it takes. Asking is the declaration, so a
driver whose options depend on each other (a relay board's ``on``/``off`` only with
``board=raw``) needs no second list that could drift from the code that reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from errors import BadDriverURL, UnknownScheme

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class DriverURL:
    """A parsed driver URL: its text as written, scheme, path and options."""

    text: str
    scheme: str
    path: str
    options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> DriverURL:
        """Split ``text`` into scheme, path and options (syntax only; see
        :func:`parse_driver_url` for the scheme check)."""
        if not isinstance(text, str) or ":" not in text:
            raise BadDriverURL(
                f"{text!r} is not a driver URL (expected scheme:path?options, "
                "e.g. v4l2:/dev/video0?width=1280)"
            )
        scheme, rest = text.split(":", 1)
        scheme = scheme.strip().lower()
        path, mark, query = rest.partition("?")
        if path.startswith("///"):
            path = path[2:]
        elif path.startswith("//"):
            raise BadDriverURL(
                f"{text!r}: a host part is not supported; write "
                f"{scheme}:/absolute/path or {scheme}:relative/path"
            )
        options: dict[str, str] = {}
        if mark and not query:
            raise BadDriverURL(f"{text!r}: empty option list after '?'")
        for item in query.split("&") if query else ():
            name, eq, value = item.partition("=")
            name = unquote(name)
            if not eq or not name:
                raise BadDriverURL(
                    f"{text!r}: option {item!r} is not name=value (options "
                    "must be name=value joined by &)"
                )
            if name in options:
                raise BadDriverURL(f"{text!r}: option {name!r} is given twice")
            options[name] = unquote(value)
        return cls(text=text, scheme=scheme, path=unquote(path), options=options)

    def error(self, detail: str) -> BadDriverURL:
        """A ``BadDriverURL`` that names this URL; the caller raises it."""
        return BadDriverURL(f"{self.text!r}: {detail}")

    def require_path(self, what: str, example: str = "PATH") -> str:
        """The path, which this scheme needs (``what`` names it in the error)."""
        if not self.path:
            raise self.error(f"no {what} given (e.g. {self.scheme}:{example})")
        return self.path

    def refuse_path(self) -> None:
        """For schemes that take options only."""
        if self.path:
            raise self.error(
                f"{self.scheme}: takes no path, only options ({self.scheme}:?name=value)"
            )


class Options:
    """A URL's options read by type; ``done()`` refuses any option nobody asked for.

    Every getter takes the option's name and default, checks the value (range, choices,
    form) and raises ``BadDriverURL`` naming the URL, the option and what is allowed.
    """

    def __init__(self, url: DriverURL) -> None:
        self.url = url
        self._asked: list[str] = []

    def _raw(self, name: str) -> str | None:
        if name not in self._asked:
            self._asked.append(name)
        return self.url.options.get(name)

    def _bad(self, name: str, value: str, expected: str) -> BadDriverURL:
        return self.url.error(f"option {name}={value!r} is invalid; expected {expected}")

    def present(self, name: str) -> bool:
        """Whether the URL gives ``name`` (does not count as asking for it)."""
        return name in self.url.options

    def text(self, name: str, default: str | None = None) -> str | None:
        """A free-text option, as written (percent-decoded)."""
        raw = self._raw(name)
        return default if raw is None else raw

    def choice(self, name: str, choices: Iterable[str], default: str) -> str:
        """One of ``choices`` (compared in lower case); the error lists them."""
        raw = self._raw(name)
        if raw is None:
            return default
        allowed = tuple(choices)
        if raw.lower() not in allowed:
            raise self._bad(name, raw, "one of " + ", ".join(allowed))
        return raw.lower()

    def integer(
        self, name: str, default: int, low: int | None = None, high: int | None = None
    ) -> int:
        """A whole-number option within [low, high]."""
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = int(raw, 10)
        except ValueError:
            raise self._bad(name, raw, "an integer") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise self._bad(name, raw, f"an integer from {low} to {high}")
        return value

    def number(
        self, name: str, default: float, low: float | None = None, high: float | None = None
    ) -> float:
        """A number option within [low, high] (NaN is refused)."""
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise self._bad(name, raw, "a number") from None
        if (
            value != value
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            raise self._bad(name, raw, f"a number from {low} to {high}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """A yes/no option: 1/0, true/false, yes/no, on/off."""
        raw = self._raw(name)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise self._bad(name, raw, "1/0, true/false, yes/no or on/off")

    def names(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """A comma-separated list; empty items are refused."""
        raw = self._raw(name)
        if raw is None:
            return default
        items = tuple(item.strip() for item in raw.split(","))
        if not raw or any(not item for item in items):
            raise self._bad(name, raw, "a comma-separated list of names")
        return items

    def hex_bytes(self, name: str, *, max_len: int = 64) -> bytes | None:
        """Bytes written as hex digits (spaces allowed), 1 to ``max_len`` of them."""
        raw = self._raw(name)
        if raw is None:
            return None
        try:
            data = bytes.fromhex(raw.replace(" ", ""))
        except ValueError:
            data = b""
        if not data or len(data) > max_len:
            raise self._bad(name, raw, f"1 to {max_len} bytes as hex digits, e.g. A00101A2")
        return data

    def done(self) -> None:
        """Refuse any option not asked for, naming it and the ones this scheme takes."""
        for name in self.url.options:
            if name not in self._asked:
                takes = ", ".join(self._asked) if self._asked else "no options"
                raise self.url.error(f"unknown option {name!r}; {self.url.scheme}: takes {takes}")


def parse_driver_url(text: str, known: Iterable[str], *, kind: str = "driver") -> DriverURL:
    """Parse ``text``, whose scheme must be one of ``known`` (listed in the error)."""
    known = tuple(known)
    listed = ", ".join(f"{k}:" for k in known)
    if not isinstance(text, str) or ":" not in text:
        raise UnknownScheme(f"{kind} URL {text!r} has no scheme; expected one of {listed}")
    scheme = text.split(":", 1)[0].strip().lower()
    if scheme not in known:
        raise UnknownScheme(
            f"{kind} URL {text!r}: unknown {kind} scheme {scheme!r}; known: {listed}"
        )
    return DriverURL.parse(text)
