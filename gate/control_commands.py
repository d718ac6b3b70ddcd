"""The control socket's commands, carried out on the lane's thread (docs/control.md).

``status``, ``watch``, ``open_once``, ``mode`` and ``lookup`` all read or write the
state database, and its connection belongs to the lane's thread: the server
(:mod:`gate.control_server`) only queues requests, and the daemon's loop calls
:meth:`LaneControl.service` between items, at least every ``READ_TIMEOUT_S``. The same
call sends the watchers their status event once a second.

A usage error (a wrongly typed argument, an unknown command) is the caller's bug and
answers ``usage``; a well-formed command the lane will not carry out (no steward name
or reason, a ticket not on the ledger, an unknown mode) answers ``refused``. Both are
errors from :mod:`errors` (``InvalidArgument``, ``Refused``) that become the reply here.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable
from typing import Any

from errors import GatehouseError, InvalidArgument, Refused

from .control_server import ControlServer, Request
from .lane import Lane
from .lane_health import LaneHealth

#: A lookup by label answers at most this many tickets.
LOOKUP_LIMIT = 20
STATUS_EVERY_S = 1.0


def fingerprint(key: bytes) -> str:
    """A key as the steward sees it: the first 16 hex digits, never the whole key."""
    return key.hex()[:16]


class LaneControl:
    """The commands against one lane, its checkpoint and its health."""

    def __init__(
        self,
        lane: Lane,
        server: ControlServer,
        health: LaneHealth,
        *,
        device: str,
        decoder: str | None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lane = lane
        self.server = server
        self.health = health
        self.device = device
        self.decoder = decoder
        self.clock = clock
        self.monotonic = monotonic
        self._next_status = monotonic()
        self._commands: dict[str, Callable[[Request], dict[str, Any]]] = {
            "status": lambda r: self.status(),
            "watch": self._watch,
            "open_once": self._open_once,
            "mode": self._mode,
            "lookup": self._lookup,
        }

    def service(self) -> None:
        """Carry out waiting requests, and send watchers their status each second; the
        daemon's loop calls it between items."""
        for request in self.server.take_requests():
            self.run(request)
        if self.monotonic() >= self._next_status:
            self._next_status = self.monotonic() + STATUS_EVERY_S
            if self.server.watching:
                self.server.publish({"type": "status", **self.status()})

    def run(self, request: Request) -> None:
        command = self._commands.get(request.cmd)
        try:
            if command is None:
                raise InvalidArgument(
                    f"unknown command {request.cmd!r} (known: {', '.join(self._commands)})"
                )
            result = command(request)
        except InvalidArgument as exc:
            self.server.answer(request, code="usage", error=str(exc))
        except Refused as exc:
            self.server.answer(request, code="refused", error=str(exc))
        except (GatehouseError, sqlite3.Error) as exc:
            # A steward's command that fails (a busy or damaged database, an output that
            # will not move) is that command's failure, told to the one who asked; it
            # must not end the lane, whose own next decision meets the same fault.
            self.server.answer(request, code="refused", error=f"{request.cmd} failed: {exc}")
        else:
            self.server.answer(request, result)
            if request.cmd == "watch":
                self.server.send(request.client, {"type": "status", **self.status()})

    # -- the commands ----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The status object of docs/control.md."""
        lane = self.lane
        now = self.clock()
        stats = lane.stats
        head = lane.checkpoint.ledger.head()
        log = lane.checkpoint.log
        relay = lane.outputs.relay
        relay_state = (
            "unknown" if relay.is_on is None else "at rest" if relay.is_on == relay.rest else "open"
        )
        return {
            "device": self.device,
            "time": int(now),
            "mode": lane.mode,
            "counters": {
                "admitted": stats.admitted,
                "refused": stats.rejected,
                "voided": stats.voided,
                "overrides": stats.overrides,
                "refused_by_reason": {r: n for r, n in stats.reasons.items() if r != "ok"},
                "entries_per_minute": stats.entries_per_minute(now),
            },
            "health": {
                "ledger_height": head.height,
                "ledger_age": None if head.time is None else int(now) - head.time,
                "upload_backlog": log.last_record()[0] - log.upload_cursor(),
                **self.health.hub(),
                **lane.clock_watch.health(),
                "camera_fps": self.health.camera_fps(),
                "decoder": self.decoder,
                "relay": relay_state,
            },
            "alarms": self.health.alarms(),
        }

    def _watch(self, request: Request) -> dict[str, Any]:
        self.server.watch(request.client)
        return {}

    def _open_once(self, request: Request) -> dict[str, Any]:
        by, reason = _steward(request)
        query = _text(request.args, "ticket", required=False)
        ticket = self._one_ticket(query) if query else None
        seq = self.lane.open_once(by, reason, ticket)
        return {"seq": seq, "ticket": ticket}

    def _mode(self, request: Request) -> dict[str, Any]:
        mode = _text(request.args, "mode")
        by, reason = _steward(request)
        previous = self.lane.set_mode(mode, by=by, reason=reason)
        return {"mode": self.lane.mode, "previous": previous}

    def _lookup(self, request: Request) -> dict[str, Any]:
        query = _text(request.args, "query")
        return {"tickets": [self.ticket(t) for t in self._tickets(query)]}

    # -- tickets ---------------------------------------------------------------------------

    def _tickets(self, query: str) -> list[bytes]:
        """A ticket id names one ticket (if held); anything else is a label."""
        ledger = self.lane.checkpoint.ledger
        try:
            tid = uuid.UUID(query).bytes
        except ValueError:
            return ledger.tickets_by_label(query.strip(), LOOKUP_LIMIT)
        return [tid] if ledger.ticket(tid) is not None else []

    def _one_ticket(self, query: str) -> str:
        found = self._tickets(query)
        if len(found) != 1:
            what = "no ticket matches" if not found else f"{len(found)} tickets match"
            raise Refused(f"{what} {query!r} on this gate's ledger; name exactly one")
        return str(uuid.UUID(bytes=found[0]))

    def ticket(self, tid: bytes) -> dict[str, Any]:
        """One ticket as docs/control.md shows it."""
        ledger = self.lane.checkpoint.ledger
        info = ledger.ticket(tid)
        assert info is not None  # found by _tickets
        admissions = ledger.admissions(tid)
        return {
            "ticket": str(uuid.UUID(bytes=tid)),
            "label": info.label,
            "event": info.event,
            "zones": list(info.zones),
            "valid_from": info.valid_from,
            "until": info.until,
            "entries": info.entries,
            "used": len(admissions),
            "left": max(0, info.entries - len(admissions)),
            "holder": fingerprint(info.holder),
            "transfers": [{"from": fingerprint(k), "height": h} for k, h in ledger.transfers(tid)],
            "revoked": info.revoked,
            "admissions": [
                {"device": a.device, "seq": a.seq, "at": a.at}
                for a in sorted(admissions, key=lambda a: (a.at, a.device, a.seq))
            ],
        }


def _text(args: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = args.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidArgument(f"{name!r} must be a non-empty string")
    return value


def _steward(request: Request) -> tuple[str, str]:
    """``as`` and ``reason``: wrongly typed is usage; missing or empty is refused, since
    a change nobody can explain afterwards is what an audit looks for."""
    values = []
    for name in ("as", "reason"):
        value = request.args.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise InvalidArgument(f"{name!r} must be a string")
        if not value.strip():
            raise Refused(f"{request.cmd} needs the steward's name ('as') and a 'reason'")
        values.append(value.strip())
    return values[0], values[1]


__all__ = ["LOOKUP_LIMIT", "LaneControl", "fingerprint"]
