"""Build real signed ledgers and wallet codes for tests: the authority and wallets in a box.

Keys derive from names, so a test can rebuild the same ledger and make codes for any
ticket in it without keeping secrets around.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier import Signer, encode_token, make_block
from verifier.blocks import ZERO_HASH, block_hash

VECTORS = Path(__file__).parent / "vectors"
NOW = 1_790_000_010  # a time inside the vectors' shows


def signer(name: str) -> Signer:
    return Signer(hashlib.sha256(f"test:{name}".encode()).digest())


def ticket_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"test:{name}"))


@dataclass
class LedgerKit:
    """An authority that appends signed blocks; ``lines()`` is the JSONL file."""

    authority: Signer = field(default_factory=lambda: signer("authority"))
    blocks: list[dict[str, Any]] = field(default_factory=list)
    time: int = NOW - 86_400

    @property
    def key(self) -> bytes:
        return self.authority.public_key

    def append(self, events: list[dict[str, Any]], *, time: int | None = None) -> dict:
        prev = block_hash(self.blocks[-1]).hex() if self.blocks else ZERO_HASH
        self.time = time if time is not None else self.time + 60
        block = make_block(self.authority, len(self.blocks), prev, self.time, events)
        self.blocks.append(block)
        return block

    def lines(self) -> list[str]:
        return [json.dumps(b, ensure_ascii=False) + "\n" for b in self.blocks]

    def write(self, path: Path) -> Path:
        path.write_text("".join(self.lines()), encoding="utf-8")
        return path


def show(event: str = "show", **kw: Any) -> dict[str, Any]:
    return {
        "op": "event",
        "event": event,
        "name": kw.get("name", event.title()),
        "starts": kw.get("starts", NOW),
        "ends": kw.get("ends", NOW + 7200),
    }


def issue(
    name: str,
    *,
    event: str = "show",
    entries: int = 1,
    zones: list[str] | None = None,
    valid_from: int = NOW - 3600,
    until: int = NOW + 7200,
    holder: str | None = None,
    label: str = "GA",
) -> dict[str, Any]:
    return {
        "op": "issue",
        "ticket": ticket_id(name),
        "event": event,
        "holder": signer(holder or name).public_key.hex(),
        "from": valid_from,
        "until": until,
        "zones": zones or [],
        "entries": entries,
        "label": label,
    }


def device(name: str, *, active: bool = True, key: bytes | None = None) -> dict[str, Any]:
    """A ``device`` event (revision 1.2): ``name`` signs with ``key`` (default: the key of
    :func:`signer` ``("device:" + name)``, so tests can sign its records by hand)."""
    return {
        "op": "device",
        "device": name,
        "key": (key if key is not None else signer(f"device:{name}").public_key).hex(),
        "active": active,
    }


def code(name: str, at: int = NOW, *, holder: str | None = None) -> str:
    """The code ``holder``'s wallet (default: the ticket's first holder) shows at ``at``."""
    return encode_token(signer(holder or name), ticket_id(name), at // 15)


def simple_ledger(n: int, *, event: str = "show", entries: int = 1) -> LedgerKit:
    """One show and ``n`` tickets named t0..t{n-1}."""
    kit = LedgerKit()
    kit.append([show(event)])
    kit.append([issue(f"t{i}", event=event, entries=entries) for i in range(n)])
    return kit


def write_config(
    path: Path,
    *,
    ledger_key: bytes,
    state_dir: Path,
    device: str = "north-1",
    events: tuple[str, ...] = ("show",),
    zone: str | None = None,
    extra: str = "",
) -> Path:
    lines = [
        f'device = "{device}"',
        f'ledger_key = "{ledger_key.hex()}"',
        f'state_dir = "{state_dir}"',
        "events = [" + ", ".join(f'"{e}"' for e in events) + "]",
    ]
    if zone:
        lines.append(f'zone = "{zone}"')
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path
