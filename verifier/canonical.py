"""Canonical JSON (the bytes every GH1 hash and signature covers) and its strict reader.

PROTOCOL.md section 2 defines the canonical form as Python's
``json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` encoded
as UTF-8. Only strings, integers, booleans, lists, objects (and null in records) occur.

The reader is strict for the same reason the Base45 decoder is: a document that two
parsers could read differently must not be signed over. Floats, NaN/Infinity and
duplicate keys are refused, and integers are kept within SQLite's signed 64 bits so a
value that verifies can also be stored.
"""

from __future__ import annotations

import json
from typing import Any

from errors import EncodingError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def canonical_json(obj: Any) -> bytes:
    """Return the canonical UTF-8 bytes of ``obj`` (the input to every GH1 hash)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _no_float(text: str) -> Any:
    raise EncodingError(f"number {text} is not an integer; GH1 documents carry no floats")


def _no_constant(text: str) -> Any:
    raise EncodingError(f"{text} is not valid in a GH1 document")


def _checked_int(text: str) -> int:
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise EncodingError(f"integer {text[:30]} is outside the signed 64-bit range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise EncodingError(f"key {key!r} appears twice in one object")
            seen.add(key)
    return obj


_decoder = json.JSONDecoder(
    object_pairs_hook=_unique_keys,
    parse_float=_no_float,
    parse_int=_checked_int,
    parse_constant=_no_constant,
)


def parse_strict(text: str | bytes) -> Any:
    """Parse one JSON document strictly; raise :class:`EncodingError` with the cause."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EncodingError(f"not valid UTF-8 at byte {exc.start}") from None
    if text.startswith("\ufeff"):
        raise EncodingError("starts with a byte-order mark; GH1 JSON is UTF-8 without one")
    try:
        value = _decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise EncodingError(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    except EncodingError:
        raise
    except RecursionError:
        raise EncodingError("JSON nested too deeply") from None
    except ValueError as exc:  # int() refusing a number of thousands of digits
        raise EncodingError(f"not valid JSON: {exc}") from None
    if "\\u" in text:
        # A \uD800-style escape decodes to a lone surrogate, which has no UTF-8 form
        # and so no canonical bytes to hash: refuse it here, not deep in a hash.
        try:
            canonical_json(value)
        except UnicodeEncodeError:
            raise EncodingError("a string holds a lone UTF-16 surrogate escape") from None
    return value
