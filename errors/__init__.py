"""errors: every error Gatehouse raises on purpose, in one module that imports nothing.

Every package imports its errors from here: ``hardware`` and ``drivers`` without loading
libsodium, ``scanner`` without the verifier, the gate's CLI with one ``except
GatehouseError`` for everything the project means to report. (It used to live in
``verifier``, whose ``__init__`` loads libsodium; importing a relay's errors then loaded
crypto.) Each class also inherits the built-in exception it most resembles, so callers
that only know Python's own exceptions still catch them sensibly (the habit of gpiozero's
``exc.py`` and python-can's ``exceptions.py``). The message of every error names the
file, key, height, ticket or device involved, because it is read by a technician at a
lane, not by a developer with a debugger.

    GatehouseError
    ├── ConfigError (ValueError)              a configuration file or value is wrong
    │   └── BadDriverURL (+DriverError)       a driver URL has a wrong scheme, path or option
    │       └── UnknownScheme                 ... a scheme nobody registered
    ├── DriverError (RuntimeError)            a camera, decoder, relay, lamp or sensor
    │   ├── DriverUnavailable (ImportError)   the package a driver needs is not installed
    │   ├── DeviceUnavailable (OSError)       a device is missing, unplugged or failing
    │   ├── DeviceClosed (ValueError)         a device was used after close()
    │   └── DecodeError                       a QR decoder failed (not: found no code)
    ├── LedgerError (ValueError)              input from outside the gate is refused
    │   ├── EncodingError                     strict Base45 / canonical JSON refused it
    │   ├── TokenRejected                     not a well-formed GH1 token (reason code)
    │   ├── BlockRejected                     a ledger block is invalid; nothing applied
    │   │   └── ForkDetected                  a different signed block at a held height
    │   └── RecordChainError                  a record log does not verify
    ├── StoreError (RuntimeError)             the state directory or a database
    │   ├── StoreCorrupt                      a database file is damaged
    │   ├── DeviceMismatch                    state of another device or ledger key
    │   ├── DeviceKeyError                    the device key is missing, unsafe or damaged
    │   └── UnsafePermissions                 state others may read, or another user's
    ├── SyncError (ConnectionError)           an exchange with the hub did not complete
    │   ├── HubMisbehaved                     the hub broke the rules (size or time caps)
    │   └── HubRefusal                        the hub refused a request (HTTP status)
    ├── ControlError (OSError)                the lane daemon's control socket (docs/control.md)
    │   ├── DaemonNotRunning (ConnectionError) nothing listens on the socket (gate ctl exits 4)
    │   └── ControlSocketInUse                another daemon already listens on the socket
    ├── DemoFailed (RuntimeError)             gate demo could not set its venue up
    ├── Refused (ValueError)                  a command that cannot be done as asked
    │                                         (an override with no reason, a bad lane mode)
    └── InvalidArgument (ValueError)          a caller broke a function's contract (a bug
                                              in the caller, not bad input from outside)
"""

from __future__ import annotations


class GatehouseError(Exception):
    """Base of every error Gatehouse raises deliberately."""


# -- configuration ---------------------------------------------------------------------


class ConfigError(GatehouseError, ValueError):
    """A configuration file is missing, unreadable, or has a wrong key or value."""


# -- drivers and devices ---------------------------------------------------------------


class DriverError(GatehouseError, RuntimeError):
    """A driver (frame source, decoder, output, sensor) cannot be chosen or used."""


class BadDriverURL(DriverError, ConfigError):
    """A driver URL has a wrong path or an unknown or invalid option.

    It is a configuration error too: driver URLs come from the configuration, and
    ``gate config check`` reports them with the file and key they came from.
    """


class UnknownScheme(BadDriverURL):
    """A driver URL's scheme is not registered; the message lists the known ones."""


class DriverUnavailable(DriverError, ImportError):
    """The package a chosen driver needs is not installed; the message names it."""


class DeviceUnavailable(DriverError, OSError):
    """A device (camera, relay board, GPIO chip, serial port) is missing or failing."""


