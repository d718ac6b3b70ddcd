"""What the venue demo checks at the end, and the summary it writes (``--json FILE``).

The invariants are those a venue operator asks after a night with an outage:

- no fraudulent code admitted (screenshots, forgeries, a seller's old code, refunded,
  wrong-zone and wrong-day tickets, copies, other systems' codes);
- every honest attendee admitted exactly as often as the ticket allows (a voided entry
  does not count: the lane gave it back);
- every decision the one the plan expects (which makes the run reproducible by seed);
- every record held by the hub exactly once, byte for byte the gate's own log;
- every gate's chain verified with its device key;
- every double-entry attempt refused within the peer window, or else reported by the
  hub as a conflict (and the hub reports no other conflict);
- after the reconciliation every gate holds every other gate's records.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from errors import RecordChainError
from hub import Hub
from verifier.records import verify_records

from .crowd import REFUSED, Plan, Visit, ticket_id

if TYPE_CHECKING:
    from .lanes import LaneFigures


@dataclass(slots=True)
class Outcome:
    """What one visit got at its lane."""

    visit: Visit
    result: str  # admitted, rejected, unread (the code was never read), error
    reason: str
    first_device: str | None = None
    first_at: int | None = None
    seq: int | None = None
    seen: float = 0.0  # time.monotonic() when the demo saw the answer
    waited: float = 0.0  # seconds from holding the phone up to the answer
    voided: bool = False

    @property
    def as_expected(self) -> bool:
        v = self.visit
        if v.kind == "open_once":
            return self.result == "admitted" and self.reason == "override"
        if not v.walks:
            return self.result == "admitted" and self.voided
        return self.reason == v.expect and (self.result == "admitted") == (v.expect == "ok")


@dataclass(slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(slots=True)
class Verdict:
    """The invariants checked and the figures of the run."""

    checks: list[Check]
    outcomes: list[Outcome]
    lanes: dict[str, dict[str, Any]]
    venue: dict[str, Any]
    copies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    def decisions(self) -> list[dict[str, Any]]:
        """Every visit's decision, by visit: what two runs of one seed must share."""
        return [
            {
                "visit": o.visit.id,
                "kind": o.visit.kind,
                "who": o.visit.who,
                "lane": o.visit.lane,
                "result": o.result,
                "reason": o.reason,
                "first_device": o.first_device,
                "voided": o.voided,
            }
            for o in sorted(self.outcomes, key=lambda o: o.visit.id)
        ]

    def summary(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "venue": self.venue,
            "invariants": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "lanes": self.lanes,
            "totals": _totals(self.lanes),
            "copies": self.copies,
            "decisions": self.decisions(),
        }


