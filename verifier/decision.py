"""The decision (PROTOCOL.md section 4): a pure function of (token text, now, ledger, policy).

Nothing here reads a clock, writes a file or raises on bad input: every text or bytes
yields a :class:`Decision` whose reason is one of the contract's codes, and the first
check that fails names it. The ledger is read through the small :class:`LedgerView`
protocol so the same function runs on the SQLite store, inside an admission's write
transaction, and on in-memory fakes in property tests.

The time floor (:mod:`verifier.time_floor`: the newest time the gate's state proves) is
part of that state and passed in with it; ``now`` below it by more than the policy's
``clock_tolerance`` is refused as ``clock_behind`` before the first check that reads
the clock (docs/protocol.md section 7).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from errors import TokenRejected

from . import reasons
from .keys import TAG_ENTRY, verify
from .time_floor import CLOCK_TOLERANCE_S, TimeFloor, highest, is_behind
from .token import PREFIX, STEP_SECONDS, parse_token

#: ``GH1:`` + 129 Base45 characters (86 bytes); any other length is malformed, so a
#: 100 KB text is refused without decoding it.
TOKEN_TEXT_LENGTH = len(PREFIX) + 129


@dataclass(frozen=True, slots=True)
class Policy:
    """What this gate admits: its events, its zone (None: any) and the step window.

    ``closed`` is the steward's lane mode: a closed lane refuses every scan with
    ``lane_closed`` before check 1 (the lane swaps in a copy with ``closed=True``).
    ``clock_tolerance`` is how many seconds ``now`` may be below the time floor before
    the decision refuses it as ``clock_behind``.
    """

    events: frozenset[str]
    zone: str | None = None
    back: int = 2
    fwd: int = 1
    closed: bool = False
    clock_tolerance: int = CLOCK_TOLERANCE_S


@dataclass(frozen=True, slots=True)
class TicketInfo:
    """A ticket as the ledger currently knows it."""

    event: str
    holder: bytes
    valid_from: int
    until: int
    zones: tuple[str, ...]
    entries: int
    label: str
    revoked: str | None  # the revocation reason, None when not revoked
    #: How many admissions count for the ticket, when the store read them with it (the
    #: decision then asks ``admissions`` only if there are any); None: not read.
    counted: int | None = None
    #: The newest time the state the ticket was read from proves, when the store read it
    #: with the ticket; the decision takes the higher of it and the floor passed in.
    floor: TimeFloor | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """One admission that counts: a (device, seq) pair not voided."""

    device: str
    seq: int
    step: int | None
    at: int


class LedgerView(Protocol):
    """The reads a decision needs; the store answers them in a few indexed lookups."""

    def ticket(self, ticket: bytes) -> TicketInfo | None: ...
    def previous_holders(self, ticket: bytes) -> Sequence[bytes]: ...
    def admissions(self, ticket: bytes) -> Sequence[Admission]: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one token. ``step`` and ``ticket`` are set when the token parsed."""

    result: str  # "admitted" or "rejected"
    reason: str
    ticket: str | None = None
    step: int | None = None
    event: str | None = None
    label: str | None = None
    first_at: int | None = None  # already_used: when the ticket was first admitted
    first_device: str | None = None  # ... and at which device
    floor: int | None = None  # clock_behind: the newest time the gate can prove
    floor_source: str | None = None  # ... and what proves it ("block 812")
    seq: int | None = None  # the record this decision was logged as (admit only)

    @property
    def admitted(self) -> bool:
        return self.result == "admitted"

    @property
    def words(self) -> str:
        """The reason in words, for the people at the lane."""
        return reasons.WORDS.get(self.reason, self.reason)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "result": self.result,
            "reason": self.reason,
            "ticket": self.ticket,
            "event": self.event,
            "label": self.label,
            "step": self.step,
        }
        if self.reason == reasons.ALREADY_USED:
            out["first_at"] = self.first_at
            out["first_device"] = self.first_device
        if self.reason == reasons.CLOCK_BEHIND:
            out["floor"] = self.floor
            out["floor_source"] = self.floor_source
        if self.seq is not None:
            out["seq"] = self.seq
        return out

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":"))


def _reject(reason: str, **fields: Any) -> Decision:
    return Decision(result="rejected", reason=reason, **fields)


def _as_text(token: str | bytes) -> str | Decision:
    """Token text, or the rejection for bytes that cannot be token text."""
    if isinstance(token, str):
        return token
    if not token.startswith(PREFIX.encode()):
        return _reject(reasons.NOT_A_TICKET)
    try:
        return token.decode("utf-8")
    except UnicodeDecodeError:
        return _reject(reasons.MALFORMED)


