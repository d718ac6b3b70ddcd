"""A public key as a technician reads it aloud or types it: its fingerprint.

A ledger key is 64 hex digits; nobody checks that by eye at a turnstile. The
fingerprint is the first 128 bits of SHA-256 over the 32 raw key bytes, written as
eight groups of four hex digits (``3f2a:9c01:…``). The hub prints it (``gate hub init``,
``gate hub status``); ``gate provision --ledger-key-fingerprint`` compares it with the key
the hub serves *before* anything is written, so a unit is never provisioned against a
hub that signs with another key (a test hub, a look-alike on the venue network).
"""

from __future__ import annotations

import hashlib
import re

from errors import InvalidArgument

#: Hex digits the fingerprint shows; a typed one may be shorter, down to MIN_TYPED.
FINGERPRINT_HEX = 32
#: The fewest hex digits accepted when typed: 64 bits still make a look-alike key
#: infeasible to find, and a technician may read out only the first half.
MIN_TYPED = 16

_SEPARATORS = re.compile(r"[\s:\-]")
_HEX = re.compile(r"[0-9a-f]+\Z")


def key_fingerprint(public_key: bytes) -> str:
    """``public_key``'s fingerprint: ``xxxx:xxxx:…``, eight groups of four hex digits."""
    digest = hashlib.sha256(public_key).hexdigest()[:FINGERPRINT_HEX]
    return ":".join(digest[i : i + 4] for i in range(0, FINGERPRINT_HEX, 4))


def normalise_fingerprint(text: str) -> str:
    """The hex digits of a typed fingerprint (separators, case and a ``sha256:`` prefix
    dropped); a malformed one is refused with what was wrong."""
    cleaned = _SEPARATORS.sub("", text.strip().lower())
    cleaned = cleaned.removeprefix("sha256")
    if not _HEX.match(cleaned):
        raise InvalidArgument(
            f"ledger key fingerprint {text!r} is not hex digits (groups of four, separated "
            "by ':', as gate hub init prints it)"
        )
    if len(cleaned) == 64:
        return cleaned  # the whole public key, pasted
    if not MIN_TYPED <= len(cleaned) <= FINGERPRINT_HEX:
        raise InvalidArgument(
            f"ledger key fingerprint {text!r} has {len(cleaned)} hex digits; give at least "
            f"{MIN_TYPED} of the {FINGERPRINT_HEX} that gate hub init prints (or the whole "
            "64-digit key)"
        )
    return cleaned


def fingerprint_matches(text: str, public_key: bytes) -> bool:
    """Whether the typed ``text`` (a fingerprint or its first digits, or the whole key in
    hex) names ``public_key``."""
    wanted = normalise_fingerprint(text)
    if len(wanted) == 64:
        return wanted == public_key.hex()
    return hashlib.sha256(public_key).hexdigest().startswith(wanted)


__all__ = ["fingerprint_matches", "key_fingerprint", "normalise_fingerprint"]
