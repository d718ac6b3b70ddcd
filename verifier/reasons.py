"""The decision reasons of PROTOCOL.md section 4, and the words a steward reads for each.

The codes are the wire contract; the words are for the people at the lane. The order of
``CHECK_ORDER`` is the order the decision applies its checks in: when a code fails several
checks, the first of them is the reason (``tests/test_properties.py`` holds the decision
to it). Three refusals are this gate's own, outside the contract's numbered checks:
``lane_closed`` (a steward closed the lane; before check 1), ``clock_behind`` (the
gate's clock is below the newest time it can prove, :mod:`verifier.time_floor`; after
check 9, before the first check that reads the clock) and ``cannot_record`` (the lane
could not record the decision; never in a record).
"""

from __future__ import annotations

from typing import Final

OK: Final = "ok"
LANE_CLOSED: Final = "lane_closed"
#: The lane could not record the decision (a full or failing card): nobody is admitted
#: by code. Never in a record, by its nature; the journal and the steward see it.
CANNOT_RECORD: Final = "cannot_record"
CLOCK_BEHIND: Final = "clock_behind"
NOT_A_TICKET: Final = "not_a_ticket"
MALFORMED: Final = "malformed"
UNSUPPORTED: Final = "unsupported"
UNKNOWN_TICKET: Final = "unknown_ticket"
TRANSFERRED: Final = "transferred"
BAD_SIGNATURE: Final = "bad_signature"
REVOKED: Final = "revoked"
WRONG_EVENT: Final = "wrong_event"
WRONG_ZONE: Final = "wrong_zone"
EXPIRED_CODE: Final = "expired_code"
FUTURE_CODE: Final = "future_code"
TOO_EARLY: Final = "too_early"
TOO_LATE: Final = "too_late"
ALREADY_USED: Final = "already_used"
REPLAYED: Final = "replayed"

CHECK_ORDER: Final = (
    NOT_A_TICKET,
    MALFORMED,
    UNSUPPORTED,
    UNKNOWN_TICKET,
    TRANSFERRED,
    BAD_SIGNATURE,
    REVOKED,
    WRONG_EVENT,
    WRONG_ZONE,
    EXPIRED_CODE,
    FUTURE_CODE,
    TOO_EARLY,
    TOO_LATE,
    ALREADY_USED,
    REPLAYED,
)

#: Every reason a decision can give: the contract's, ``lane_closed`` (before check 1),
#: ``clock_behind`` (between checks 9 and 10), and ``cannot_record`` (the lane's, when
#: the decision could not be recorded).
DECISION_REASONS: Final = frozenset((OK, LANE_CLOSED, CLOCK_BEHIND, CANNOT_RECORD, *CHECK_ORDER))

WORDS: Final = {
    OK: "valid ticket, admitted",
    LANE_CLOSED: "this lane is closed",
    CANNOT_RECORD: "this gate cannot record right now (card full or failing): nobody is let in",
    NOT_A_TICKET: "not a Gatehouse ticket code",
    MALFORMED: "damaged or incomplete ticket code",
    UNSUPPORTED: "ticket code from an unsupported wallet version",
    UNKNOWN_TICKET: "ticket not on this gate's ledger",
    TRANSFERRED: "ticket was transferred; this is the old holder's code",
    BAD_SIGNATURE: "forged or corrupted code (signature does not match)",
    REVOKED: "ticket was revoked (refund or cancellation)",
    WRONG_EVENT: "ticket is for another event",
    WRONG_ZONE: "ticket is not valid for this zone",
    CLOCK_BEHIND: "this gate's clock is behind: call a technician to set it",
    EXPIRED_CODE: "code is too old (screenshot?); refresh the wallet",
    FUTURE_CODE: "code is from the future; check the phone's clock",
    TOO_EARLY: "ticket is not valid yet",
    TOO_LATE: "ticket is no longer valid",
    ALREADY_USED: "ticket already used",
    REPLAYED: "this code was already used; show a fresh code",
}
