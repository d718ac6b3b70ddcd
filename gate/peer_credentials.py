"""Who is at the other end of a Unix socket, and whether the control socket serves them.

The control socket's file mode (0660, group ``[control] group``) is the first gate; this
is the second, behind it: a socket file chmod-ed by hand, a stale permission or a
container sharing ``/run`` must still not let an arbitrary user open the turnstile. The
kernel vouches for the peer's uid, gid and pid (``SO_PEERCRED``, taken at ``connect``);
the peer's supplementary groups are read from ``/proc/PID/status`` (``Groups:``), which
is what the kernel itself checked the file mode against, and only when that cannot be
read (the peer already gone, ``/proc`` hidden) from the group database.

Served: root, the daemon's own user, and anyone whose primary or supplementary group is
the control group.
"""

from __future__ import annotations

import grp
import pwd
import socket
import struct
from dataclasses import dataclass

_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


@dataclass(frozen=True, slots=True)
class Peer:
    """The process at the other end of a connection, as the kernel reports it."""

    pid: int
    uid: int
    gid: int
    groups: frozenset[int]


def peer_of(sock: socket.socket) -> Peer:
    """``SO_PEERCRED`` of a connected Unix socket, with the peer's supplementary groups."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return Peer(pid, uid, gid, _groups_of(pid, uid))


def _groups_of(pid: int, uid: int) -> frozenset[int]:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Groups:"):
                    return frozenset(int(g) for g in line.split()[1:])
    except OSError:
        pass
    # The group database: what the user would have after a fresh login.
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        return frozenset()
    return frozenset(g.gr_gid for g in grp.getgrall() if name in g.gr_mem)


def refusal(peer: Peer, *, daemon_uid: int, group_gid: int | None, group: str) -> str | None:
    """Why ``peer`` may not use the control socket, or None when it may."""
    if peer.uid in (0, daemon_uid):
        return None
    if group_gid is not None and (peer.gid == group_gid or group_gid in peer.groups):
        return None
    return f"uid {peer.uid} is not root, the daemon's user or in group {group}"


__all__ = ["Peer", "peer_of", "refusal"]
