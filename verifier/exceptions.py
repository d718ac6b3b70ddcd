"""Every error Gatehouse raises on purpose, in one place.

Each class also inherits the built-in exception it most resembles, so callers that
only know Python's own exceptions still catch them sensibly (the habit of gpiozero's
``exc.py`` and python-can's ``exceptions.py``). The message of every error names the
file, key, height or ticket involved, because it is read by a technician at a lane,
not by a developer with a debugger.

This module lives in ``verifier`` because ``verifier`` is the root of the dependency
graph (gate -> scanner, verifier, sync, hardware; sync -> verifier): every other
package may import it without importing anything heavier.

    GatehouseError
    ├── ConfigError (ValueError)         a configuration file or value is wrong
    ├── StoreError (RuntimeError)        the state directory or database cannot be used
    │   ├── StoreCorrupt                 the database file is damaged
    │   └── DeviceMismatch               state belongs to another device or ledger key
    ├── DeviceKeyError (RuntimeError)    the device key file is missing, unsafe or damaged
    ├── BlockRejected (ValueError)       a ledger block is invalid; nothing of it applied
    │   └── ForkDetected                 a different, validly signed block at a held height
    ├── EncodingError (ValueError)       strict Base45 / canonical JSON refused the input
    ├── RecordChainError (ValueError)    an exported record log does not verify
    ├── UnknownScheme (ValueError)       a driver URL names a scheme nobody registered
    ├── BadDriverURL (ValueError)        a driver URL has a wrong path or option
    ├── DriverUnavailable (ImportError)  the package a driver needs is not installed
    ├── DeviceUnavailable (OSError)      a camera, relay or serial port is gone or fails
    ├── Unsupported (NotImplementedError) a driver lacks an optional ability
    └── DecodeError (RuntimeError)       a QR decoder failed (not: found no code)
"""

from __future__ import annotations


class GatehouseError(Exception):
    """Base of every error Gatehouse raises deliberately."""


class ConfigError(GatehouseError, ValueError):
    """A configuration file is missing, unreadable, or has a wrong key or value."""


class StoreError(GatehouseError, RuntimeError):
    """The state directory or its database cannot be used."""


class StoreCorrupt(StoreError):
    """The database file failed its integrity check or is not a Gatehouse database."""


class DeviceMismatch(StoreError):
    """The state directory belongs to another device id or another ledger key."""


class DeviceKeyError(GatehouseError, RuntimeError):
    """The device key file is missing, has unsafe permissions, or is damaged."""


class BlockRejected(GatehouseError, ValueError):
    """A ledger block was refused as a whole; nothing of it was applied.

    ``height`` is the block's height when it could be read, ``line`` the line of the
    input file it came from when known, ``reason`` a short machine-readable cause.
    """

    def __init__(self, reason: str, detail: str, *, height: int | None = None,
                 line: int | None = None, source: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.height = height
        self.line = line
        self.source = source
        super().__init__(self._message())

    def locate(self, line: int | None, source: str | None) -> BlockRejected:
        """Record where the block came from (input file and line) for the message."""
        self.line, self.source = line, source
        self.args = (self._message(),)
        return self

    def _message(self) -> str:
        where = []
        if self.source:
            where.append(self.source + (f":{self.line}" if self.line is not None else ""))
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.height is not None:
            where.append(f"block {self.height}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.detail}" if prefix else self.detail


class ForkDetected(BlockRejected):
    """A validly signed block differs from the block already held at its height."""


class EncodingError(GatehouseError, ValueError):
    """Strict Base45 or canonical JSON refused its input."""


class RecordChainError(GatehouseError, ValueError):
    """A record log does not verify: a gap, a broken hash chain or a bad signature."""


class UnknownScheme(GatehouseError, ValueError):
    """A driver URL's scheme is not registered; the message lists the known ones."""


class BadDriverURL(GatehouseError, ValueError):
    """A driver URL has a wrong path or an unknown or invalid option."""


class DriverUnavailable(GatehouseError, ImportError):
    """The package a chosen driver needs is not installed; the message names it."""


class DeviceUnavailable(GatehouseError, OSError):
    """A device (camera, relay board, GPIO chip, serial port) is missing or failing."""


class Unsupported(GatehouseError, NotImplementedError):
    """A driver does not have an optional ability (e.g. a relay board with no read-back)."""


class DecodeError(GatehouseError, RuntimeError):
    """A QR decoder failed to run (finding no code in a frame is not an error)."""
