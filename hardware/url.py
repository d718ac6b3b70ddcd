"""Driver URLs: ``scheme:path?option=value&...``, parsed strictly.

A technician types these into the configuration (``gpio:17?active=low``,
``serial:/dev/ttyUSB0?board=lcus&channel=1``, ``sim:``), so a typo must fail loudly at
start-up with the URL and the option named, never be ignored: a misspelt ``rest=on``
silently read as the default could leave a fail-safe turnstile locked on power loss.

``serial:///dev/ttyUSB0`` (an empty authority) is accepted as ``serial:/dev/ttyUSB0``.
Anything after the first ``:`` up to ``?`` is the path, so a pyserial URL such as
``serial:loop://?board=lcus`` keeps its own ``://``. Values are percent-decoded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from verifier.exceptions import BadDriverURL, UnknownScheme


@dataclass(frozen=True, slots=True)
class DriverURL:
    """A parsed driver URL: its text as written, scheme, path and options."""

    text: str
    scheme: str
    path: str
    options: Mapping[str, str] = field(default_factory=dict)

    def error(self, detail: str) -> BadDriverURL:
        """A ``BadDriverURL`` that names this URL; the caller raises it."""
        return BadDriverURL(f"driver URL {self.text!r}: {detail}")


def parse_driver_url(text: str, known: Iterable[str], *, kind: str = "driver") -> DriverURL:
    """Split ``text`` into scheme, path and options; the scheme must be one of ``known``."""
    known = sorted(known)
    if not isinstance(text, str) or ":" not in text:
        raise UnknownScheme(f"{kind} URL {text!r} has no scheme; expected one of "
                            + ", ".join(f"{k}:" for k in known))
    scheme, rest = text.split(":", 1)
    scheme = scheme.strip().lower()
    if scheme not in known:
        raise UnknownScheme(f"{kind} URL {text!r}: unknown scheme {scheme!r}; known: "
                            + ", ".join(f"{k}:" for k in known))
    path, _, query = rest.partition("?")
    if path.startswith("///"):
        path = path[2:]
    options: dict[str, str] = {}
    if query:
        for item in query.split("&"):
            name, eq, value = item.partition("=")
            name = unquote(name)
            if not eq or not name:
                raise BadDriverURL(f"driver URL {text!r}: option {item!r} is not name=value")
            if name in options:
                raise BadDriverURL(f"driver URL {text!r}: option {name!r} is given twice")
            options[name] = unquote(value)
    elif rest.endswith("?"):
        raise BadDriverURL(f"driver URL {text!r}: empty option list after '?'")
    return DriverURL(text=text, scheme=scheme, path=unquote(path), options=options)


class OptionReader:
    """Reads a URL's options by type; ``done()`` refuses any option nobody asked for.

    Each driver reads every option it knows, then calls ``done()``: whatever is left
    is unknown to that driver, and the error lists the ones it does know.
    """

    def __init__(self, url: DriverURL) -> None:
        self.url = url
        self._left = dict(url.options)
        self._known: list[str] = []

    def present(self, name: str) -> bool:
        return name in self.url.options

    def _take(self, name: str) -> str | None:
        if name not in self._known:
            self._known.append(name)
        return self._left.pop(name, None)

    def text(self, name: str) -> str | None:
        return self._take(name)

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self._take(name)
        if value is None:
            return default
        if value.lower() not in choices:
            raise self.url.error(f"option {name}={value!r} must be one of "
                                 + " | ".join(choices))
        return value.lower()

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self._take(name)
        if value is None:
            return default
        try:
            number = int(value, 10)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise self.url.error(f"option {name}={value!r} must be a whole number "
                                 f"from {low} to {high}")
        return number

    def hex_bytes(self, name: str, *, max_len: int = 64) -> bytes | None:
        value = self._take(name)
        if value is None:
            return None
        digits = value.replace(" ", "")
        try:
            data = bytes.fromhex(digits)
        except ValueError:
            data = b""
        if not data or len(data) > max_len:
            raise self.url.error(f"option {name}={value!r} must be 1 to {max_len} bytes "
                                 "written as hex digits, e.g. A00101A2")
        return data

    def done(self) -> None:
        if self._left:
            names = ", ".join(sorted(self._left))
            raise self.url.error(f"unknown option {names}; {self.url.scheme}: knows "
                                 + (", ".join(self._known) or "no options"))
