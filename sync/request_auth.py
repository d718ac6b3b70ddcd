"""Signed requests from gates to the hub: who sent it, when, and that it is not a replay.

A gate signs ``GH1-REQUEST`` + ``METHOD\\nPATH\\nTIME\\n`` + SHA-256(body) with its device
key and sends the device id, the time and the signature in headers. ``PATH`` is the path
with its query (``/v1/blocks?since=41``); a read (GET) has an empty body. The hub accepts
a request only from an enrolled, unrevoked device, only within ``MAX_SKEW`` seconds of
its own clock, and only once: a captured request replayed within that window is refused,
and one replayed later is stale. Both sides use this module: the gate's client signs
(:func:`sign_request`), the hub checks (:func:`signed_headers`, :func:`verify_request`).

Each header has exactly one spelling: the time in plain decimal, the signature (and any
key or hash the hub takes) in lower-case hex (:func:`canonical_hex`). Hex decoding would
take upper case too, and a copy of a captured request with its signature upper-cased is
then different text for the same bytes: the hub refuses any other spelling, and
remembers a signature by its bytes.
"""

from __future__ import annotations

import hashlib
import re

from errors import HubRefusal
from verifier.keys import SIGNATURE_BYTES, TAG_REQUEST, Signer, verify

from .wire import HEADER_DEVICE, HEADER_SIGNATURE, HEADER_TIME, MAX_SKEW

_LOWER_HEX = re.compile(r"[0-9a-f]*")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,17}")


def canonical_hex(text: str, size: int) -> bytes | None:
    """The ``size`` bytes ``text`` spells in lower-case hex, or None when it spells
    anything else (another length, upper case, spaces, a sign): one spelling per value."""
    if len(text) != 2 * size or not _LOWER_HEX.fullmatch(text):
        return None
    return bytes.fromhex(text)


def request_message(method: str, path: str, time: int, body: bytes) -> bytes:
    return f"{method.upper()}\n{path}\n{time}\n".encode() + hashlib.sha256(body).digest()


def sign_request(
    signer: Signer, device: str, method: str, path: str, time: int, body: bytes
) -> dict[str, str]:
    """The headers a gate sends with ``body`` (``b""`` for a read)."""
    signature = signer.sign(TAG_REQUEST, request_message(method, path, time, body))
    return {HEADER_DEVICE: device, HEADER_TIME: str(time), HEADER_SIGNATURE: signature.hex()}


def signed_headers(
    time_text: str, signature_hex: str, now: int, *, clock_of: str = "the hub's"
) -> tuple[int, bytes]:
    """The signed time and the signature's bytes, read from their headers.

    :class:`HubRefusal` 401 when either is missing or not in its one spelling, or the
    time is more than ``MAX_SKEW`` from ``now`` (``clock_of``: whose clock that is, the
    hub's or, for a gate's peer port, the gate's). Nothing here depends on the device,
    so these answers tell an outsider nothing about which devices are enrolled."""
    if not _DECIMAL.fullmatch(time_text):
        raise HubRefusal(401, "the request time is missing or not a Unix time in plain decimal")
    if abs(int(time_text) - now) > MAX_SKEW:
        raise HubRefusal(
            401,
            f"the request time is {int(time_text) - now:+d} s from {clock_of} clock "
            f"(more than {MAX_SKEW} s): check the gate's clock",
        )
    signature = canonical_hex(signature_hex, SIGNATURE_BYTES)
    if signature is None:
        raise HubRefusal(
            401, f"the request signature must be {2 * SIGNATURE_BYTES} lower-case hex digits"
        )
    return int(time_text), signature


def verify_request(
    public_key: bytes, method: str, path: str, time: int, signature: bytes, body: bytes
) -> bool:
    """Whether ``signature`` is the device's over this request."""
    return verify(public_key, signature, TAG_REQUEST, request_message(method, path, time, body))