class DeviceClosed(DriverError, ValueError):
    """A device was used after ``close()``: a bug in the caller, not an unplugged device
    (like Python's own "I/O operation on closed file")."""


class DecodeError(DriverError):
    """A QR decoder failed to run (finding no code in a frame is not an error)."""


# -- the ledger: tokens, blocks and records from outside --------------------------------


class LedgerError(GatehouseError, ValueError):
    """Input from outside the gate (a token, a block, a record log) is refused."""


class EncodingError(LedgerError):
    """Strict Base45 or canonical JSON refused its input."""


class TokenRejected(LedgerError):
    """The text is not a well-formed GH1 token; ``reason`` is its decision code."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


class BlockRejected(LedgerError):
    """A ledger block was refused as a whole; nothing of it was applied.

    ``height`` is the block's height when it could be read, ``line`` the line of the
    input file it came from when known, ``reason`` a short machine-readable cause.
    """

    def __init__(
        self,
        reason: str,
        detail: str,
        *,
        height: int | None = None,
        line: int | None = None,
        source: str | None = None,
    ) -> None:
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


class RecordChainError(LedgerError):
    """A record log does not verify: a gap, a broken hash chain or a bad signature."""


# -- the state directory ---------------------------------------------------------------


class StoreError(GatehouseError, RuntimeError):
    """The state directory or one of its databases cannot be used."""


class StoreCorrupt(StoreError):
    """The database file failed its integrity check or is not a Gatehouse database."""


class DeviceMismatch(StoreError):
    """The state directory belongs to another device id or another ledger key."""


class DeviceKeyError(StoreError):
    """The device key file is missing, has unsafe permissions, or is damaged."""


class UnsafePermissions(StoreError):
    """A state directory or file that others may read or write, or that belongs to
    another user than the state directory's owner: refused until fixed."""


# -- sync and the hub ------------------------------------------------------------------


class SyncError(GatehouseError, ConnectionError):
    """The hub could not be reached or answered something unusable; the reason says which."""


class HubMisbehaved(SyncError):
    """The hub answered, but not as a hub may: a reply over the size or time cap."""


class HubRefusal(SyncError):
    """A request the hub refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# -- the lane daemon's control socket ---------------------------------------------------


class ControlError(GatehouseError, OSError):
    """The control socket of ``gate run`` cannot be served or reached; the message names
    its path."""


class DaemonNotRunning(ControlError, ConnectionError):
    """No daemon answers on the control socket (no socket file, connection refused, or
    the daemon closed the connection): ``gate ctl`` exits 4."""


class ControlSocketInUse(ControlError):
    """Another daemon already listens on the configured control socket; starting a
    second lane on it would take the first one's stewards away."""


# -- commands and callers --------------------------------------------------------------


class Refused(GatehouseError, ValueError):
    """A command that cannot be carried out as asked: an override with no reason, a
    void of something that was not an admission, an unknown lane mode."""


class InvalidArgument(GatehouseError, ValueError):
    """A caller broke a function's contract (a 15-byte ticket id, a pulse of -1 ms):
    a bug in the calling code, never bad input from outside, which has its own class."""


class DemoFailed(GatehouseError, RuntimeError):
    """``gate demo`` could not set its venue up (a gate not provisioned, a daemon that did
    not start) or was asked for one it cannot make; the message names the log to read."""


__all__ = [
    "BadDriverURL",
    "BlockRejected",
    "ConfigError",
    "ControlError",
    "ControlSocketInUse",
    "DaemonNotRunning",
    "DecodeError",
    "DemoFailed",
    "DeviceClosed",
    "DeviceKeyError",
    "DeviceMismatch",
    "DeviceUnavailable",
    "DriverError",
    "DriverUnavailable",
    "EncodingError",
    "ForkDetected",
    "GatehouseError",
    "HubMisbehaved",
    "HubRefusal",
    "InvalidArgument",
    "LedgerError",
    "RecordChainError",
    "Refused",
    "StoreCorrupt",
    "StoreError",
    "SyncError",
    "TokenRejected",
    "UnknownScheme",
    "UnsafePermissions",
]
