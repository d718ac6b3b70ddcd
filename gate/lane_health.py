"""What a steward sees of the lane, read from its journal: alarms, the hub's health, the
camera's frame rate, and the journal's lines as the control socket's events.

Everything the lane, the camera and the sync child do is already one JSON line in the
journal (:mod:`gate.events`). Rather than a second path from each of them to the
control socket, the daemon taps that one stream: :meth:`LaneHealth.observe` takes each
line, keeps what the status object needs, and returns the events a watcher is shown
(docs/control.md). The sync child's lines arrive on its relay thread, the lane's on
the lane's thread, so everything here is under one lock.

Sync alarms are repeated by the child every round while they last and have no "cleared"
line of their own; each round's ``sync`` line lists the alarms of that round, so an
alarm missing from it has cleared. ``sync_worker_exited`` clears when the restarted
child reports again. The peer child's alarms (:data:`PEER_ALARMS`) come and go by its
own lines. The lane's own alarms, the camera's, the record log's
(:mod:`gate.record_faults`) and ``clock_behind`` (:mod:`gate.clock_watch`), come with
an ``alarm_cleared`` line and are left alone by the sync rounds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from .record_faults import LANE_ALARMS as RECORD_ALARMS

#: The camera's frame rate is the frames read over this window (seconds).
FPS_WINDOW_S = 5.0
CAMERA_ALARM = "camera"
CLOCK_BEHIND_ALARM = "clock_behind"
#: Alarms the lane raises and clears itself (the camera's, the record log's, the
#: clock's); a sync round that does not list them says nothing about them.
LANE_ALARMS = frozenset((CAMERA_ALARM, CLOCK_BEHIND_ALARM, *RECORD_ALARMS))
#: The peer child's alarms: raised and cleared by its own lines (``peer_unreachable``
#: has an ``alarm_cleared``; ``peers_worker_exited`` clears when the restarted child
#: says ``peers_started``; ``peer_fork`` stands until the lane restarts), never by a
#: sync round.
PEER_ALARMS = frozenset(("peer_unreachable", "peer_fork", "peers_worker_exited"))


class LaneHealth:
    """Alarms, sync health and the camera's frame rate, from the journal's lines."""

    def __init__(self, *, hub_configured: bool, monotonic: Any = time.monotonic) -> None:
        self.hub_configured = hub_configured
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._alarms: dict[str, dict[str, Any]] = {}
        self._sync: dict[str, Any] = {}
        self._frames: deque[float] = deque()
        self._started = monotonic()

    # -- the camera ------------------------------------------------------------------------

    def frame(self) -> None:
        """One frame read (the daemon's loop calls it; the lane's thread only)."""
        now = self.monotonic()
        self._frames.append(now)
        while self._frames and self._frames[0] < now - FPS_WINDOW_S:
            self._frames.popleft()

    def camera_fps(self) -> float | None:
        now = self.monotonic()
        while self._frames and self._frames[0] < now - FPS_WINDOW_S:
            self._frames.popleft()
        span = min(FPS_WINDOW_S, now - self._started)
        if span < 1.0:
            return None  # too early to say
        return round(len(self._frames) / span, 1)

    # -- what the status object reads ------------------------------------------------------

    def alarms(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(a) for a in self._alarms.values()]

    def hub(self) -> dict[str, Any]:
        """``hub`` (reachable / unreachable / not configured, None before the first
        round) and ``clock_offset`` from the sync child's last round."""
        if not self.hub_configured:
            return {"hub": "not configured", "clock_offset": None}
        with self._lock:
            sync = dict(self._sync)
        if not sync:
            return {"hub": None, "clock_offset": None}
        reachable = sync.get("hub") == "reachable"
        return {
            "hub": "reachable" if reachable else "unreachable",
            "clock_offset": sync.get("clock_offset"),
        }

    # -- the tap ---------------------------------------------------------------------------

    def observe(self, line: dict[str, Any]) -> list[dict[str, Any]]:
        """Take one journal line; return the events watchers are shown for it."""
        kind = line.get("event")
        now = line.get("time", int(time.time()))
        if kind == "decision":
            event = {
                "type": "decision",
                "time": now,
                "result": line.get("result"),
                "reason": line.get("reason"),
                "ticket": line.get("ticket"),
                "label": line.get("label"),
                "event": line.get("show"),
                "seq": line.get("seq"),
                "latency_ms": (line.get("latency_ms") or {}).get("total"),
            }
            if "first_device" in line:
                event["first_at"] = line["first_at"]
                event["first_device"] = line["first_device"]
            return [event]
        if kind == "mode":
            return [
                {
                    "type": "mode",
                    "mode": line.get("mode"),
                    "previous": line.get("previous"),
                    "by": line.get("by"),
                    "reason": line.get("reason"),
                    "time": now,
                }
            ]
        if kind == "override":
            keys = ("seq", "ticket", "by", "reason")
            return [{"type": "override", **{k: line.get(k) for k in keys}, "time": now}]
        if kind == "voided":
            # seq: the admission nobody used (what the steward saw); record: the void's own.
            return [
                {
                    "type": "voided",
                    "seq": line.get("ref"),
                    "record": line.get("seq"),
                    "ticket": line.get("ticket"),
                    "time": now,
                }
            ]
        if kind in ("alarm", "alarm_cleared") and "source" in line:  # the camera's
            if kind == "alarm":
                return self._raise(CAMERA_ALARM, str(line.get("alarm")), now)
            return self._clear([CAMERA_ALARM], now)
        if kind == "alarm_cleared" and line.get("alarm") in LANE_ALARMS | PEER_ALARMS:
            return self._clear([str(line["alarm"])], now)  # the lane's own, or the peers'
        if kind == "peers_started":
            return self._clear(["peers_worker_exited"], now)
        if kind == "alarm":  # the lane's (record log, clock), or the sync child's (every round)
            detail = line.get("detail")
            if isinstance(detail, list):
                detail = "; ".join(str(d) for d in detail)
            return self._raise(str(line.get("alarm")), detail, now)
        if kind == "sync":
            with self._lock:
                self._sync = {k: line.get(k) for k in ("hub", "clock_offset", "backlog")}
                current = set(line.get("alarms") or ())
                gone = [
                    name
                    for name in self._alarms
                    if name not in LANE_ALARMS | PEER_ALARMS and name not in current
                ]
            return self._clear(gone, now)
        return []

    def _raise(self, name: str, detail: str | None, now: int) -> list[dict[str, Any]]:
        with self._lock:
            held = self._alarms.get(name)
            if held is not None:
                held["detail"] = detail  # still on: keep its "since"
                return []
            self._alarms[name] = {"alarm": name, "detail": detail, "since": now}
        return [{"type": "alarm", "alarm": name, "detail": detail, "time": now}]

    def _clear(self, names: list[str], now: int) -> list[dict[str, Any]]:
        cleared = []
        with self._lock:
            for name in names:
                if self._alarms.pop(name, None) is not None:
                    cleared.append({"type": "alarm_cleared", "alarm": name, "time": now})
        return cleared


__all__ = ["CAMERA_ALARM", "CLOCK_BEHIND_ALARM", "LANE_ALARMS", "PEER_ALARMS", "LaneHealth"]
