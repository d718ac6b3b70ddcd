"""Requests per client address: token buckets, for the hub's enrolment and a gate's peer port.

The hub throttles enrolment attempts, so guessing codes is slow; a gate's peer service
(``gate.peer_service``) throttles every request, so one address flooding the LAN port
cannot starve the others (there, every request takes a token and none is given back).

Each address (an IPv6 address by its /64, which one machine usually holds whole) has a
bucket of ``attempts`` tokens that refills at ``attempts`` per ``window`` seconds. An
attempt takes a token before it is tried, and a successful enrolment gives it back:
only refused attempts count, so a technician enrolling a row of gates through one NAT
address is never slowed, while someone trying codes gets ``attempts`` guesses and then
one every ``window / attempts`` seconds. With the bucket empty the hub answers 429 and
says, in ``Retry-After``, how many seconds until the next attempt is allowed.

A token is taken before the attempt, not after it, so that a burst of attempts sent at
once cannot all pass the check while the first is still being tried.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable

from errors import InvalidArgument

#: Buckets kept before full ones (as good as none) are forgotten.
MAX_TRACKED = 4096
#: Floating-point slack: six seconds at 10/60 a second is one token, not 0.9999999.
_SLACK = 1e-9


class Throttle:
    """Token buckets by client address, on ``clock`` (seconds)."""

    def __init__(self, attempts: int, window: float, clock: Callable[[], float]) -> None:
        if attempts < 1 or window <= 0:
            raise InvalidArgument(
                f"a throttle needs at least 1 attempt per positive window, not "
                f"{attempts} per {window} s"
            )
        self.attempts = attempts
        self.rate = attempts / window  # tokens per second
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def take(self, address: str | None) -> int:
        """Take a token for one attempt from ``address``: 0 when taken, else the whole
        seconds until one is there (nothing taken)."""
        key = _key(address)
        now = self.clock()
        tokens = self._tokens(key, now)
        if tokens < 1 - _SLACK:
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate - _SLACK))
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > MAX_TRACKED:
            self._forget_full(now)
            if len(self._buckets) > MAX_TRACKED:  # a flood from many addresses: forget
                self._buckets.pop(next(iter(self._buckets)))  # the oldest, keep memory bounded
        return 0

    def give_back(self, address: str | None) -> None:
        """Return the token of an attempt that succeeded."""
        key = _key(address)
        now = self.clock()
        self._buckets[key] = (min(self.attempts, self._tokens(key, now) + 1), now)

    def _tokens(self, key: str, now: float) -> float:
        tokens, when = self._buckets.get(key, (self.attempts, now))
        return min(self.attempts, tokens + max(0.0, now - when) * self.rate)

    def _forget_full(self, now: float) -> None:
        for key in [k for k in self._buckets if self._tokens(k, now) >= self.attempts]:
            del self._buckets[key]


def _key(address: str | None) -> str:
    """The bucket an address draws from: the address, or an IPv6 address's /64."""
    if address is None:
        return ""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is 192.0.2.1
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
