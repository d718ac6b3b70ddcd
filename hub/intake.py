"""Record intake at the hub: each gate's signed, hash-chained log, held exactly once.

Idempotent, as PROTOCOL.md section 3 asks: a record already held (same device, seq and
hash) is acknowledged again, so a gate whose acknowledgement was lost simply sends it
once more. A different hash for a held seq, a gap, a broken chain or a bad signature is
refused with a reason naming the seq; the records before it in the batch are kept (the
gate's cursor moves to the acknowledged seq and it retries from there). Admissions
become ``redeem`` events and voids ``void`` events, queued for the next block.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from errors import EncodingError, HubRefusal, RecordChainError
from verifier.blocks import ZERO_HASH
from verifier.canonical import canonical_json, parse_strict
from verifier.records import ledger_event, record_hash, verify_records
from verifier.transactions import immediate_transaction as transaction


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What a batch did: the highest seq now held for the device, counts, the refusal."""

    device: str
    acked: int
    accepted: int
    duplicates: int
    error: str | None = None


class Intake:
    """Records from enrolled devices into ``hub.db`` (the authority's connection)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def register(self, device: str, public_key: bytes, now: int) -> None:
        """Enrol ``device`` with its public key, in a transaction of its own (enrolment
        codes and the ``device`` event are the caller's job: :class:`~hub.service.Hub`
        does both, and publishes devices registered here when it next opens)."""
        with transaction(self.db):
            self.register_in_transaction(device, public_key, now)

    def register_in_transaction(self, device: str, public_key: bytes, now: int) -> None:
        """:meth:`register` inside the caller's open transaction, so that the caller's
        other writes (an enrolment code marked used) stand or fall with it. A device id
        already enrolled with the same key is left as it is; with another key,
        :class:`HubRefusal` 409 (the caller's transaction then rolls back)."""
        row = self.db.execute(
            "SELECT public_key FROM devices WHERE device = ?", (device,)
        ).fetchone()
        if row is not None and row[0] != public_key.hex():
            raise HubRefusal(
                409,
                f"device {device!r} is enrolled with another key; revoke "
                "it and enrol the new unit under a new device id",
            )
        self.db.execute(
            "INSERT OR IGNORE INTO devices(device, public_key, enrolled) VALUES (?, ?, ?)",
            (device, public_key.hex(), now),
        )

    def revoke(self, device: str, now: int) -> None:
        """Stop accepting ``device``'s records, in a transaction of its own (the hub's
        :meth:`~hub.service.Hub.revoke_device` also publishes it)."""
        with transaction(self.db):
            self.revoke_in_transaction(device, now)

    def revoke_in_transaction(self, device: str, now: int) -> bool:
        """:meth:`revoke` inside the caller's open transaction; whether ``device`` was
        enrolled and not yet revoked."""
        return (
            self.db.execute(
                "UPDATE devices SET revoked = ? WHERE device = ? AND revoked IS NULL",
                (now, device),
            ).rowcount
            > 0
        )

    def held(self, device: str) -> tuple[int, str]:
        """(seq, hash) of the device's newest record held; (0, 64 zeros) when none."""
        row = self.db.execute(
            "SELECT seq, hash FROM records WHERE device = ? ORDER BY seq DESC LIMIT 1", (device,)
        ).fetchone()
        return (0, ZERO_HASH) if row is None else (row[0], row[1])

    def accept(self, device: str, records: list[str | dict[str, Any]], now: int) -> IntakeResult:
        """Take a batch of records from ``device``, in seq order."""
        key_row = self.db.execute(
            "SELECT public_key, revoked FROM devices WHERE device = ?", (device,)
        ).fetchone()
        if key_row is None or key_row[1] is not None:
            why = "is not enrolled" if key_row is None else "is revoked"
            seq, _ = self.held(device)
            return IntakeResult(device, seq, 0, 0, f"device {device!r} {why}")
        public_key = bytes.fromhex(key_row[0])
        accepted = duplicates = 0
        error: str | None = None
        with transaction(self.db):
            last_seq, last_hash = self.held(device)
            for item in records:
                try:
                    record = parse_strict(item) if isinstance(item, str) else item
                    seq = record["seq"] if type(record) is dict else None
                except (EncodingError, KeyError):
                    seq = None
                if type(seq) is not int or isinstance(seq, bool):
                    error = f"record after seq {last_seq} is not a record"
                    break
                if seq <= last_seq:
                    held = self.db.execute(
                        "SELECT hash FROM records WHERE device = ? AND seq = ?", (device, seq)
                    ).fetchone()
                    if held is not None and held[0] == record_hash(record).hex():
                        duplicates += 1
                        continue
                    error = f"seq {seq} conflicts with the record held for it"
                    break
                try:
                    verify_records([record], public_key, device=device, after=(last_seq, last_hash))
                except RecordChainError as exc:
                    error = str(exc)
                    break
                digest = record_hash(record).hex()
                self.db.execute(
                    "INSERT INTO records(device, seq, hash, body, received) VALUES (?, ?, ?, ?, ?)",
                    (device, seq, digest, canonical_json(record).decode(), now),
                )
                self._queue(record)
                last_seq, last_hash = seq, digest
                accepted += 1
        return IntakeResult(device, last_seq, accepted, duplicates, error)

    def _queue(self, record: dict[str, Any]) -> None:
        """The ledger event a record becomes, if any."""
        event = ledger_event(record)
        if event is not None:
            self.db.execute("INSERT INTO pending(event) VALUES (?)", (json.dumps(event),))
