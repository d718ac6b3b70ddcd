"""The state directory is the gate's alone: checked every time it is opened.

The device key signs every record the hub will ever believe from this unit, and the
record log holds admissions not yet uploaded; a state directory others can read gives
away the key, one others can write lets them rewrite history, and a file owned by
another user (a ``sudo gate …`` run as root) is one the daemon cannot write when it
matters. So the directory must be 0700 and every file in it 0600, all owned by the
directory's owner (the service user, as systemd's ``StateDirectory=`` makes it), or the
gate refuses to start with the file and the command that fixes it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from errors import UnsafePermissions


def _user(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (KeyError, ImportError):
        return f"uid {uid}"


def check_private_dir(path: Path, what: str = "state_dir") -> int:
    """Refuse ``path`` if others may enter, read or write it; return its owner's uid."""
    st = path.stat()
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise UnsafePermissions(
            f"{what} {path} is open to others (mode {mode:04o}): the device key and the "
            f"record log must be the gate's alone; run: chmod 700 {path}"
        )
    return st.st_uid


def check_private_file(path: Path, owner: int, state_dir: Path, *, tighten: bool = False) -> None:
    """Refuse ``path`` if another user owns it, or if others may read or write it; with
    ``tighten``, a file of ours that is too open is made 0600 instead (a database made
    under an old umask: closing it loses nothing, while a key that was readable may
    have been copied, so the key is never tightened quietly). A file that does not
    exist (yet) passes."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if st.st_uid == owner and tighten and stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o600)
        st = path.lstat()
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise UnsafePermissions(
            f"{path} is readable or writable by others (mode {mode:04o}); run: chmod 600 {path}"
        )
    if st.st_uid != owner:
        raise UnsafePermissions(
            f"{path} belongs to {_user(st.st_uid)}, not to {_user(owner)} who owns "
            f"{state_dir} (was a gate command run with sudo?); run: chown -R "
            f"{owner}:{os.stat(state_dir).st_gid} {state_dir}"
        )


__all__ = ["check_private_dir", "check_private_file"]
