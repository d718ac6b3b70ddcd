"""Ed25519 through libsodium (PyNaCl): domain-separated signing, verification, key checks.

Every GH1 signature covers a domain tag followed by the signed bytes (PROTOCOL.md), so a
signature made for one purpose (an entry token) is never valid for another (a block or a
record). The tags live here and nowhere else.
"""

from __future__ import annotations

import nacl.bindings as _sodium
from nacl.exceptions import BadSignatureError
from nacl.exceptions import ValueError as _NaclValueError

from errors import InvalidArgument

TAG_ENTRY = b"GH1-ENTRY"
TAG_BLOCK = b"GH1-BLOCK"
TAG_RECORD = b"GH1-RECORD"
TAG_REQUEST = b"GH1-REQUEST"  # a gate's signed request to the hub (not in PROTOCOL.md)

SEED_BYTES = 32
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


def public_key_of(seed: bytes) -> bytes:
    """The 32-byte public key of a 32-byte Ed25519 seed."""
    pk, _ = _sodium.crypto_sign_seed_keypair(seed)
    return pk


class Signer:
    """Signs with one Ed25519 key; the expanded secret key is derived once."""

    __slots__ = ("_secret", "public_key")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_BYTES:
            raise InvalidArgument(f"an Ed25519 seed is {SEED_BYTES} bytes, got {len(seed)}")
        self.public_key, self._secret = _sodium.crypto_sign_seed_keypair(seed)

    def sign(self, tag: bytes, message: bytes) -> bytes:
        """Detached signature over ``tag + message``."""
        return _sodium.crypto_sign(tag + message, self._secret)[:SIGNATURE_BYTES]


def verify(public_key: bytes, signature: bytes, tag: bytes, message: bytes) -> bool:
    """True when ``signature`` is libsodium-valid for ``tag + message`` under ``public_key``."""
    if len(signature) != SIGNATURE_BYTES or len(public_key) != PUBLIC_KEY_BYTES:
        return False
    try:
        _sodium.crypto_sign_open(signature + tag + message, public_key)
    except (BadSignatureError, _NaclValueError, TypeError):
        return False
    return True


def is_valid_point(public_key: bytes) -> bool:
    """libsodium's ``crypto_core_ed25519_is_valid_point``: canonical, on the curve,
    in the prime-order subgroup and not of small order (the rule for holder keys)."""
    return len(public_key) == PUBLIC_KEY_BYTES and bool(
        _sodium.crypto_core_ed25519_is_valid_point(public_key)
    )
