"""Redemption records (PROTOCOL.md section 3): making, signing and verifying the log.

Every decision a gate records becomes one record, hash-chained per device from 64 zeros
and signed with the device key under the ``GH1-RECORD`` tag. ``verify_records`` is the
independent check a hub, an auditor or a test runs on an export: it needs nothing but
the records and the device's public key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from errors import EncodingError, RecordChainError

from .blocks import ZERO_HASH
from .canonical import canonical_json, parse_strict
from .keys import TAG_RECORD, Signer, verify

RECORD_FIELDS = frozenset(
    ("v", "device", "seq", "prev", "at", "ticket", "step", "result", "reason", "ref", "note", "sig")
)
RESULTS = frozenset(("admitted", "rejected", "voided"))
_SIG_HEX = re.compile(r"[0-9a-f]{128}")
_HASH_HEX = re.compile(r"[0-9a-f]{64}")
_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
STEP_MAX = 0xFFFFFFFF


def record_hash(record: dict[str, Any]) -> bytes:
    """SHA-256 of the canonical JSON of the record without ``sig``."""
    return hashlib.sha256(canonical_json({k: v for k, v in record.items() if k != "sig"})).digest()


def record_shape_error(record: Any) -> str | None:
    """Why ``record`` is not a record of PROTOCOL.md section 3 with every field of its
    type, or None when it is. Stricter than :func:`verify_records`, which checks what a
    chain needs: a peer's record (section 5) goes into what the decision counts, so its
    ticket must be a ticket id, its seq, step and ref integers, and so on."""
    if type(record) is not dict or record.keys() != RECORD_FIELDS:
        return "not a record: it must have exactly the fields of PROTOCOL.md section 3"

    def is_int(value: Any) -> bool:
        return type(value) is int  # bool is an int subclass and is not an integer here

    def text(value: Any, pattern: re.Pattern[str] | None = None) -> bool:
        return type(value) is str and (pattern.fullmatch(value) is not None if pattern else True)

    r = record
    checks = (
        ("v", r["v"] == 1 and is_int(r["v"]), "must be 1"),
        ("device", text(r["device"]) and r["device"] != "", "must be non-empty text"),
        ("seq", is_int(r["seq"]) and r["seq"] >= 1, "must be an integer >= 1"),
        ("prev", text(r["prev"], _HASH_HEX), "must be 64 lowercase hex"),
        ("at", is_int(r["at"]), "must be an integer"),
        (
            "ticket",
            r["ticket"] is None or text(r["ticket"], _UUID_TEXT),
            "must be null or a canonical lowercase UUID",
        ),
        (
            "step",
            r["step"] is None or (is_int(r["step"]) and 0 <= r["step"] <= STEP_MAX),
            "must be null or a 32-bit step",
        ),
        ("result", text(r["result"]) and r["result"] in RESULTS, "must be a known result"),
        ("reason", text(r["reason"]), "must be text"),
        ("ref", r["ref"] is None or (is_int(r["ref"]) and r["ref"] >= 1), "must be null or >= 1"),
        ("note", r["note"] is None or text(r["note"]), "must be null or text"),
        ("sig", text(r["sig"], _SIG_HEX), "must be 128 lowercase hex"),
    )
    for field, ok, why in checks:
        if not ok:
            return f"field {field!r} {why}"
    return None


def ledger_event(record: dict[str, Any]) -> dict[str, Any] | None:
    """The ledger event a record becomes (PROTOCOL.md section 3), or None: an admission
    with a ticket is a ``redeem``, a voided admission with a ticket a ``void`` of the seq
    it names. The hub queues it for the next block; a gate holding the record as a
    peer's counts it as that event (section 5)."""
    ticket = record["ticket"]
    if ticket is None:
        return None
    if record["result"] == "admitted":
        return {
            "op": "redeem",
            "ticket": ticket,
            "device": record["device"],
            "seq": record["seq"],
            "step": record["step"],
            "at": record["at"],
        }
    if record["result"] == "voided" and record["ref"] is not None:
        return {"op": "void", "ticket": ticket, "device": record["device"], "seq": record["ref"]}
    return None


def make_record(
    signer: Signer,
    *,
    device: str,
    seq: int,
    prev: str,
    at: int,
    ticket: str | None,
    step: int | None,
    result: str,
    reason: str,
    ref: int | None = None,
    note: str | None = None,
) -> tuple[dict[str, Any], bytes]:
    """Build and sign one record; return it with its hash (the next record's ``prev``)."""
    record: dict[str, Any] = {
        "v": 1,
        "device": device,
        "seq": seq,
        "prev": prev,
        "at": at,
        "ticket": ticket,
        "step": step,
        "result": result,
        "reason": reason,
        "ref": ref,
        "note": note,
    }
    digest = record_hash(record)
    record["sig"] = signer.sign(TAG_RECORD, digest).hex()
    return record, digest


def verify_records(
    records: Iterable[dict[str, Any] | str],
    public_key: bytes,
    *,
    device: str | None = None,
    after: tuple[int, str] = (0, ZERO_HASH),
) -> int:
    """Verify a run of records; return how many. Raise :class:`RecordChainError` naming
    the first bad seq. ``after`` is the (seq, hash) the run continues from, for an
    export made with ``--since``."""
    last_seq, last_hash = after
    count = 0
    for item in records:
        try:
            record = parse_strict(item) if isinstance(item, str) else item
        except EncodingError as exc:
            raise RecordChainError(f"record after seq {last_seq}: {exc}") from None
        if type(record) is not dict or record.keys() != RECORD_FIELDS:
            raise RecordChainError(
                f"record after seq {last_seq} does not have exactly the "
                "fields of PROTOCOL.md section 3"
            )
        seq = record["seq"]
        if record["v"] != 1 or record["result"] not in RESULTS:
            raise RecordChainError(f"record seq {seq}: unknown version or result")
        if device is not None and record["device"] != device:
            raise RecordChainError(
                f"record seq {seq} is from device {record['device']!r}, expected {device!r}"
            )
        if seq != last_seq + 1:
            raise RecordChainError(f"record seq {seq} follows seq {last_seq}: a gap")
        if record["prev"] != last_hash:
            raise RecordChainError(
                f"record seq {seq}: prev does not match the hash of seq {last_seq}"
            )
        digest = record_hash(record)
        if type(record["sig"]) is not str or not _SIG_HEX.fullmatch(record["sig"]):
            # One spelling (PROTOCOL.md: lowercase hex): upper case would verify too, as
            # a different text of the same record.
            raise RecordChainError(f"record seq {seq}: sig must be 128 lowercase hex")
        if not verify(public_key, bytes.fromhex(record["sig"]), TAG_RECORD, digest):
            raise RecordChainError(
                f"record seq {seq}: signature does not verify under the device key"
            )
        last_seq, last_hash = seq, digest.hex()
        count += 1
    return count