def _totals(lanes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    refused: Counter[str] = Counter()
    for figures in lanes.values():
        refused.update(figures["refused"])
    return {
        "scans": sum(f["scans"] for f in lanes.values()),
        "admitted": sum(f["admitted"] for f in lanes.values()),
        "refused": dict(sorted(refused.items())),
        "voided": sum(f["voided"] for f in lanes.values()),
        "overrides": sum(f["overrides"] for f in lanes.values()),
    }


def judge(
    plan: Plan,
    played: dict[int, Outcome],
    figures: dict[str, LaneFigures],
    hub_dir: Path,
    logs: dict[str, list[str]],
    reconciled: dict[str, Any],
) -> Verdict:
    """Check every invariant against what the visits got (``played``, by visit id), the
    lanes' journal figures, their record logs (``gate records export``), the hub's
    files in ``hub_dir`` and the reconciliation (its sync exit codes, the peer heads)."""
    outcomes = [played[v.id] for v in plan.visits if v.id in played]
    missing = [v.id for v in plan.visits if v.id not in played]
    checks: list[Check] = []

    hub = Hub(hub_dir)
    try:
        held = {
            name: [
                r[0]
                for r in hub.db.execute(
                    "SELECT body FROM records WHERE device = ? ORDER BY seq", (name,)
                )
            ]
            for name in plan.lanes
        }
        keys = {
            name: bytes.fromhex(k)
            for name, k in hub.db.execute("SELECT device, public_key FROM devices")
        }
        conflicts = hub.conflicts()
    finally:
        hub.close()
    # A copy of a live code is judged with the double entries below: it is refused
    # within the peer window, or let in and then reported by the hub as a conflict.
    conflicted = {c.ticket for c in conflicts}
    fraud = [o for o in outcomes if o.visit.kind in REFUSED and o.visit.kind != "copy"]
    let_in = [o for o in fraud if o.result == "admitted"]
    checks.append(
        Check(
            "no fraudulent code admitted",
            not let_in,
            f"{len(fraud)} refused as they should be (the copies: below)"
            if not let_in
            else "admitted: " + ", ".join(f"{o.visit.who} at {o.visit.lane}" for o in let_in),
        )
    )

    entries = {t.name: t.entries for t in plan.tickets}
    honest_tickets = {o.visit.ticket for o in outcomes if o.visit.honest}
    admitted: Counter[str] = Counter()
    for o in outcomes:
        if o.visit.honest and o.result == "admitted" and not o.voided:
            admitted[o.visit.ticket or ""] += 1
    wrong = sorted(t for t in honest_tickets if t and admitted[t] != entries[t])
    checks.append(
        Check(
            "every honest attendee admitted exactly once (twice on a two-entry ticket)",
            not wrong and not missing,
            f"{len(honest_tickets)} tickets, {sum(admitted.values())} entries"
            if not wrong and not missing
            else f"not as allowed: {', '.join(wrong[:5])}; visits not played: {missing[:5]}",
        )
    )

    unexpected = [
        o
        for o in outcomes
        if not o.as_expected
        and not (
            o.visit.kind == "copy"
            and o.result == "admitted"
            and ticket_id(plan.seed, o.visit.ticket or "") in conflicted
        )
    ]
    checks.append(
        Check(
            "every decision as the plan expects",
            not unexpected and not missing,
            f"{len(outcomes)} visits"
            if not unexpected
            else "; ".join(
                f"visit {o.visit.id} ({o.visit.kind}, {o.visit.who} at {o.visit.lane}): "
                f"{o.result}/{o.reason}, expected {o.visit.expect}"
                for o in unexpected[:5]
            ),
        )
    )

    differ = [n for n in logs if held[n] != logs[n]]
    checks.append(
        Check(
            "every record held by the hub exactly once, as the gate signed it",
            not differ and all(logs.values()),
            ", ".join(f"{n} {len(logs[n])}" for n in logs)
            if not differ
            else "; ".join(f"{n}: gate {len(logs[n])}, hub {len(held[n])}" for n in differ),
        )
    )
    broken = []
    for name, rows in held.items():
        try:
            verify_records(rows, keys[name], device=name)
        except (RecordChainError, KeyError) as exc:
            broken.append(f"{name}: {exc}")
    checks.append(
        Check(
            "every chain verified with its gate's key",
            not broken,
            f"{len(held)} chains" if not broken else "; ".join(broken),
        )
    )

    copies = []
    for o in outcomes:
        if o.visit.kind != "copy":
            continue
        original = played.get(o.visit.after or 0)
        copies.append(
            {
                "ticket": o.visit.ticket,
                "holder_lane": original.visit.lane if original else None,
                "copy_lane": o.visit.lane,
                "result": o.result,
                "reason": o.reason,
                "first_device": o.first_device,
                "after_s": round(o.seen - original.seen, 3) if original else None,
            }
        )
    slipped = [
        c
        for c in copies
        if not (c["reason"] == "already_used" and c["first_device"] == c["holder_lane"])
        and ticket_id(plan.seed, c["ticket"]) not in conflicted
    ]
    admitted_copies = {
        ticket_id(plan.seed, c["ticket"]) for c in copies if c["result"] == "admitted"
    }
    stray = conflicted - admitted_copies
    checks.append(
        Check(
            "every double entry refused within the peer window or reported as a conflict",
            not slipped and not stray,
            f"{len(copies)} copies: "
            + ", ".join(
                f"{c['copy_lane']} {c['reason']} {c['after_s']} s after {c['holder_lane']}"
                for c in copies
            )
            + f"; the hub reports {len(conflicts)} conflict(s)"
            if not slipped and not stray
            else f"slipped through: {slipped}; conflicts that are no copy: {sorted(stray)}",
        )
    )

    peer_heads = reconciled.get("peer_heads", {})
    own = reconciled.get("own_heads", {})
    behind = [
        f"{name} holds {other} to {heads.get(other, 0)} of {own[other]}"
        for name, heads in peer_heads.items()
        for other in own
        if other != name and heads.get(other, 0) < own[other]
    ]
    checks.append(
        Check(
            "every gate holds every other gate's records (peer exchange)",
            bool(peer_heads) and not behind,
            f"{len(peer_heads)} gates even" if not behind else "; ".join(behind[:4]),
        )
    )

    lanes = {}
    for name, f in figures.items():
        lanes[name] = {
            "zone": plan.lanes[name],
            "scans": f.scans,
            "admitted": f.admitted,
            "refused": dict(sorted(f.refused.items())),
            "voided": f.voided,
            "overrides": f.overrides,
            "frame_to_relay_ms": {
                "p50": None if (p50 := f.p50()) is None else round(p50, 1),
                "p99": None if (p99 := f.percentile(0.99)) is None else round(p99, 1),
            },
            "records": len(logs.get(name, [])),
            "backlog": f.backlog,
        }
    return Verdict(
        checks,
        outcomes,
        lanes,
        {
            "seed": plan.seed,
            "gates": len(plan.lanes),
            "attendees": plan.attendees,
            "visits": len(plan.visits),
            "tickets": len(plan.tickets),
            "seconds": plan.seconds,
            "outage_s": list(plan.outage),
            "conflicts": len(conflicts),
            "sync": reconciled.get("sync_round_1"),
        },
        copies,
    )


__all__ = ["Check", "Outcome", "Verdict", "judge"]
