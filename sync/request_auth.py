"""Signed requests from gates to the hub: who sent it, when, and that it is not a replay.

A gate signs ``GH1-REQUEST`` + ``METHOD\\nPATH\\nTIME\\n`` + SHA-256(body) with its device
key and sends the device id, the time and the signature in headers. The hub accepts a
request only from an enrolled, unrevoked device, only within ``MAX_SKEW`` seconds of its
own clock, and only once: a captured request replayed within that window is refused,
and one replayed later is stale. Both sides use this module: the gate's client signs
(:func:`sign_request`), the hub checks (:func:`check_request`).
"""

from __future__ import annotations

import hashlib

from verifier.keys import TAG_REQUEST, Signer, verify

from .wire import HEADER_DEVICE, HEADER_SIGNATURE, HEADER_TIME, MAX_SKEW


def request_message(method: str, path: str, time: int, body: bytes) -> bytes:
    return f"{method.upper()}\n{path}\n{time}\n".encode() + hashlib.sha256(body).digest()


def sign_request(
    signer: Signer, device: str, method: str, path: str, time: int, body: bytes
) -> dict[str, str]:
    """The headers a gate sends with ``body``."""
    signature = signer.sign(TAG_REQUEST, request_message(method, path, time, body))
    return {HEADER_DEVICE: device, HEADER_TIME: str(time), HEADER_SIGNATURE: signature.hex()}


def check_request(
    public_key: bytes,
    method: str,
    path: str,
    time_text: str,
    signature_hex: str,
    body: bytes,
    now: int,
) -> str | None:
    """Why the request is not acceptable (a reason for the reply), or None when it is."""
    if not time_text.isdigit():
        return "the request time is missing or not a Unix time"
    if abs(int(time_text) - now) > MAX_SKEW:
        return (
            f"the request time is {int(time_text) - now:+d} s from the hub's clock "
            f"(more than {MAX_SKEW} s): check the gate's clock"
        )
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        signature = b""
    if not verify(
        public_key, signature, TAG_REQUEST, request_message(method, path, int(time_text), body)
    ):
        return "the request signature does not verify under the device's key"
    return None
