"""The device key: this gate's Ed25519 identity, which signs its record log.

It is created on first use inside ``state_dir`` with mode 0600 and never leaves the
device: only its public key is shown (``gate device show``) and sent at enrolment.
Creation is atomic (written to a temporary file, fsynced, then hard-linked into place),
so two processes starting at once end up with the same key, and a power cut never
leaves a half-written key behind.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from errors import DeviceKeyError

from .keys import SEED_BYTES, Signer

KEY_FILE = "device.key"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(path: Path) -> Signer:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise DeviceKeyError(
            f"device key {path} is readable by others (mode {mode:04o}); "
            "run: chmod 600 " + str(path)
        )
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        seed = b""
    if len(seed) != SEED_BYTES:
        raise DeviceKeyError(
            f"device key {path} is damaged (expected {SEED_BYTES * 2} hex "
            "digits); the key never leaves the device, so re-provision the gate"
        )
    return Signer(seed)


def load_device_key(state_dir: Path, *, create: bool = True, name: str = KEY_FILE) -> Signer:
    """The device's signer, creating the key on first use when ``create`` is true.

    ``name`` lets the hub keep its ledger authority key the same careful way.
    """
    path = state_dir / name
    if path.exists():
        return _read(path)
    if not create:
        raise DeviceKeyError(f"no device key at {path}")
    tmp = state_dir / f".{name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, os.urandom(SEED_BYTES).hex().encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process won the race: use its key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    _fsync_dir(state_dir)
    return _read(path)
