"""The venue demo's world: the tickets on sale and the crowd that comes to the lanes.

Everything here is a pure function of (seed, gates, attendees, seconds): the holders'
keys, the tickets, who comes to which lane at what moment and with what on their phone,
and what the lane must answer. Two runs with one seed therefore make the same decisions
(their timings differ: the lanes are real processes). Nothing is rendered or started
here; :mod:`gate.demo.venue` plays the plan against real daemons.

The crowd is mostly honest. Among it, in proportion to its size (at least one of each):

``vip``        a north-zone ticket at a north lane (admitted)
``multi``      a two-entry ticket, used twice at two lanes (admitted both times)
``buyer``      a ticket sold on; the buyer's code (admitted)
``seller``     the same ticket, the seller's old code (``transferred``)
``refunded``   a refunded ticket (``revoked``)
``wrong_zone`` a north-zone ticket at a south lane (``wrong_zone``)
``other_day``  a ticket for tomorrow's show (``wrong_event``)
``expired``    a screenshot of a live code taken ten minutes ago (``expired_code``)
``forged``     a code for a real ticket signed with the wrong key (``bad_signature``)
``junk``       another system's code, a boarding pass (``not_a_ticket``)
``copy``       a friend shows the holder's live code at another lane a moment after
               the holder went in (``already_used``, first let in at the holder's lane),
               once while the hub is up and once while it is down
``balker``     admitted, never walks through: the lane voids the entry, and when the
               attendee comes back the ticket admits them
``open_once``  a steward lets someone through by hand (a recorded override)
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field

from errors import DemoFailed
from verifier import Signer, encode_token, step_of

EVENT = "venue-night"
NEXT_DAY = "venue-night-2"
ZONES = ("north", "south")
#: How long before the crowd's start the tickets are valid from, and after it until.
VALID_BEFORE_S = 3 * 3600
VALID_AFTER_S = 6 * 3600
#: How old the expired screenshot's code is (a code is live for one 15 s step and its
#: neighbours; PROTOCOL.md section 4, check 10).
SCREENSHOT_AGE_S = 600
#: A two-entry holder comes back this long after the first entry: past the 15 s step of
#: the code used then (PROTOCOL.md section 4, check 15).
RE_ENTRY_S = 16.0
#: The share of the run during which the site's uplink is down.
OUTAGE = (0.35, 0.70)

NAMES = (
    "hana", "ivan", "amara", "bruno", "chen", "dara", "elif", "femi", "greta", "hugo",
    "ines", "jonas", "kofi", "lena", "mateo", "nia", "oskar", "priya", "quinn", "rosa",
    "sami", "tara", "umar", "vera", "wei", "ximena", "yusuf", "zoe",
)  # fmt: skip

HONEST = ("honest", "vip", "multi", "buyer", "balker")
REFUSED = (
    "seller", "refunded", "wrong_zone", "other_day", "expired", "forged", "junk", "copy",
)  # fmt: skip
#: Every kind of visit, in the order the plan draws them.
KINDS = ("honest", "vip", "multi", "buyer", *REFUSED, "balker", "open_once")
#: What each kind of visit must get: (result, reason).
EXPECTED = {
    "honest": "ok",
    "vip": "ok",
    "multi": "ok",
    "buyer": "ok",
    "balker": "ok",
    "seller": "transferred",
    "refunded": "revoked",
    "wrong_zone": "wrong_zone",
    "other_day": "wrong_event",
    "expired": "expired_code",
    "forged": "bad_signature",
    "junk": "not_a_ticket",
    "copy": "already_used",
    "open_once": "override",
}
JUNK = "M1SMITH/JOHN         EABC123 LHRJFKBA 0117 123Y001A0025 100"


def holder_seed(seed: int, name: str) -> bytes:
    """The holder key seed of ``name``'s wallet in the venue of ``seed``."""
    return hashlib.sha256(f"gatehouse-venue:{seed}:holder:{name}".encode()).digest()


def ticket_id(seed: int, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"gatehouse-venue:{seed}:ticket:{name}"))


@dataclass(frozen=True, slots=True)
class Ticket:
    """One ticket on sale: whose, for which show and zones, and what happened to it."""

    name: str  # the buyer's name (also names the ticket)
    event: str = EVENT
    zones: tuple[str, ...] = ()
    entries: int = 1
    label: str = "GA"
    sold_to: str | None = None  # sold on: the new holder's name
    refunded: bool = False


