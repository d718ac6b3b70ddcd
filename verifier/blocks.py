"""Ledger blocks (PROTOCOL.md section 2): strict parsing, event rules, hashing, signing.

A block is valid only as a whole. This module checks everything that can be checked
from the block alone (shape, field types, the authority's signature, holder keys);
the rules that need the chain (height, prev, time, "ticket must exist") are checked by
the store while it applies the block inside one transaction.

Holder keys are the expensive part of a large block: each is a full libsodium point
validation. They are checked once per distinct key and, for big blocks, on every core
(libsodium releases the GIL), because a 1,000,000-ticket ledger is a normal sale.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from errors import BlockRejected, EncodingError

from .canonical import canonical_json, parse_strict
from .keys import TAG_BLOCK, Signer, is_holder_key, verify

ZERO_HASH = "0" * 64
BLOCK_FIELDS = frozenset(("v", "height", "prev", "time", "events", "sig"))

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
# Exactly the texts with str(uuid.UUID(t)) == t: canonical, lowercase, hyphenated.
_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_HEX128 = re.compile(r"[0-9a-f]{128}\Z")
_EVENT_ID = re.compile(r"[a-z0-9-]{1,64}\Z")

# Field kinds of each op (the table of PROTOCOL.md section 2). "op" is implied.
_STR, _INT, _UUID, _EVENT, _HOLDER, _ZONES, _ENTRIES, _SEQ, _STEP, _BOOL = (
    "string",
    "integer",
    "ticket id",
    "event id",
    "holder key",
    "zone list",
    "entry count",
    "sequence number",
    "time step",
    "boolean",
)
EVENT_SCHEMA: dict[str, dict[str, str]] = {
    "event": {"event": _EVENT, "name": _STR, "starts": _INT, "ends": _INT},
    "issue": {
        "ticket": _UUID,
        "event": _EVENT,
        "holder": _HOLDER,
        "from": _INT,
        "until": _INT,
        "zones": _ZONES,
        "entries": _ENTRIES,
        "label": _STR,
    },
    "transfer": {"ticket": _UUID, "holder": _HOLDER},
    "revoke": {"ticket": _UUID, "reason": _STR},
    "redeem": {"ticket": _UUID, "device": _STR, "seq": _SEQ, "step": _STEP, "at": _INT},
    "void": {"ticket": _UUID, "device": _STR, "seq": _SEQ},
    # Revision 1.2: the key a gate signs its records with, and whether it is active.
    "device": {"device": _STR, "key": _HOLDER, "active": _BOOL},
}
_KEYSETS = {op: frozenset(fields) | {"op"} for op, fields in EVENT_SCHEMA.items()}

#: Blocks with at least this many distinct holder keys check them on every core.
PARALLEL_HOLDERS = 2048


@dataclass(frozen=True, slots=True)
class Block:
    """A block whose shape is valid. ``hash`` is SHA-256 of its canonical form without sig."""

    height: int
    prev: str
    time: int
    events: list[dict[str, Any]]
    sig: str
    hash: bytes

    def as_dict(self) -> dict[str, Any]:
        """The block as it travels (one JSONL line, canonical form)."""
        return {
            "v": 1,
            "height": self.height,
            "prev": self.prev,
            "time": self.time,
            "events": self.events,
            "sig": self.sig,
        }


def block_hash(body: dict[str, Any]) -> bytes:
    """SHA-256 of the canonical JSON of a block (or record) without its ``sig``."""
    return hashlib.sha256(canonical_json({k: v for k, v in body.items() if k != "sig"})).digest()


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int subclass and is not an integer here


def _field_error(value: Any, kind: str) -> str | None:
    """Why ``value`` is not a valid ``kind``, or None when it is (holder points aside)."""
    if kind == _STR:
        return None if type(value) is str else "must be a string"
    if kind == _INT:
        return None if _is_int(value) else "must be an integer"
    if kind == _UUID:
        ok = type(value) is str and bool(_UUID_TEXT.match(value))
        return None if ok else "must be a canonical lowercase UUID"
    if kind == _EVENT:
        ok = type(value) is str and bool(_EVENT_ID.match(value))
        return None if ok else "must match [a-z0-9-]{1,64}"
    if kind == _HOLDER:
        return None if type(value) is str and _HEX64.match(value) else "must be 64 lowercase hex"
    if kind == _ZONES:
        ok = type(value) is list and all(type(z) is str for z in value)
        return None if ok else "must be a list of strings"
    if kind == _ENTRIES:
        return None if _is_int(value) and value >= 1 else "must be an integer >= 1"
    if kind == _SEQ:
        return None if _is_int(value) and value >= 1 else "must be an integer >= 1"
    if kind == _BOOL:
        return None if type(value) is bool else "must be true or false"
    if kind == _STEP:  # null: a steward's override admission, which has no code
        ok = value is None or (_is_int(value) and 0 <= value <= 0xFFFFFFFF)
        return None if ok else "must be a 32-bit step or null"
    raise AssertionError(kind)


def event_shape_error(index: int, event: Any) -> str | None:
    """Why an event's op is unknown or its fields are missing, extra or mistyped; None
    when its shape is valid."""
    if type(event) is not dict:
        return f"event {index} is not an object"
    op = event.get("op")
    keyset = _KEYSETS.get(op) if type(op) is str else None
    if keyset is None:
        return f"event {index} has unknown op {op!r}"
    if event.keys() != keyset:
        missing = sorted(keyset - event.keys())
        extra = sorted(event.keys() - keyset)
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unexpected {', '.join(extra)}"] if extra else []
        )
        return f"event {index} ({op}) has {'; '.join(parts)}"
    for field, kind in EVENT_SCHEMA[op].items():
        why = _field_error(event[field], kind)
        if why:
            return f"event {index} ({op}) field {field!r} {why}"
    return None


def event_keys(events: list[dict[str, Any]]) -> list[str]:
    """Every public key ``events`` carry (``holder`` of issue and transfer, ``key`` of
    device: the holder-key rule applies to both), distinct, in first-seen order."""
    return list(
        dict.fromkeys(
            e["holder"] if "holder" in e else e["key"]
            for e in events
            if "holder" in e or e["op"] == "device"
        )
    )


def invalid_holders(events: list[dict[str, Any]]) -> list[str]:
    """Keys in ``events`` (holders and device keys) that ``is_holder_key`` refuses
    (PROTOCOL section 2, revision 1.1), in first-seen order."""
    holders = event_keys(events)
    if len(holders) < PARALLEL_HOLDERS:
        return [h for h in holders if not is_holder_key(bytes.fromhex(h))]
    workers = min(len(holders) // PARALLEL_HOLDERS + 1, os.cpu_count() or 1)
    chunk = -(-len(holders) // workers)
    parts = [holders[i : i + chunk] for i in range(0, len(holders), chunk)]

    def bad_in(part: list[str]) -> list[str]:
        return [h for h in part if not is_holder_key(bytes.fromhex(h))]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [h for found in pool.map(bad_in, parts) for h in found]


def parse_block(text: str | bytes, *, line: int | None = None, source: str | None = None) -> Block:
    """Parse one JSONL line into a :class:`Block`, refusing any shape the contract forbids.

    Checks everything that needs neither the chain nor the ledger key: JSON strictness,
    the top-level fields, every event's op and field types, and holder keys.
    """

    def reject(reason: str, detail: str, height: int | None = None) -> BlockRejected:
        return BlockRejected(reason, detail, height=height, line=line, source=source)

    try:
        doc = parse_strict(text)
    except EncodingError as exc:
        raise reject("garbage", f"not a block: {exc}") from None
    if type(doc) is not dict:
        raise reject("garbage", "not a block: a JSON object is expected")
    height = doc.get("height") if _is_int(doc.get("height")) else None
    if doc.keys() != BLOCK_FIELDS:
        missing = sorted(BLOCK_FIELDS - doc.keys())
        extra = sorted(doc.keys() - BLOCK_FIELDS)
        detail = "; ".join(
            ([f"missing {', '.join(missing)}"] if missing else [])
            + ([f"unexpected {', '.join(extra)}"] if extra else [])
        )
        raise reject("shape", f"block fields: {detail}", height)
    if doc["v"] != 1 or not _is_int(doc["v"]):
        raise reject("version", f"block version {doc['v']!r} is not 1", height)
    if height is None or height < 0:
        raise reject("shape", "height must be an integer >= 0")
    if type(doc["prev"]) is not str or not _HEX64.match(doc["prev"]):
        raise reject("shape", "prev must be 64 lowercase hex", height)
    if not _is_int(doc["time"]):
        raise reject("shape", "time must be an integer", height)
    if type(doc["sig"]) is not str or not _HEX128.match(doc["sig"]):
        raise reject("shape", "sig must be 128 lowercase hex", height)
    events = doc["events"]
    if type(events) is not list:
        raise reject("shape", "events must be a list", height)
    for i, event in enumerate(events):
        problem = event_shape_error(i, event)
        if problem:
            raise reject("event", problem, height)
    bad = invalid_holders(events)
    if bad:
        devices = {e["key"] for e in events if e["op"] == "device"}
        what = "device key" if bad[0] in devices else "holder"
        raise reject(
            "event",
            f"{what} {bad[0]} is not a valid holder key "
            "(non-canonical, not on the curve, or of small order)",
            height,
        )
    return Block(
        height=height,
        prev=doc["prev"],
        time=doc["time"],
        events=events,
        sig=doc["sig"],
        hash=block_hash(doc),
    )


def signature_valid(block: Block, ledger_key: bytes) -> bool:
    """True when the block's ``sig`` is the ledger authority's over ``GH1-BLOCK || hash``."""
    return verify(ledger_key, bytes.fromhex(block.sig), TAG_BLOCK, block.hash)


def make_block(
    authority: Signer, height: int, prev: str, time: int, events: list[dict[str, Any]]
) -> dict[str, Any]:
    """Build and sign a block as the ledger authority does (the hub, tests, benchmarks)."""
    body = {"v": 1, "height": height, "prev": prev, "time": time, "events": events}
    digest = block_hash(body)
    return {**body, "sig": authority.sign(TAG_BLOCK, digest).hex()}


_DONE = object()


class LineParser(Protocol):
    """:func:`parse_block`'s signature (``verifier.parse_child.ChildParser.parse``)."""

    def __call__(
        self, text: str | bytes, *, line: int | None = None, source: str | None = None
    ) -> Block: ...


