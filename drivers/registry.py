"""Which class drives which scheme (or decoder name), imported only when chosen.

One mechanism for every kind of driver (python-can's ``BACKENDS``): a :class:`Registry`
maps ``scheme -> Backend(module, class, needs)``. The module named there is light by
contract: it imports nothing heavy at its top (no cv2, numpy, RPi.GPIO, serial,
picamera2, zxingcpp, pyzbar), so choosing a backend and checking its URL costs an
import of plain Python; the heavy library is imported when the device is opened. When
that import fails, the error names what to install (``needs``), so a laptop running the
demo never needs RPi.GPIO, and a Pi with a GPIO relay never needs pyserial.

Two steps, parse then open: :meth:`Registry.check` parses the URL and asks the backend
class to read its options (``settings``) without opening anything; ``gate config check``
stops there. :meth:`Registry.open` does the same and then opens the device.

Decoders are chosen by name, not URL (``zxing``): the same table, keyed by name, with
:meth:`Registry.check_name` and :meth:`Registry.create`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from errors import DriverUnavailable, UnknownScheme

from .url import DriverURL, parse_driver_url


@dataclass(frozen=True, slots=True)
class Backend:
    """Where a backend's class lives and what to install when its library is missing."""

    module: str  # a light module: heavy imports happen when a device is opened
    cls: str
    needs: str = ""  # e.g. "the Python package pyserial (pip install pyserial)"


class Registry:
    """The backends of one kind of driver (``source``, ``output``, ``sensor``, ``decoder``).

    Order is kept: it is the order the known schemes are listed in error messages.
    """

    def __init__(self, kind: str, backends: Mapping[str, Backend]) -> None:
        self.kind = kind
        self.backends: Mapping[str, Backend] = dict(backends)

    @property
    def names(self) -> tuple[str, ...]:
        """The registered schemes (or decoder names), in listing order."""
        return tuple(self.backends)

    def __contains__(self, name: object) -> bool:
        return name in self.backends

    def __iter__(self) -> Iterator[str]:
        return iter(self.backends)

    def backend_class(self, name: str) -> Any:
        """The class registered as ``name``; importing its module opens nothing."""
        backend = self.backends[name]
        return getattr(importlib.import_module(backend.module), backend.cls)

    # -- URL-chosen drivers ------------------------------------------------------------

    def parse(self, url: str) -> DriverURL:
        """``url`` parsed, its scheme one of ours (``UnknownScheme`` lists them)."""
        return parse_driver_url(url, self.backends, kind=self.kind)

    def check(self, url: str) -> DriverURL:
        """Parse ``url`` and validate its path and options, opening nothing and importing
        no device library; ``BadDriverURL`` names the bad part and what is allowed."""
        parsed = self.parse(url)
        self.backend_class(parsed.scheme).settings(parsed)
        return parsed

    def open(self, url: str, **kwargs: Any) -> Any:
        """Check ``url``, then open the device it names (``kwargs`` go to the class)."""
        parsed = self.parse(url)
        cls = self.backend_class(parsed.scheme)
        with self._missing_library(parsed.scheme):
            return cls.from_url(parsed, **kwargs)

    # -- name-chosen drivers (decoders) ------------------------------------------------

    def check_name(self, name: str) -> str:
        """``name`` if registered; ``UnknownScheme`` lists the known names otherwise."""
        if name not in self.backends:
            raise UnknownScheme(
                f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(self.backends)}"
            )
        return name

    def create(self, name: str, **kwargs: Any) -> Any:
        """A new instance of the backend called ``name``."""
        self.check_name(name)
        with self._missing_library(name):
            return self.backend_class(name)(**kwargs)

    def _missing_library(self, name: str) -> AbstractContextManager[None]:
        return _missing_library(self.kind, name, self.backends[name].needs)


@contextmanager
def _missing_library(kind: str, name: str, needs: str) -> Iterator[None]:
    """Turn a plain ImportError while opening into ``DriverUnavailable`` naming what to
    install; a backend that already said so precisely (``DriverUnavailable``) is kept."""
    try:
        yield
    except DriverUnavailable:
        raise
    except ImportError as exc:
        needs = needs or "a package that is not installed"
        raise DriverUnavailable(f"the {name} {kind} needs {needs} ({exc})") from None
