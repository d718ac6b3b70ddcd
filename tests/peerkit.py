"""Hand-made record logs of other gates, for the peer exchange tests (PROTOCOL.md section 5).

A :class:`PeerChain` is the log a gate ``name`` would write, signed with the key that
:func:`tests.ledgerkit.device` publishes for it, so a test can make any record a peer
could send (and, with another signer, any record a forger could) without running that
gate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from verifier import Signer
from verifier.blocks import ZERO_HASH
from verifier.canonical import canonical_json
from verifier.records import make_record

from .ledgerkit import NOW, signer, ticket_id


@dataclass
class PeerChain:
    """Device ``name``'s record log, built record by record; ``lines[i]`` is seq i + 1."""

    name: str
    key: Signer | None = None
    lines: list[str] = field(default_factory=list)
    prev: str = ZERO_HASH

    def __post_init__(self) -> None:
        if self.key is None:
            self.key = signer(f"device:{self.name}")

    @property
    def seq(self) -> int:
        return len(self.lines)

    def add(
        self,
        *,
        result: str,
        reason: str,
        ticket: str | None = None,
        step: int | None = None,
        at: int = NOW,
        ref: int | None = None,
        note: str | None = None,
        prev: str | None = None,
    ) -> str:
        """Append the next record (``prev`` overrides the chain's, to make a broken
        one); its canonical line."""
        record, digest = make_record(
            self.key,
            device=self.name,
            seq=self.seq + 1,
            prev=self.prev if prev is None else prev,
            at=at,
            ticket=ticket,
            step=step,
            result=result,
            reason=reason,
            ref=ref,
            note=note,
        )
        line = canonical_json(record).decode("utf-8")
        self.lines.append(line)
        self.prev = digest.hex()
        return line

    def admit(self, name: str, at: int = NOW, step: int | None = None) -> str:
        """An admission of ticket ``name`` by the decision (``admitted``/``ok``)."""
        return self.add(
            result="admitted",
            reason="ok",
            ticket=ticket_id(name),
            step=at // 15 if step is None else step,
            at=at,
        )

    def reject(self, name: str | None = None, at: int = NOW) -> str:
        ticket = ticket_id(name) if name else None
        step = at // 15 if name else None
        reason = "already_used" if name else "not_a_ticket"
        return self.add(result="rejected", reason=reason, ticket=ticket, step=step, at=at)

    def void(self, seq: int, name: str, at: int = NOW + 20) -> str:
        """Admission ``seq`` (of ticket ``name``) did not happen."""
        return self.add(
            result="voided", reason="no_passage", ticket=ticket_id(name), at=at, ref=seq
        )


def edited(line: str, **changes: Any) -> str:
    """``line`` with fields changed after signing (its signature no longer fits)."""
    record = json.loads(line)
    record.update(changes)
    return canonical_json(record).decode("utf-8")