def parse_ahead(
    lines: Iterable[tuple[int, str | bytes]],
    *,
    source: str | None = None,
    depth: int = 2,
    parse: LineParser = parse_block,
) -> Iterator[tuple[int, Block | BlockRejected]]:
    """Parse numbered lines on a background thread, ``depth`` blocks ahead of the caller.

    Parsing (JSON, event shapes, the holder-key checks) and storing (SQLite, which
    releases the GIL while it writes) then overlap; with ``parse`` a
    :class:`~verifier.parse_child.ChildParser`'s, large lines are parsed in a child
    process, on another core. A line that does not parse is
    yielded as its :class:`BlockRejected` in its place, so every block before it can
    still be applied; the reader stops after the first one.
    """
    out: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for number, text in lines:
                try:
                    item: Block | BlockRejected = parse(text, line=number, source=source)
                except BlockRejected as exc:
                    put((number, exc))
                    return
                if not put((number, item)):
                    return
        except BaseException as exc:  # e.g. an OSError reading the file: re-raised below
            put(exc)
        finally:
            put(_DONE)

    worker = threading.Thread(target=produce, name="parse-ahead", daemon=True)
    worker.start()
    try:
        while (item := out.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def read_blocks(lines: Iterable[str | bytes]) -> Iterator[tuple[int, str | bytes]]:
    """Number the non-blank lines of a JSONL ledger file (1-based), for error messages."""
    for number, text in enumerate(lines, start=1):
        if text.strip():
            yield number, text
