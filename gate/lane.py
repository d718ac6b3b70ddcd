"""The scan pipeline of one lane: source item -> decode -> de-duplicate -> decide -> record
-> actuate, one decision at a time.

Durable before visible: ``Checkpoint.admit`` returns only after the decision's record is
committed and synced, and only then does the relay move. Every decision is logged as
one JSON line with its latency parts, measured from the moment the frame was captured.

Lane modes (set by a steward): ``normal``; ``closed`` (every scan refused with
``lane_closed`` and recorded); ``free`` (the turnstile held open for emergency egress;
scans are still decided and recorded, but the relay is not pulsed since it is already
open).

With a passage sensor, an admission not followed by a passage within
``passage_timeout`` seconds is voided (``voided``/``no_passage``) so the ticket can be
used again. Each passage accounts for one admission, oldest first, and only a passage
after that admission: two people admitted and one through means one void. The check
runs on the lane's own thread (``tick``), because the state database connection
belongs to it.

The lane's clock is watched there too (:mod:`gate.clock_watch`): once a second
against the newest time the gate can prove, raising the ``clock_behind`` alarm while
it is behind. Every decision gets the watch's running floor besides the state's.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from errors import Refused
from hardware import PassageSensor
from scanner.frame import Decoder, Item, texts_of
from verifier import Checkpoint, Decision
from verifier.reasons import CANNOT_RECORD, CLOCK_BEHIND
from verifier.time_floor import boot_clock

from .clock_watch import ClockWatch
from .outputs import Outputs
from .record_faults import RecordFaults

log = logging.getLogger("gatehouse.lane")

MODES = ("normal", "closed", "free")


class Debounce:
    """The same text seen again within ``window`` seconds is the same scan.

    A phone held under the camera is decoded in many consecutive frames; only the first
    sighting is decided. A code held for longer than the window is decided again (and
    then refused as already used or replayed), which is what a steward expects to see.
    """

    def __init__(self, window: float) -> None:
        self.window = window
        self._seen: dict[str, float] = {}

    def fresh(self, text: str, now: float) -> bool:
        last = self._seen.get(text)
        self._seen[text] = now
        if len(self._seen) > 256:  # forget codes long gone; the dict stays small
            cutoff = now - self.window
            self._seen = {t: s for t, s in self._seen.items() if s >= cutoff}
        return last is None or now - last > self.window


@dataclass(slots=True)
class Pending:
    """An admission waiting for its passage."""

    seq: int
    mark: int
    deadline: float
    ticket: str | None = None


#: The window of ``entries_per_minute``: admissions of the last five minutes.
RATE_WINDOW_S = 300


@dataclass(slots=True)
class LaneStats:
    """What the lane did since it started; the steward's counters.

    ``admitted`` counts decisions and stewards' overrides alike (each is a person let
    through); ``overrides`` says how many of them were by hand.
    """

    admitted: int = 0
    rejected: int = 0
    voided: int = 0
    overrides: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    #: Unix times of the admissions inside :data:`RATE_WINDOW_S`, oldest first.
    recent: deque[float] = field(default_factory=deque)

    def admission(self, now: float) -> None:
        self.admitted += 1
        self.recent.append(now)
        self._forget(now)

    def entries_per_minute(self, now: float) -> float:
        """Admissions of the last five minutes divided by five (docs/control.md)."""
        self._forget(now)
        return round(len(self.recent) / (RATE_WINDOW_S / 60), 1)

    def _forget(self, now: float) -> None:
        while self.recent and self.recent[0] < now - RATE_WINDOW_S:
            self.recent.popleft()


class Lane:
    """One lane's pipeline around a :class:`Checkpoint` and its outputs."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        outputs: Outputs,
        decoder: Decoder,
        *,
        debounce_s: float = 3.0,
        mode: str = "normal",
        sensor: PassageSensor | None = None,
        passage_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        boottime: Callable[[], float] = boot_clock,
        emit: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.checkpoint = checkpoint
        self.outputs = outputs
        self.decoder = decoder
        self.debounce = Debounce(debounce_s)
        self.sensor = sensor
        self.passage_timeout = passage_timeout
        self.clock = clock
        self.monotonic = monotonic
        self.emit = emit or (lambda event: log.info(json.dumps(event, ensure_ascii=False)))
        self.clock_watch = ClockWatch(
            checkpoint, clock=clock, monotonic=monotonic, boot_clock=boottime, emit=self.emit
        )
        self.pending: list[Pending] = []
        self._passages_used = sensor.mark() if sensor is not None else 0
        self.stats = LaneStats()
        self.faults = RecordFaults(checkpoint.state_dir, self.emit)
        self._mode = "normal"
        self.set_mode(mode, announce=False)  # the daemon's "started" line names the mode

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(
        self, mode: str, *, announce: bool = True, by: str | None = None, reason: str | None = None
    ) -> str:
        """Switch the lane mode and return the previous one; ``free`` holds the
        turnstile open until switched back. ``by`` and ``reason`` (a steward's, over the
        control socket) go into the journal's ``mode`` line."""
        if mode not in MODES:
            raise Refused(f"lane mode {mode!r} is not one of {', '.join(MODES)}")
        previous = self._mode
        self.checkpoint.policy = replace(self.checkpoint.policy, closed=(mode == "closed"))
        if mode == "free":
            relay = self.outputs.relay  # "open" is whatever is not the resting state
            relay.off() if relay.rest else relay.on()
        elif self._mode == "free":
            self.outputs.relay.reset()
        self._mode = mode
        if announce:
            line: dict[str, Any] = {
                "event": "mode",
                "time": int(self.clock()),
                "mode": mode,
                "previous": previous,
            }
            if by is not None:
                line.update(by=by, reason=reason)
            self.emit(line)
        return previous

    def open_once(self, by: str, reason: str, ticket: str | None = None) -> int:
        """A steward lets one person through: the ``admitted``/``override`` record (note
        ``"BY: REASON"``, counting as ``ticket``'s admission when one is named) is
        committed first, then the relay opens as for an admission; return its seq."""
        if not by.strip() or not reason.strip():
            raise Refused("opening the gate by hand needs the steward's name and a reason")
        now = int(self.clock())
        seq = self.checkpoint.override(now, f"{by.strip()}: {reason.strip()}", ticket)
        out = self.outputs
        if self._mode != "free":
            out.relay.pulse()
        if out.green is not None:
            out.green.pulse()
        self.stats.overrides += 1
        self.stats.admission(now)
        self.emit(
            {
                "event": "override",
                "time": now,
                "seq": seq,
                "ticket": ticket,
                "by": by.strip(),
                "reason": reason.strip(),
            }
        )
        return seq

    def handle(self, item: Item) -> list[Decision]:
        """Decide on every new code an item carries; return the decisions made."""
        captured = item.timestamp
        texts = texts_of(item, self.decoder)
        decoded = self.monotonic()
        decisions = []
        for text in texts:
            if self.debounce.fresh(text, decoded):
                decisions.append(self._decide(text, captured, decoded))
                decoded = self.monotonic()
        return decisions

    def _decide(self, text: str, captured: float, decoded: float) -> Decision:
        now = int(self.clock())
        timings: dict[str, float] = {}
        try:
            decision = self.checkpoint.admit(
                text, now, timings=timings, floor=self.clock_watch.floor()
            )
        except (sqlite3.Error, OSError) as exc:
            # Not recorded, so not admitted: red, nothing opens, one alarm (record_faults).
            self.faults.failed(exc, now)
            decision = Decision("rejected", CANNOT_RECORD)
        else:
            self.faults.recovered(now)
        committed = self.monotonic()
        self._actuate(decision)
        actuated = self.monotonic()
        self._count(decision)
        self.emit(
            {
                "event": "decision",
                "time": now,
                "result": decision.result,
                "reason": decision.reason,
                "ticket": decision.ticket,
                "label": decision.label,
                "show": decision.event,
                "seq": decision.seq,
                "mode": self._mode,
                **(
                    {"first_at": decision.first_at, "first_device": decision.first_device}
                    if decision.first_device is not None
                    else {}
                ),
                "latency_ms": {
                    "decode": round((decoded - captured) * 1000, 3),
                    "decide": round(timings.get("decide", 0.0) * 1000, 3),
                    "commit": round(timings.get("commit", 0.0) * 1000, 3),
                    "actuate": round((actuated - committed) * 1000, 3),
                    "total": round((actuated - captured) * 1000, 3),
                },
            }
        )
        if decision.reason == CLOCK_BEHIND or self.clock_watch.raised:
            self.clock_watch.check()  # the alarm with the first refusal, the clear with the fix
        return decision

    def _actuate(self, decision: Decision) -> None:
        """Only after the commit: open for an admission, signal a refusal."""
        out = self.outputs
        if decision.admitted:
            if self.sensor is not None and decision.seq is not None:
                self.pending.append(
                    Pending(
                        decision.seq,
                        self.sensor.mark(),
                        self.monotonic() + self.passage_timeout,
                        decision.ticket,
                    )
                )
            if self._mode != "free":
                out.relay.pulse()
            if out.green is not None:
                out.green.pulse()
        else:
            if out.red is not None:
                out.red.pulse()
            if out.buzzer is not None:
                out.buzzer.pulse()

    def _count(self, decision: Decision) -> None:
        if decision.admitted:
            self.stats.admission(self.clock())
        else:
            self.stats.rejected += 1
        self.stats.reasons[decision.reason] = self.stats.reasons.get(decision.reason, 0) + 1

    def tick(self) -> None:
        """Watch the clock; void admissions whose passage never came; call between items."""
        self.clock_watch.poll()
        if not self.pending or self.sensor is None:
            return
        now_mono = self.monotonic()
        passages = self.sensor.count
        still: list[Pending] = []
        for p in self.pending:  # oldest admission first
            used = max(self._passages_used, p.mark)  # earlier passages were not this one's
            if passages > used:
                self._passages_used = used + 1
                continue
            if now_mono < p.deadline:
                still.append(p)
                continue
            now = int(self.clock())
            try:
                seq = self.checkpoint.void(p.seq, now)
            except (sqlite3.Error, OSError) as exc:
                self.faults.failed(exc, now)  # the void waits for the card, as admissions do
                still.append(p)
                continue
            self.faults.recovered(now)
            self.stats.voided += 1
            self.emit(
                {
                    "event": "voided",
                    "time": now,
                    "ref": p.seq,
                    "seq": seq,
                    "ticket": p.ticket,
                    "reason": "no_passage",
                }
            )
        self.pending = still
