"""The reference hub as one object: authority, record intake, enrolment, signed requests.

Everything here runs on one thread (the API hands every call to a single worker), so
the SQLite connections never cross threads and the hub needs no locks of its own.

Every change to who is enrolled is published (PROTOCOL.md revision 1.2): an enrolment,
a registration by hand and a revocation each append a ``device`` event in a block
signed in the same transaction as the change, so the ledger never names a device the
hub has not enrolled, nor misses one it has; gates check their peers' records against
those events. Devices enrolled before this was so are published once, when the hub
opens (:func:`hub.facts.device_events_due` finds them, and finds nothing after).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path
from typing import Any

from errors import BlockRejected, HubRefusal
from sync.request_auth import canonical_hex, signed_headers, verify_request
from sync.wire import MAX_SKEW
from verifier.keys import public_key_of
from verifier.transactions import immediate_transaction as transaction

from . import facts
from .authority import MAX_BLOCK_EVENTS, Authority, Conflict
from .intake import Intake, IntakeResult

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed on a Pi

#: The one answer to a request from an unknown device and to a signature that does not
#: verify: which device ids exist is nobody's business.
NOT_SIGNED = "the request signature does not verify under the key of an enrolled device"
#: A public key whose seed was thrown away when the hub started: an unknown device's
#: request is verified under it, so that it takes as long as a known one's.
_NOBODY = public_key_of(secrets.token_bytes(32))


class Hub:
    """Ledger authority, record intake and enrolment over one hub directory."""

    def __init__(self, hub_dir: str | Path, *, now: int | None = None) -> None:
        """``now`` is the time of the block that publishes devices enrolled before
        ``device`` events existed, if there are any (default: the clock)."""
        self.authority = Authority(hub_dir)
        self.intake = Intake(self.authority.db)
        self.db = self.authority.db
        try:
            if facts.device_events_due(self.db):  # read first: the usual case writes nothing
                with transaction(self.db):
                    self._publish_devices(int(time.time()) if now is None else now)
        except BaseException:
            self.authority.close()
            raise

    def close(self) -> None:
        self.authority.close()

    def status(self, now: int) -> dict[str, Any]:
        """What anyone may know: the ledger key (a unit checks it before it enrols) and
        the hub's clock. Nothing that grows with sales: the height is in the signed
        reply of /v1/blocks."""
        return {"server_time": now, "ledger_key": self.authority.public_key.hex()}

    def enrol_code(self, now: int, ttl: int = 3600) -> str:
        """A one-time enrolment code, valid for ``ttl`` seconds."""
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
        with transaction(self.db):
            self.db.execute(
                "INSERT INTO enrol_codes(code_hash, expires) VALUES (?, ?)",
                (_code_hash(code), now + ttl),
            )
        return code

    def new_operator_token(self, now: int) -> str:
        """A new operator token for reading the ledger and the conflicts over HTTP
        (``Authorization: Bearer TOKEN``); it replaces any earlier one. Only its hash is
        kept, so it is shown once."""
        token = secrets.token_urlsafe(32)
        with transaction(self.db):
            self.db.execute(
                "INSERT INTO operator_token(id, sha256, made) VALUES (1, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET sha256 = excluded.sha256, made = excluded.made",
                (hashlib.sha256(token.encode()).hexdigest(), now),
            )
        return token

    def drop_operator_token(self) -> bool:
        """Withdraw the operator token; whether there was one."""
        with transaction(self.db):
            return self.db.execute("DELETE FROM operator_token").rowcount > 0

    def is_operator(self, token: str) -> bool:
        """Whether ``token`` is the operator token (compared by hash, in constant time)."""
        row = self.db.execute("SELECT sha256 FROM operator_token WHERE id = 1").fetchone()
        presented = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        return row is not None and hmac.compare_digest(presented, row[0])

    def enrol(self, code: str, device: str, public_key_hex: str, now: int) -> dict[str, Any]:
        """Register a device with a one-time code; the reply is what the gate needs."""
        public_key = canonical_hex(public_key_hex, 32)
        if public_key is None:
            raise HubRefusal(400, "public_key must be 64 lower-case hex digits")
        code_hash = _code_hash(code.strip().upper())
        with transaction(self.db):
            row = self.db.execute(
                "SELECT expires, used, device FROM enrol_codes WHERE code_hash = ?", (code_hash,)
            ).fetchone()
            if row is None:
                raise HubRefusal(
                    403, "enrolment code unknown: check it was typed as the hub operator gave it"
                )
            expires, used, used_by = row
            if used is not None:
                raise HubRefusal(
                    403,
                    f"enrolment code already used (by device {used_by} at "
                    f"{_utc(used)}): ask the hub operator for a new one",
                )
            if expires < now:
                raise HubRefusal(
                    403,
                    f"enrolment code expired at {_utc(expires)}: ask the hub operator for a "
                    "new one",
                )
            # One transaction for the device, its `device` event and the code: a refused
            # registration (the id is enrolled with another key) rolls back and leaves
            # the code usable.
            self._register_in_transaction(device, public_key, now)  # 409: another key
            self.db.execute(
                "UPDATE enrol_codes SET used = ?, device = ? WHERE code_hash = ?",
                (now, device, code_hash),
            )
        return {"device": device, "ledger_key": self.authority.public_key.hex(), "server_time": now}

    def register_device(self, device: str, public_key: bytes, now: int) -> None:
        """Enrol ``device`` by hand (``gate hub register``) and publish its ``device``
        event; :class:`HubRefusal` 409 when the id is enrolled (or published) with
        another key. Registering it again with its key changes nothing."""
        with transaction(self.db):
            self._register_in_transaction(device, public_key, now)

    def revoke_device(self, device: str, now: int) -> bool:
        """Stop accepting ``device``'s records and requests, and publish that it is no
        longer active; whether it was enrolled and not yet revoked."""
        with transaction(self.db):
            changed = self.intake.revoke_in_transaction(device, now)
            self._publish_devices(now)
        return changed

    def _register_in_transaction(self, device: str, public_key: bytes, now: int) -> None:
        self.intake.register_in_transaction(device, public_key, now)
        try:
            self._publish_devices(now)
        except BlockRejected as exc:  # the ledger names the id with another key
            raise HubRefusal(409, f"device {device!r} cannot be published: {exc}") from None

    def _publish_devices(self, now: int) -> None:
        """Inside the caller's transaction: sign the ``device`` events that bring the
        ledger level with the enrolled devices (none when it is)."""
        due = facts.device_events_due(self.db)
        for i in range(0, len(due), MAX_BLOCK_EVENTS):
            self.authority.append_in_transaction(due[i : i + MAX_BLOCK_EVENTS], now)

    def authenticate(
        self,
        device: str,
        method: str,
        path: str,
        time_text: str,
        signature_hex: str,
        body: bytes,
        now: int,
    ) -> None:
        """Refuse (:class:`HubRefusal` 401) a request that is unsigned, stale, forged or
        from an unknown or revoked device, and (409) one already received; remember it
        so that it cannot be replayed. ``path`` includes the query, as signed.

        An unknown device and a signature that does not verify get the same answer, word
        for word, so nobody can find out which device ids exist by asking. A revoked
        device is named only to a request its own key signed."""
        signed_at, signature = signed_headers(time_text, signature_hex, now)
        row = self.db.execute(
            "SELECT public_key, revoked FROM devices WHERE device = ?", (device,)
        ).fetchone()
        # An unknown device costs a verification too, under a key nobody holds.
        key = bytes.fromhex(row[0]) if row is not None else _NOBODY
        if not verify_request(key, method, path, signed_at, signature, body) or row is None:
            raise HubRefusal(401, NOT_SIGNED)
        if row[1] is not None:
            raise HubRefusal(401, f"device {device!r} is revoked")
        seen = signature.hex()  # the bytes, in their one spelling
        with transaction(self.db):
            self.db.execute("DELETE FROM seen_requests WHERE at < ?", (now - 2 * MAX_SKEW,))
            if self.db.execute(
                "SELECT 1 FROM seen_requests WHERE signature = ?", (seen,)
            ).fetchone():
                raise HubRefusal(409, "this request was already received (a replay)")
            self.db.execute("INSERT INTO seen_requests(signature, at) VALUES (?, ?)", (seen, now))

    def records(self, device: str, records: list[Any], now: int) -> IntakeResult:
        return self.intake.accept(device, records, now)

    def conflicts(self) -> list[Conflict]:
        return self.authority.conflicts()


def _utc(t: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t))


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
