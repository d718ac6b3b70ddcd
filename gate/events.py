"""The lane's log: one JSON line per event on stdout, which journald keeps.

Its own module because two processes write it: the daemon (``gate run``) and its sync
child (``gate sync run``), and the child must not import the daemon's camera stack
just to print a line.

When stdout is the journal itself (systemd sets ``$JOURNAL_STREAM`` to the device and
inode of the stream it connected, and only a process whose stdout is that stream
matches: the sync child's stdout is a pipe to the daemon, never the journal), each line
starts with its syslog priority in the kernel's form, ``<4>{"event":"alarm",...}``.
journald strips the prefix and keeps it as the entry's PRIORITY (systemd's default
``SyslogLevelPrefix=yes``), so ``journalctl -u gatehouse -p warning`` shows the alarms
and nothing of the decisions. Anywhere else (a terminal, a pipe, a test) the lines are
plain JSON, unchanged.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, TextIO

_emit_lock = threading.Lock()

#: syslog priorities: 3 err, 4 warning, 5 notice, 6 info, 7 debug.
PRIORITY_BY_EVENT = {
    # something broke that is not the lane's normal work: a traceback from the sync child
    "sync_error": 3,
    "peers_error": 3,
    # something is wrong and the lane works around it: camera lost, hub unreachable or
    # refusing, ledger stale, clock skew, sync child died; a missing control group
    "alarm": 4,
    "warning": 4,
    "sync_output": 4,
    "peers_output": 4,
    # what a steward or technician did, and the lane's life: worth seeing, not a fault
    "alarm_cleared": 5,
    "mode": 5,
    "override": 5,
    "started": 5,
    "peers_started": 5,
    "peer": 5,  # a peer stops or starts answering
    "stopped": 5,
    # the lane's normal work
    "decision": 6,
    "voided": 6,
    # every sync round, every 5 s
    "sync": 7,
    # the peer exchange's figures, every 5 s
    "peers": 7,
}
DEFAULT_PRIORITY = 6


def priority_of(event: dict[str, Any]) -> int:
    """The syslog priority an event is logged at (:data:`PRIORITY_BY_EVENT`)."""
    return PRIORITY_BY_EVENT.get(str(event.get("event")), DEFAULT_PRIORITY)


def writes_to_journal(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """Whether ``stream`` is the journal stream systemd connected (sd_journal_stream_fd's
    documented check: ``$JOURNAL_STREAM`` is ``DEVICE:INODE`` of that stream)."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # closed, or not a file (a test's buffer)
        return False
    return (st.st_dev, st.st_ino) == (int(device), int(inode))


def emit_json(event: dict[str, Any]) -> None:
    """One event, one line, flushed at once (journald, a pipe, or a test reads it); the
    lane and the sync worker both log, so whole lines are written under a lock."""
    line = json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
    with _emit_lock:
        out = sys.stdout
        if writes_to_journal(out):
            line = f"<{priority_of(event)}>{line}"
        out.write(line)
        out.flush()