@dataclass(frozen=True, slots=True)
class Visit:
    """One person at one lane with one code (or, for ``open_once``, none).

    ``at`` is seconds after the crowd starts. ``after`` names the visit this one waits
    for: a copy is shown a moment after the original's decision, a balker comes back
    after the lane voided the entry."""

    id: int
    at: float
    lane: str
    kind: str
    who: str  # who is at the lane, in words
    ticket: str | None  # the ticket's name (its holder at sale), None for junk and open-once
    shows: str  # whose key signs the code: a name, "forger", "screenshot" or "junk"
    after: int | None = None
    walks: bool = True  # False: admitted, never walks through (the lane voids it)

    @property
    def expect(self) -> str:
        return EXPECTED[self.kind]

    @property
    def honest(self) -> bool:
        return self.kind in HONEST


@dataclass(slots=True)
class Plan:
    """The venue: its lanes (name -> zone), the tickets, the crowd's visits, the outage."""

    seed: int
    seconds: float
    lanes: dict[str, str]
    tickets: list[Ticket]
    visits: list[Visit]
    outage: tuple[float, float]
    names: dict[str, str] = field(default_factory=dict)  # ticket name -> holder name now
    attendees: int = 0  # people in the crowd (a two-entry holder or a balker comes twice)

    def code(self, visit: Visit, at: float) -> str | None:
        """The text on the visit's phone at Unix time ``at`` (None: no phone)."""
        if visit.shows == "junk":
            return JUNK
        if visit.ticket is None:
            return None
        ticket = ticket_id(self.seed, visit.ticket)
        if visit.shows == "forger":
            key = hashlib.sha256(f"forger:{self.seed}:{visit.id}".encode()).digest()
            return encode_token(key, ticket, step_of(int(at)))
        if visit.shows == "screenshot":
            holder = self.names.get(visit.ticket, visit.ticket)
            return encode_token(
                holder_seed(self.seed, holder), ticket, step_of(int(at) - SCREENSHOT_AGE_S)
            )
        return encode_token(holder_seed(self.seed, visit.shows), ticket, step_of(int(at)))

    def holder_key(self, name: str) -> bytes:
        return Signer(holder_seed(self.seed, name)).public_key


def lane_names(gates: int) -> dict[str, str]:
    """``gates`` lanes, north and south by turns: north-1, south-1, north-2, ..."""
    lanes = {}
    for i in range(gates):
        zone = ZONES[i % 2]
        lanes[f"{zone}-{i // 2 + 1}"] = zone
    return lanes


