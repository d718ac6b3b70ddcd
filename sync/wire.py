"""What the gate's client and the hub agree on over HTTP, beyond the JSON bodies.

Both sides import these from here (``sync.client`` and ``hub.api``), so the header
names and the caps a gate relies on cannot drift apart; docs/hub-api.md states them
for integrators who replace the reference hub. Standard library only: a gate imports
this, and a gate installs nothing of the hub.
"""

from __future__ import annotations

#: Who signed an upload, when, and the signature (see ``sync.request_auth``).
HEADER_DEVICE = "X-Gatehouse-Device"
HEADER_TIME = "X-Gatehouse-Time"
HEADER_SIGNATURE = "X-Gatehouse-Signature"
#: The hub's head height, beside each page of blocks: the gate asks again until it
#: holds that height.
HEADER_HEIGHT = "X-Gatehouse-Height"

#: Seconds a signed request's time may be from the hub's clock; a request older than
#: this is stale, and the hub remembers signatures this long to refuse replays.
MAX_SKEW = 120

#: A reply to /v1/blocks holds at most this much (and at least one block), so a gate
#: far behind pulls page after page with bounded memory on both sides.
MAX_PAGE_BYTES = 8 * 1024 * 1024
#: The most records one upload carries.
MAX_RECORDS_PER_REQUEST = 5000

__all__ = [
    "HEADER_DEVICE",
    "HEADER_HEIGHT",
    "HEADER_SIGNATURE",
    "HEADER_TIME",
    "MAX_PAGE_BYTES",
    "MAX_RECORDS_PER_REQUEST",
    "MAX_SKEW",
]
