"""The daemon's sync worker: pulls blocks and pushes records on its own thread.

Admissions never wait for the network: the worker has its own connection to the state
database and its own thread, the lane keeps deciding on what it holds, and a hub that is
down, slow or lying only raises an alarm. Each block still applies in its own short
transaction. Every round logs one ``sync`` line (ledger age, clock offset, backlog) and
an ``alarm`` line when something is wrong: ``hub_unreachable``, ``hub_refused`` (a
block or records refused), ``ledger_stale`` (older than ``max_ledger_age``),
``clock_skew`` (more than ``max_clock_skew`` off the hub's clock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sync.client import HubClient, SyncError
from verifier import Checkpoint, GatehouseError

from .config import GateConfig


class SyncWorker:
    """Start with ``start()``; ``stop()`` makes one last push and joins the thread."""

    def __init__(self, cfg: GateConfig, emit: Callable[[dict[str, Any]], None], *,
                 interval: float = 5.0) -> None:
        self.cfg = cfg
        self.emit = emit
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        cfg = self.cfg
        with Checkpoint(cfg.state_dir, device=cfg.device, ledger_key=cfg.ledger_key,
                        policy=cfg.policy) as cp:
            client = HubClient(cfg.lane.hub or "", cp, timeout=min(10.0, self.interval * 2))
            while True:
                self._round(client)
                if self._stop.wait(self.interval):
                    self._round(client)  # one last push of what the lane recorded
                    return

    def _round(self, client: HubClient) -> None:
        now = int(time.time())
        alarms: list[str] = []
        detail: dict[str, Any] = {}
        try:
            pulled = client.pull()
            pushed = client.push()
            detail = {"pulled": pulled.applied, "pushed": pushed.sent}
            for problem in (pulled.error, pushed.error):
                if problem:
                    alarms.append("hub_refused")
                    detail.setdefault("problems", []).append(problem)
        except (SyncError, GatehouseError, OSError) as exc:
            alarms.append("hub_unreachable")
            detail["problems"] = [str(exc)]
        health = client.health(now)
        if health["ledger_age"] is None or health["ledger_age"] > self.cfg.lane.max_ledger_age:
            alarms.append("ledger_stale")
        offset = health.get("clock_offset")
        if offset is not None and abs(offset) > self.cfg.lane.max_clock_skew:
            alarms.append("clock_skew")
        self.emit({"event": "sync", "time": now, **health, **detail, "alarms": alarms})
        for alarm in dict.fromkeys(alarms):
            self.emit({"event": "alarm", "time": now, "alarm": alarm,
                       "detail": detail.get("problems")})
