"""The lane's log: one JSON line per event on stdout, which journald keeps.

Its own module because two processes write it: the daemon (``gate run``) and its sync
child (``gate sync run``), and the child must not import the daemon's camera stack
just to print a line.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

_emit_lock = threading.Lock()


def emit_json(event: dict[str, Any]) -> None:
    """One event, one line, flushed at once (journald, a pipe, or a test reads it); the
    lane and the sync worker both log, so whole lines are written under a lock."""
    line = json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
    with _emit_lock:
        sys.stdout.write(line)
        sys.stdout.flush()
