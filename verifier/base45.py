"""Strict Base45 (RFC 9285), the text form of the GH1 entry token.

Strictness is part of the contract (PROTOCOL.md section 1): a length of 3k+1, a
character outside the 45-character alphabet, or a chunk whose value overflows
(over 65535 for three characters, over 255 for two) is refused. A lenient decoder
would give two different texts for one payload, and a gate must not be the place
where the wallet's mistakes are quietly repaired.
"""

from __future__ import annotations

import struct

from errors import EncodingError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
# bytes.translate table: alphabet characters to their values, everything else to 0xFF.
_TABLE = bytes(ALPHABET.index(chr(b)) if chr(b) in ALPHABET else 0xFF for b in range(256))


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
    """Decode Base45 text strictly; raise :class:`EncodingError` on anything not canonical.

    Every scan goes through here, so the work is done by C-level bytes operations
    (translate, slicing, struct) rather than a Python loop per character.
    """
    if len(text) % 3 == 1:
        raise EncodingError(f"Base45 length {len(text)} is 3k+1, which no input encodes to")
    try:
        values = text.encode("ascii").translate(_TABLE)
    except UnicodeEncodeError as exc:
        raise EncodingError(
            f"character {text[exc.start]!r} is not in the Base45 alphabet"
        ) from None
    bad = values.find(0xFF)
    if bad >= 0:
        raise EncodingError(f"character {text[bad]!r} is not in the Base45 alphabet")
    full = len(values) - len(values) % 3
    numbers = [
        a + b * 45 + c * 2025
        for a, b, c in zip(values[0:full:3], values[1:full:3], values[2:full:3], strict=True)
    ]
    if numbers and max(numbers) > 0xFFFF:
        i = 3 * next(i for i, n in enumerate(numbers) if n > 0xFFFF)
        raise EncodingError(f"Base45 chunk {text[i : i + 3]!r} at {i} overflows two bytes")
    out = struct.pack(f">{len(numbers)}H", *numbers)
    if full != len(values):
        n = values[full] + values[full + 1] * 45
        if n > 0xFF:
            raise EncodingError(f"Base45 chunk {text[full:]!r} at {full} overflows one byte")
        out += bytes((n,))
    return out
