"""A gate over a state directory and a LedgerKit's ledger, for the tests of the state."""

from __future__ import annotations

import hashlib
from pathlib import Path

from verifier import ApplyReport, Checkpoint, Policy
from verifier.blocks import read_blocks

from .ledgerkit import LedgerKit

POLICY = Policy(events=frozenset({"show"}))


def gate(state_dir: Path, kit: LedgerKit, device: str = "north-1") -> Checkpoint:
    return Checkpoint(state_dir, device=device, ledger_key=kit.key, policy=POLICY)


def apply(cp: Checkpoint, kit: LedgerKit) -> ApplyReport:
    return cp.apply_lines(read_blocks(kit.lines()))


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