def _closed(token: str | bytes) -> Decision:
    """``lane_closed``, with the ticket and step when the token parses (for the record)."""
    text = _as_text(token)
    if isinstance(text, str) and len(text) == TOKEN_TEXT_LENGTH:
        try:
            tok = parse_token(text)
        except TokenRejected:
            pass
        else:
            return _reject(reasons.LANE_CLOSED, ticket=tok.ticket_id, step=tok.step)
    return _reject(reasons.LANE_CLOSED)


def decide(
    token: str | bytes,
    now: int,
    ledger: LedgerView,
    policy: Policy,
    floor: TimeFloor | None = None,
) -> Decision:
    """Decide on ``token`` at Unix time ``now``; checks run in the contract's order.

    ``floor`` is the newest time the gate's state proves (None: no floor is kept, as in
    the contract's own vectors), or the higher of it and the ticket's ``floor`` when the
    ledger read one with the ticket (the SQLite store does); a ``now`` more than
    ``policy.clock_tolerance`` below it is refused as ``clock_behind`` after check 9,
    before the clock is read."""
    if policy.closed:
        return _closed(token)
    text = _as_text(token)
    if isinstance(text, Decision):
        return text
    if not text.startswith(PREFIX):
        return _reject(reasons.NOT_A_TICKET)
    if len(text) != TOKEN_TEXT_LENGTH:
        return _reject(reasons.MALFORMED)
    try:
        tok = parse_token(text)
    except TokenRejected as exc:
        return _reject(exc.reason)

    ticket_id = tok.ticket_id
    step = tok.step
    info = ledger.ticket(tok.ticket)
    if info is None:
        return _reject(reasons.UNKNOWN_TICKET, ticket=ticket_id, step=step)
    if not verify(info.holder, tok.signature, TAG_ENTRY, tok.signed):
        earlier = ledger.previous_holders(tok.ticket)
        if any(verify(k, tok.signature, TAG_ENTRY, tok.signed) for k in earlier):
            return _known(reasons.TRANSFERRED, ticket_id, step, info)
        return _known(reasons.BAD_SIGNATURE, ticket_id, step, info)
    if info.revoked is not None:
        return _known(reasons.REVOKED, ticket_id, step, info)
    if info.event not in policy.events:
        return _known(reasons.WRONG_EVENT, ticket_id, step, info)
    if policy.zone is not None and info.zones and policy.zone not in info.zones:
        return _known(reasons.WRONG_ZONE, ticket_id, step, info)
    if info.floor is not None:  # the state's own, read with the ticket
        floor = info.floor if floor is None else highest(info.floor, floor)
    if floor is not None and is_behind(now, floor.at, policy.clock_tolerance):
        return _known(
            reasons.CLOCK_BEHIND, ticket_id, step, info, floor=floor.at, floor_source=floor.source
        )
    now_step = now // STEP_SECONDS
    if step < now_step - policy.back:
        return _known(reasons.EXPIRED_CODE, ticket_id, step, info)
    if step > now_step + policy.fwd:
        return _known(reasons.FUTURE_CODE, ticket_id, step, info)
    if now < info.valid_from:
        return _known(reasons.TOO_EARLY, ticket_id, step, info)
    if now > info.until:
        return _known(reasons.TOO_LATE, ticket_id, step, info)
    # None counted with the ticket (the first entry, the usual case): nothing to read.
    admissions = () if info.counted == 0 else ledger.admissions(tok.ticket)
    if len(admissions) >= info.entries:
        first = min(admissions, key=lambda a: (a.at, a.device, a.seq))
        return _known(
            reasons.ALREADY_USED,
            ticket_id,
            step,
            info,
            first_at=first.at,
            first_device=first.device,
        )
    if admissions and any(a.step is not None and step <= a.step for a in admissions):
        return _known(reasons.REPLAYED, ticket_id, step, info)
    # Positional: the hot path's one object, without a keyword dict (the field order is
    # result, reason, ticket, step, event, label).
    return Decision("admitted", reasons.OK, ticket_id, step, info.event, info.label)


def _known(reason: str, ticket: str, step: int, info: TicketInfo, **fields: Any) -> Decision:
    """A rejection of a ticket the ledger knows: it names the ticket, step, event and
    label. Made only when the decision is a rejection, so an admission builds no dict."""
    return Decision("rejected", reason, ticket, step, info.event, info.label, **fields)
