"""The daemon's sync worker: pulls blocks and pushes records in a child process.

Admissions never wait for the network, nor for a catch-up: the worker is a separate
process (``gate sync run``, at a lower CPU priority, in the idle I/O class and with
its data memory capped: :mod:`gate.process_limits`) with its own connection to the
state, so parsing and verifying a 100,000-event catch-up neither holds the lane's
interpreter lock nor its database lock (blocks lock ``ledger.db``, admissions
``records.db``). The lane keeps deciding on what it holds, and a hub that is down, slow
or lying only raises an alarm.

Every round logs one ``sync`` line (ledger age, clock offset, backlog) and an ``alarm``
line when something is wrong: ``hub_unreachable``, ``hub_refused`` (a block or records
refused), ``disk_low`` (blocks wait: applying them would eat the record log's reserve of
free space), ``ledger_stale`` and ``clock_skew`` (decided by :mod:`gate.sync_health`, as
``gate sync status`` decides them). The daemon relays the child's lines into its
own log; if the child dies it raises ``sync_worker_exited`` and starts it again.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from errors import GatehouseError, HubMisbehaved, SyncError
from sync.client import HubClient

from .assembly import open_checkpoint
from .child_worker import ChildWorker, Emit
from .config import GateConfig
from .sync_health import health_alarms

#: How much lower the sync child's CPU priority is than the lane's (``nice`` steps).
SYNC_NICENESS = 10
#: The sync child's data memory cap (RLIMIT_DATA), MiB. A round holds at most one page
#: of blocks (``sync.wire.MAX_PAGE_BYTES``, 8 MiB of JSON) parsed; a child at rest uses
#: about 25 MiB. Over the cap the child fails with MemoryError and is restarted, and the
#: lane, which shares the unit's MemoryMax, is untouched.
SYNC_MAX_DATA_MB = 384
#: The longest wait between rounds while the hub is unreachable or refusing: a hub coming
#: back after an outage is not met by every gate of the site at once, every 5 s.
MAX_RETRY_S = 60.0


def retry_delay(interval: float, failures: int, rng: random.Random) -> float:
    """Seconds to the next round after ``failures`` failed rounds in a row: ``interval``
    while all is well, then doubling up to :data:`MAX_RETRY_S`, each wait drawn from its
    upper half so gates that lost the hub together do not retry together."""
    if failures <= 0:
        return interval
    ceiling = min(MAX_RETRY_S, interval * 2 ** min(failures, 16))
    return max(interval, ceiling / 2 + rng.random() * ceiling / 2)


def sync_round(client: HubClient, cfg: GateConfig, emit: Emit) -> bool:
    """One pull and push, then the health line and any alarms; whether the hub was
    reached and took and gave everything (no ``hub_unreachable`` or ``hub_refused``)."""
    now = int(time.time())
    alarms: list[str] = []
    detail: dict[str, Any] = {}
    try:
        pulled, pushed = client.exchange(now)
        detail = {"pulled": pulled.applied, "pushed": pushed.sent}
        if pulled.disk_low:
            alarms.append("disk_low")
            detail.setdefault("problems", []).append(pulled.error)
        for problem in (None if pulled.disk_low else pulled.error, pushed.error):
            if problem:
                alarms.append("hub_refused")
                detail.setdefault("problems", []).append(problem)
    except HubMisbehaved as exc:
        alarms.append("hub_refused")
        detail["problems"] = [str(exc)]
    except (SyncError, GatehouseError, OSError) as exc:
        alarms.append("hub_unreachable")
        detail["problems"] = [str(exc)]
    health = client.health(now)
    alarms += health_alarms(health, cfg.lane)
    emit({"event": "sync", "time": now, **health, **detail, "alarms": alarms})
    for alarm in dict.fromkeys(alarms):
        emit({"event": "alarm", "time": now, "alarm": alarm, "detail": detail.get("problems")})
    return not {"hub_unreachable", "hub_refused"} & set(alarms)


def run_sync_loop(cfg: GateConfig, emit: Emit, stop: threading.Event, *, interval: float) -> None:
    """Rounds every ``interval`` seconds (backing off while the hub is away or refusing,
    see :func:`retry_delay`) until ``stop``; then one last push."""
    with open_checkpoint(cfg) as cp:
        client = HubClient(
            cfg.lane.hub or "", cp, timeout=min(10.0, interval * 2), batch=cfg.lane.hub_batch
        )
        rng = random.Random()
        failures = 0
        while True:
            failures = 0 if sync_round(client, cfg, emit) else failures + 1
            if stop.wait(retry_delay(interval, failures, rng)):
                sync_round(client, cfg, emit)  # one last push of what the lane recorded
                return


class SyncWorker(ChildWorker):
    """The daemon's handle on its ``gate sync run`` child.

    ``start()`` launches it; ``stop()`` asks it to make one last push (SIGTERM), waits,
    and kills it only if it does not finish in time.
    """

    name = "sync"

    def __init__(self, cfg: GateConfig, emit: Emit, *, interval: float = 5.0) -> None:
        super().__init__(cfg, emit)
        self.interval = interval

    def command(self) -> list[str]:
        return self.gate_command(
            "--interval",
            str(self.interval),
            "--nice",
            str(SYNC_NICENESS),
            "--idle-io",
            "--max-data-mb",
            str(SYNC_MAX_DATA_MB),
        )
