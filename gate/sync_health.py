"""Whether this gate's view of the hub is healthy: the ``ledger_stale`` and ``clock_skew`` alarms.

One function decides both alarms for ``gate sync status`` (a technician asking) and for
every round of the sync worker (the daemon's log), so the two can never disagree about
what "stale" means. The thresholds are the configuration's ``[hub] max_ledger_age`` and
``max_clock_skew``, whose defaults live once, in :class:`gate.config.LaneConfig`.

A ledger whose newest block has no time (nothing applied yet) counts as stale: a gate
that has never heard from its hub cannot know which tickets were refunded. An unknown
clock offset (hub unreachable) is not a skew; the unreachable hub is its own alarm.

``clock_behind`` (the clock below the newest time the gate can prove,
:mod:`verifier.time_floor`) needs no hub: the lane raises it (:mod:`gate.clock_watch`),
and ``gate sync status`` reports it through :func:`clock_alarms` beside these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .config import LaneConfig
from .lane_health import CLOCK_BEHIND_ALARM

if TYPE_CHECKING:
    from verifier.time_floor import ClockState


def health_alarms(health: Mapping[str, Any], lane: LaneConfig) -> list[str]:
    """The alarms ``health`` (``HubClient.health``: ``ledger_age`` and ``clock_offset`` in
    seconds, either None when unknown) raises under ``lane``'s thresholds."""
    alarms = []
    age = health.get("ledger_age")
    if age is None or age > lane.max_ledger_age:
        alarms.append("ledger_stale")
    offset = health.get("clock_offset")
    if offset is not None and abs(offset) > lane.max_clock_skew:
        alarms.append("clock_skew")
    return alarms


def clock_alarms(state: ClockState) -> list[str]:
    """``clock_behind`` when ``state`` (``verifier.clock_state``) says the clock is behind."""
    return [CLOCK_BEHIND_ALARM] if state.behind else []
