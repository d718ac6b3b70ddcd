"""Strict Base45 (RFC 9285), the text form of the GH1 entry token.

Strictness is part of the contract (PROTOCOL.md section 1): a length of 3k+1, a
character outside the 45-character alphabet, or a chunk whose value overflows
(over 65535 for three characters, over 255 for two) is refused. A lenient decoder
would give two different texts for one payload, and a gate must not be the place
where the wallet's mistakes are quietly repaired.
"""

from __future__ import annotations

import functools

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

    Every scan goes through here, so there is no Python loop per character or chunk:
    the characters become their values by one ``translate``, the values of all the
    three-character chunks are read as one integer with a 24-bit lane per chunk (c, d, e
    in a lane's three bytes), and the chunk values ``c + 45 d + 2025 e`` are worked out
    for every lane at once by masks, shifts and two multiplications; no lane can carry
    into the next (the largest value, 91124, is under 2^24). A chunk overflows two bytes
    iff its lane's top byte is not 0, which one AND with a mask of the top bytes tells
    for all of them (searching the bytes for it cost a quarter of the decode); dropping
    the top bytes leaves the output.
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
    lanes = int.from_bytes(values[:full], "big")
    low, high = _lane_masks(full)
    numbers = (lanes >> 16 & low) + 45 * (lanes >> 8 & low) + 2025 * (lanes & low)
    out = bytearray(numbers.to_bytes(full, "big"))
    if numbers & high:  # one integer test; the slow search only to name the chunk
        tops = out[0::3]
        i = 3 * (len(tops) - len(tops.lstrip(b"\0")))
        raise EncodingError(f"Base45 chunk {text[i : i + 3]!r} at {i} overflows two bytes")
    del out[0::3]
    if full != len(values):
        n = values[full] + values[full + 1] * 45
        if n > 0xFF:
            raise EncodingError(f"Base45 chunk {text[full:]!r} at {full} overflows one byte")
        out.append(n)
    return bytes(out)


@functools.lru_cache(maxsize=16)
def _lane_masks(size: int) -> tuple[int, int]:
    """The masks of the low byte and of the top byte of every 24-bit lane in ``size``
    bytes: the first picks a character's value out of each lane, the second finds a
    chunk whose value overflows two bytes."""
    lanes = size // 3
    return int.from_bytes(b"\0\0\xff" * lanes, "big"), int.from_bytes(b"\xff\0\0" * lanes, "big")
