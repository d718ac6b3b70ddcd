"""A decision in words for a person: ``ADMITTED ticket … (GA, show): ok``.

Shared by ``gate check``/``gate admit`` and the demo, which shows the same lines a
steward would see; the JSON form (``Decision.to_json``) is for programs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verifier import Decision


def local_time(unix: int | None) -> str:
    """``unix`` in the gate's local time zone, or ``?`` when unknown."""
    if unix is None:
        return "?"
    return datetime.fromtimestamp(unix, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def describe(decision: Decision) -> str:
    """One line for a person: the verdict, the ticket, and the reason in words."""
    verdict = "ADMITTED" if decision.admitted else "REJECTED"
    who = ""
    if decision.ticket:
        who = f" ticket {decision.ticket}"
        if decision.label or decision.event:
            who += f" ({decision.label or '?'}, {decision.event or '?'})"
    why = decision.words
    if decision.first_device is not None:
        why += f", first admitted {local_time(decision.first_at)} at {decision.first_device}"
    if decision.floor is not None:
        why += f" (it is at least {local_time(decision.floor)}, proven by {decision.floor_source})"
    return f"{verdict}{who}: {why}"
