"""Run a command under the lane unit's system-call filter and MemoryDenyWriteExecute, as
systemd would: ``python sandbox_run.py UNIT_FILE COMMAND...``.

The filter is the unit's ``SystemCallFilter=`` lines in order (the first, an allow
list, sets it; a ``~`` line takes calls away; a later line adds), each ``@group``
expanded by ``systemd-analyze syscall-filter`` of this machine's systemd; every other
call fails with EPERM (``SystemCallErrorNumber=EPERM``). It is loaded with libseccomp,
then ``PR_SET_MDWE`` (Linux 6.3+) refuses memory that is writable and executable. The
device policy, namespaces and the rest of the sandbox are not reproduced.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO_EPERM = 0x00050000 | 1
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1


def expand(name: str, seen: set[str] | None = None) -> set[str]:
    """A system call or an @group, as the set of calls it names."""
    if not name.startswith("@"):
        return {name}
    seen = set() if seen is None else seen
    listed = subprocess.run(
        ["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True
    ).stdout.splitlines()[1:]
    calls: set[str] = set()
    for line in (entry.strip() for entry in listed):
        if not line or line.startswith("#") or line in seen:
            continue
        seen.add(line)
        calls |= expand(line, seen)
    return calls


def allowed_calls(unit: Path) -> set[str]:
    allowed: set[str] = set()
    for line in unit.read_text().splitlines():
        if not line.startswith("SystemCallFilter="):
            continue
        value = line.split("=", 1)[1].strip()
        deny = value.startswith("~")
        names = set().union(*(expand(n) for n in value.lstrip("~").split()))
        allowed = allowed - names if deny else allowed | names
    return allowed


def main(argv: list[str]) -> None:
    unit, command = Path(argv[0]), argv[1:]
    text = unit.read_text()
    seccomp = ctypes.CDLL("libseccomp.so.2")
    seccomp.seccomp_init.restype = ctypes.c_void_p
    seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    seccomp.seccomp_rule_add.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
    ]
    seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
    assert "SystemCallErrorNumber=EPERM" in text
    ctx = seccomp.seccomp_init(SCMP_ACT_ERRNO_EPERM)
    for name in sorted(allowed_calls(unit)):
        number = seccomp.seccomp_syscall_resolve_name(name.encode())
        if number >= 0:  # a call this architecture does not have
            seccomp.seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    mdwe = "MemoryDenyWriteExecute=yes" in text
    if mdwe and libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        print("sandbox_run: no PR_SET_MDWE on this kernel", file=sys.stderr)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS, as NoNewPrivileges=yes
    if seccomp.seccomp_load(ctx) != 0:
        sys.exit("sandbox_run: seccomp_load failed")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