def make_plan(seed: int, gates: int, attendees: int, seconds: float, tickets: int) -> Plan:
    """The venue of ``seed``: ``tickets`` on sale, ``attendees`` people at ``gates`` lanes
    over ``seconds``. Needs two lanes (a copy is shown at another lane than the
    original) and enough people for one of each kind."""
    if gates < 2:
        raise DemoFailed("the venue needs at least 2 gates (a copy is shown at another lane)")
    rng = random.Random(seed)
    lanes = lane_names(gates)
    north = [n for n, z in lanes.items() if z == "north"]
    south = [n for n, z in lanes.items() if z == "south"]
    k = max(1, attendees // 40)
    counts = {
        "vip": k, "multi": k, "buyer": k, "seller": k, "refunded": k, "wrong_zone": k,
        "other_day": k, "expired": k, "forged": k, "junk": max(1, k // 2),
        "copy": max(2, k), "balker": 1, "open_once": 1,
    }  # fmt: skip
    people = sum(counts.values()) + counts["copy"]  # a copy's original is one more
    if attendees < people + 4:
        raise DemoFailed(f"the crowd needs at least {people + 4} attendees for every case")
    counts["honest"] = attendees - people
    if tickets < attendees * 2:
        raise DemoFailed(f"issue at least {attendees * 2} tickets for {attendees} attendees")

    serial = iter(range(1, 10**9))
    used_names: set[str] = set()

    def person() -> str:
        while True:
            name = f"{rng.choice(NAMES)}-{next(serial)}"
            if name not in used_names:
                used_names.add(name)
                return name

    sold: list[Ticket] = []
    visits: list[Visit] = []
    start, end = 0.5, max(1.0, seconds * 0.9)
    down = (seconds * OUTAGE[0], seconds * OUTAGE[1])

    def when(lo: float = start, hi: float = end) -> float:
        return round(rng.uniform(lo, hi), 3)

    def visit(at: float, lane: str, kind: str, who: str, ticket: str | None, shows: str,
              **extra: object) -> Visit:  # fmt: skip
        v = Visit(len(visits) + 1, at, lane, kind, who, ticket, shows, **extra)  # type: ignore[arg-type]
        visits.append(v)
        return v

    everywhere = list(lanes)
    # The balker stands in the turnstile until the lane voids the entry, holding up that
    # lane; the copies go to the others, so a friend's copy is shown within a second.
    balk_lane = rng.choice(everywhere)
    unblocked = [n for n in everywhere if n != balk_lane]
    for kind in KINDS:
        for i in range(counts[kind]):
            name = person()
            if kind == "honest":
                sold.append(Ticket(name))
                visit(when(), rng.choice(everywhere), kind, name, name, name)
            elif kind == "vip":
                sold.append(Ticket(name, zones=("north",), label="VIP"))
                visit(when(), rng.choice(north), kind, name, name, name)
            elif kind == "wrong_zone":
                sold.append(Ticket(name, zones=("north",), label="VIP"))
                visit(when(), rng.choice(south), kind, name, name, name)
            elif kind == "multi":
                sold.append(Ticket(name, entries=2, label="2-DAY"))
                lane = rng.choice(everywhere)
                first = visit(when(start, end * 0.45), lane, kind, name, name, name)
                # Back for the second entry after the code has rotated (a code once
                # used is ``replayed`` for its whole 15 s step): RE_ENTRY_S after the
                # first entry's answer, however late the lane's queue made it.
                again = rng.choice([n for n in everywhere if n != lane])
                visit(first.at + RE_ENTRY_S, again, kind, name, name, name, after=first.id)
            elif kind in ("buyer", "seller"):
                # A resold ticket: its buyer comes with the new code, or (another
                # resold ticket) its seller tries the old one.
                buyer = person()
                sold.append(Ticket(name, sold_to=buyer))
                who = buyer if kind == "buyer" else name
                visit(when(), rng.choice(everywhere), kind, who, name, who)
            elif kind == "refunded":
                sold.append(Ticket(name, refunded=True))
                visit(when(), rng.choice(everywhere), kind, name, name, name)
            elif kind == "other_day":
                sold.append(Ticket(name, event=NEXT_DAY))
                visit(when(), rng.choice(everywhere), kind, name, name, name)
            elif kind == "expired":
                sold.append(Ticket(name))  # someone else's ticket, screenshotted
                visit(when(), rng.choice(everywhere), kind, f"a screenshot of {name}'s", name,
                      "screenshot")  # fmt: skip
            elif kind == "forged":
                sold.append(Ticket(name))
                visit(when(), rng.choice(everywhere), kind, f"a forgery of {name}'s", name,
                      "forger")  # fmt: skip
            elif kind == "junk":
                visit(when(), rng.choice(everywhere), kind, "a boarding pass", None, "junk")
            elif kind == "copy":
                # Half while the hub is up, half while it is down (the peers alone).
                window = (start, down[0] - 2) if i % 2 == 0 else (down[0] + 1, down[1] - 3)
                at = when(*window) if window[1] > window[0] else when()
                sold.append(Ticket(name))
                other = rng.choice(unblocked)  # where the friend shows the copy
                lane = rng.choice([n for n in everywhere if n != other])
                original = visit(at, lane, "honest", name, name, name)
                visit(at + 0.01, other, kind, f"a copy of {name}'s", name, name,
                      after=original.id)  # fmt: skip
            elif kind == "balker":
                sold.append(Ticket(name))
                first = visit(
                    when(start, end * 0.4), balk_lane, kind, name, name, name, walks=False
                )
                visit(first.at + 0.01, balk_lane, kind, name, name, name, after=first.id)
            elif kind == "open_once":
                visit(when(), rng.choice(everywhere), kind, "someone whose phone died", None,
                      "steward")  # fmt: skip

    # The rest of the tickets on sale: bought, never used tonight.
    while len(sold) < tickets:
        sold.append(Ticket(f"guest-{len(sold)}", zones=("north",) if rng.random() < 0.1 else ()))
    names = {t.name: t.sold_to or t.name for t in sold}
    visits.sort(key=lambda v: (v.at, v.id))
    return Plan(seed, seconds, lanes, sold, visits, down, names, attendees)


__all__ = [
    "EVENT",
    "EXPECTED",
    "HONEST",
    "NEXT_DAY",
    "REFUSED",
    "RE_ENTRY_S",
    "Plan",
    "Ticket",
    "Visit",
    "lane_names",
    "make_plan",
    "ticket_id",
]
