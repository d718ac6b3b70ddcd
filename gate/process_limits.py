"""A process lowering its own claim on the unit: CPU niceness, the idle I/O class and a
cap on its data memory. The sync child (``gate sync run``) calls these on itself, first
thing, so a large catch-up from the hub never takes the CPU, the SD card or the memory
the lane needs (docs/technicians.md, "The systemd units").

Linux only, and nothing here is fatal: where a call does not exist (another system, an
architecture whose syscall number is not known here) or is refused (a seccomp filter),
the function says so by returning False and the caller carries on at normal priority.

The I/O class has no wrapper in Python's standard library: ``ioprio_set(2)`` is called
through libc's ``syscall()`` with the architecture's number. The idle class means the
child's reads and writes are served only when no other process wants the disk; the
kernel's I/O schedulers honour it (BFQ fully, mq-deadline as a priority since Linux
5.14), and where a scheduler ignores it nothing is lost but the effect.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import sys
import time
from collections.abc import Callable

#: ``ioprio_set`` and ``ioprio_get`` by ``platform.machine()``: the generic table
#: (arm64, riscv), x86, and 32-bit ARM (EABI, Raspberry Pi OS armhf).
_IOPRIO_SYSCALLS = {
    "x86_64": (251, 252),
    "aarch64": (30, 31),
    "arm64": (30, 31),
    "riscv64": (30, 31),
    "armv7l": (314, 315),
    "armv6l": (314, 315),
    "i686": (289, 290),
    "i386": (289, 290),
}
IOPRIO_WHO_PROCESS = 1
IOPRIO_CLASS_SHIFT = 13
#: The I/O scheduling classes: realtime, best-effort (every process's default), idle.
IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE = 1, 2, 3


def _syscall_numbers() -> tuple[int, int] | None:
    if not sys.platform.startswith("linux"):
        return None
    return _IOPRIO_SYSCALLS.get(platform.machine())


def _libc_syscall(number: int, *args: int) -> int:
    """The system call's result; negative when it failed (refused, or unknown here)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return -1
    return int(libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args)))


def set_idle_io() -> bool:
    """Put the calling thread (and every thread it starts later) in the idle I/O class;
    whether that was done."""
    numbers = _syscall_numbers()
    if numbers is None:
        return False
    idle = IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT
    return _libc_syscall(numbers[0], IOPRIO_WHO_PROCESS, 0, idle) == 0


def io_priority(pid: int = 0) -> tuple[int, int] | None:
    """``(class, level)`` of ``pid``'s I/O priority (0: the caller), or None where it cannot
    be read. Class 0 means "none set": best-effort at a level derived from the nice value."""
    numbers = _syscall_numbers()
    if numbers is None:
        return None
    value = _libc_syscall(numbers[1], IOPRIO_WHO_PROCESS, pid)
    if value < 0:
        return None
    return value >> IOPRIO_CLASS_SHIFT, value & ((1 << IOPRIO_CLASS_SHIFT) - 1)


def lower_cpu_priority(steps: int) -> bool:
    """Raise this process's niceness by ``steps``; whether that was done."""
    if steps <= 0:
        return True
    try:
        os.nice(steps)
    except OSError:
        return False
    return True


def cap_data_memory(limit_bytes: int) -> bool:
    """Set ``RLIMIT_DATA`` (heap and other private writable memory; Linux counts every
    such mapping since 4.7) to ``limit_bytes``, never above a hard limit already set.
    A process over it gets MemoryError from Python instead of the whole unit hitting
    its cgroup limit, where the kernel might pick the lane to kill."""
    try:
        _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            limit_bytes = min(limit_bytes, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit_bytes, hard))
    except (OSError, ValueError):
        return False
    return True


def limit_child(
    command: str, *, nice: int, idle_io: bool, max_data_mb: int, emit: Callable[[dict], None]
) -> None:
    """A child's limits (``gate sync run``, ``gate peers run``), set first, before the
    state and the network; a ``warning`` line names any the system refused (on Linux:
    elsewhere they do not exist)."""
    refused = [
        what
        for what, done in (
            (f"nice {nice}", lower_cpu_priority(nice)),
            ("the idle I/O class", not idle_io or set_idle_io()),
            (
                f"a {max_data_mb} MiB data limit",
                not max_data_mb or cap_data_memory(max_data_mb << 20),
            ),
        )
        if not done
    ]
    if refused and sys.platform.startswith("linux"):
        emit(
            {
                "event": "warning",
                "time": int(time.time()),
                "detail": f"{command} could not set " + ", ".join(refused),
            }
        )


__all__ = [
    "IOPRIO_CLASS_BE",
    "IOPRIO_CLASS_IDLE",
    "IOPRIO_CLASS_RT",
    "cap_data_memory",
    "io_priority",
    "limit_child",
    "lower_cpu_priority",
    "set_idle_io",
]
