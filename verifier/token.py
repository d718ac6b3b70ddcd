"""The GH1 entry token: the text inside the rotating QR code (PROTOCOL.md section 1).

``GH1:`` + Base45 of an 86-byte payload::

    version(1) flags(1) ticket(16) step(4, big-endian) signature(64)

The signature is the ticket holder's, over ``b"GH1-ENTRY" + payload[0:22]``. Parsing
here checks only the shape (steps 1-3 of the decision); whether the signature is good
depends on the ledger and is the decision's business.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from errors import EncodingError, InvalidArgument, TokenRejected

from . import reasons
from .base45 import b45decode, b45encode
from .keys import TAG_ENTRY, Signer

PREFIX = "GH1:"
PAYLOAD_BYTES = 86
SIGNED_BYTES = 22
STEP_SECONDS = 15
VERSION = 1


@dataclass(frozen=True, slots=True)
class Token:
    """A token whose shape is valid; ``signature`` is not yet checked against anything."""

    ticket: bytes  # 16 raw UUID bytes
    step: int
    signature: bytes
    signed: bytes  # payload[0:22], the bytes the holder signed (after the tag)

    @property
    def ticket_id(self) -> str:
        """The ticket id as canonical lowercase UUID text, as the ledger spells it:
        ``str(uuid.UUID(bytes=ticket))``, spelt out (a quarter of the cost; every
        decision past check 3 names its ticket)."""
        h = self.ticket.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def parse_token(text: str) -> Token:
    """Parse token text; raise :class:`TokenRejected` with ``not_a_ticket``,
    ``malformed`` or ``unsupported`` in the contract's order."""
    if not text.startswith(PREFIX):
        raise TokenRejected(reasons.NOT_A_TICKET, "text does not start with GH1:")
    try:
        payload = b45decode(text[len(PREFIX) :])
    except EncodingError as exc:
        raise TokenRejected(reasons.MALFORMED, str(exc)) from None
    if len(payload) != PAYLOAD_BYTES:
        raise TokenRejected(
            reasons.MALFORMED, f"payload is {len(payload)} bytes, a GH1 token has {PAYLOAD_BYTES}"
        )
    if payload[0] != VERSION or payload[1] != 0:
        raise TokenRejected(
            reasons.UNSUPPORTED,
            f"token version {payload[0]} flags {payload[1]} (this gate reads 1/0)",
        )
    return Token(
        ticket=payload[2:18],
        step=int.from_bytes(payload[18:22], "big"),
        signature=payload[22:],
        signed=payload[:SIGNED_BYTES],
    )


def ticket_bytes(ticket: str | bytes | uuid.UUID) -> bytes:
    """16 raw bytes of a ticket id given as UUID text, a UUID or raw bytes."""
    if isinstance(ticket, uuid.UUID):
        return ticket.bytes
    if isinstance(ticket, bytes):
        if len(ticket) != 16:
            raise InvalidArgument(f"a ticket id is 16 bytes, got {len(ticket)}")
        return ticket
    return uuid.UUID(ticket).bytes


def encode_token(
    holder: Signer | bytes,
    ticket: str | bytes | uuid.UUID,
    step: int,
    *,
    version: int = VERSION,
    flags: int = 0,
) -> str:
    """Make the token text a wallet shows: ``holder`` is the holder's Signer or 32-byte seed.

    ``version`` and ``flags`` are parameters only so tests can build the tokens a
    future or broken wallet would make.
    """
    signer = holder if isinstance(holder, Signer) else Signer(holder)
    if not 0 <= step <= 0xFFFFFFFF:
        raise InvalidArgument(f"step {step} does not fit in 4 bytes")
    head = bytes((version, flags)) + ticket_bytes(ticket) + step.to_bytes(4, "big")
    return PREFIX + b45encode(head + signer.sign(TAG_ENTRY, head))


def step_of(unix_time: int) -> int:
    """The 15-second time step a wallet stamps into a code made at ``unix_time``."""
    return unix_time // STEP_SECONDS
