"""Strict Base45 (RFC 9285), the text form of the GH1 entry token.

Strictness is part of the contract (PROTOCOL.md section 1): a length of 3k+1, a
character outside the 45-character alphabet, or a chunk whose value overflows
(over 65535 for three characters, over 255 for two) is refused. A lenient decoder
would give two different texts for one payload, and a gate must not be the place
where the wallet's mistakes are quietly repaired.
"""

from __future__ import annotations

from .exceptions import EncodingError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text: two bytes become three characters, a last odd byte two."""
    out: list[str] = []
    a = ALPHABET
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out.append(a[c] + a[d] + a[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out.append(a[c] + a[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode Base45 text strictly; raise :class:`EncodingError` on anything not canonical."""
    if len(text) % 3 == 1:
        raise EncodingError(f"Base45 length {len(text)} is 3k+1, which no input encodes to")
    value = _VALUE
    out = bytearray()
    try:
        full = len(text) - len(text) % 3
        for i in range(0, full, 3):
            n = value[text[i]] + value[text[i + 1]] * 45 + value[text[i + 2]] * 2025
            if n > 0xFFFF:
                raise EncodingError(f"Base45 chunk {text[i:i + 3]!r} at {i} overflows two bytes")
            out += n.to_bytes(2, "big")
        if full != len(text):
            n = value[text[full]] + value[text[full + 1]] * 45
            if n > 0xFF:
                raise EncodingError(f"Base45 chunk {text[full:]!r} at {full} overflows one byte")
            out.append(n)
    except KeyError as exc:
        raise EncodingError(f"character {exc.args[0]!r} is not in the Base45 alphabet") from None
    return bytes(out)
