"""The venue demo's lanes: each a real ``gate run`` daemon, watched through its journal.

A lane's camera is the ``synthetic:`` source with ``queue=``: to hold a phone up, the
demo writes the code into the lane's queue directory, and it lowers the phone when the
lane's journal shows the decision. The figures of the live table (scans, refusals by
reason, frame-to-relay latency, upload backlog, peers) are read from the same journal:
what ``journalctl -u gatehouse`` would show on a real unit.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Event = dict[str, Any]


@dataclass(slots=True)
class LaneFigures:
    """What the live table shows of one lane, kept up to date from its journal."""

    scans: int = 0
    admitted: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    voided: int = 0
    overrides: int = 0
    latencies: list[float] = field(default_factory=list)  # frame to relay, ms
    backlog: int | None = None
    hub: str = "?"
    peers_up: int | None = None
    peers: int | None = None
    alarms: set[str] = field(default_factory=set)

    def percentile(self, share: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def p50(self) -> float | None:
        return statistics.median(self.latencies) if self.latencies else None


class LaneProcess:
    """``gate -c CONFIG run`` in a child process; its journal in :attr:`journal`.

    ``on_event`` is called (on the reader thread) for each line as it arrives."""

    def __init__(
        self,
        name: str,
        config: Path,
        queue: Path,
        hold: Path,
        log: Path,
        on_event: Callable[[str, Event], None] | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.queue = queue
        self.hold = hold
        self.journal: list[Event] = []
        self.figures = LaneFigures()
        self._cond = threading.Condition()
        self._on_event = on_event
        self._log = log.open("a", encoding="utf-8")
        self._presented = 0
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gate", "-c", str(config), "run"],
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )
        self._reader = threading.Thread(target=self._read, name=f"journal-{name}", daemon=True)
        self._reader.start()

    # -- the journal ---------------------------------------------------------------------

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._log.write(line)
            if not line.startswith("{"):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                self.journal.append(event)
                self._count(event)
                self._cond.notify_all()
            if self._on_event is not None:
                self._on_event(self.name, event)
        with self._cond:
            self._cond.notify_all()

    def _count(self, e: Event) -> None:
        f = self.figures
        kind = e.get("event")
        if kind == "decision":
            f.scans += 1
            if e.get("result") == "admitted":
                f.admitted += 1
            else:
                f.refused[str(e.get("reason"))] += 1
            total = (e.get("latency_ms") or {}).get("total")
            if isinstance(total, int | float):
                f.latencies.append(float(total))
        elif kind == "voided":
            f.voided += 1
        elif kind == "override":
            f.overrides += 1
        elif kind == "sync":
            if isinstance(e.get("backlog"), int):
                f.backlog = e["backlog"]
            f.hub = "up" if e.get("hub") == "reachable" else "down"
        elif kind == "peers":
            f.peers = e.get("peers")
            if isinstance(f.peers, int) and isinstance(e.get("down"), int):
                f.peers_up = f.peers - e["down"]
        elif kind == "alarm":
            f.alarms.add(str(e.get("alarm")))
        elif kind == "alarm_cleared":
            f.alarms.discard(str(e.get("alarm")))

    def mark(self) -> int:
        """A point in the journal: :meth:`wait_for` looks only at lines after it."""
        with self._cond:
            return len(self.journal)

    def wait_for(
        self, match: Callable[[Event], bool], since: int, timeout: float
    ) -> tuple[Event | None, int]:
        """The first line after ``since`` that ``match``es, and the mark after it; None
        when ``timeout`` seconds pass or the daemon ends first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(since, len(self.journal)):
                    if match(self.journal[i]):
                        return self.journal[i], i + 1
                since = len(self.journal)
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return None, since
                self._cond.wait(min(left, 0.25))

    # -- the attendee's side --------------------------------------------------------------

    def hold_up(self, texts: list[str]) -> Path:
        """Hold phones showing ``texts`` up to the camera (written whole, then renamed
        into the queue, so the camera never reads half a file)."""
        self._presented += 1
        name = f"{self._presented:06d}.json"
        part = self.queue / f".{name}.part"
        part.write_text(json.dumps({"texts": texts}), encoding="utf-8")
        os.replace(part, self.queue / name)
        return self.queue / name

    def lower(self, phone: Path) -> None:
        phone.unlink(missing_ok=True)

    # -- life -----------------------------------------------------------------------------

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, as systemd stops it; SIGKILL if it does not end in ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        self._log.close()
        return self.proc.returncode


__all__ = ["LaneFigures", "LaneProcess"]
