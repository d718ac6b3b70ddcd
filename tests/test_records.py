"""The record log: exported records verify with an independent check."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nacl.signing
import pytest

from errors import RecordChainError
from verifier import Checkpoint, Policy, verify_records
from verifier.blocks import read_blocks
from verifier.records import record_hash

from .ledgerkit import NOW, code, simple_ledger

FIELDS = {
    "v",
    "device",
    "seq",
    "prev",
    "at",
    "ticket",
    "step",
    "result",
    "reason",
    "ref",
    "note",
    "sig",
}


def independent_check(lines: list[str], public_key_hex: str, device: str) -> int:
    """Section 3 re-implemented from the text alone: hashlib, json and PyNaCl's VerifyKey."""
    key = nacl.signing.VerifyKey(bytes.fromhex(public_key_hex))
    prev, seq = "0" * 64, 0
    for line in lines:
        record = json.loads(line)
        assert set(record) == FIELDS
        assert record["device"] == device and record["v"] == 1
        assert record["seq"] == seq + 1, "seq has a gap"
        assert record["prev"] == prev, "hash chain broken"
        body = {k: v for k, v in record.items() if k != "sig"}
        canonical = json.dumps(
            body, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        digest = hashlib.sha256(canonical).digest()
        key.verify(b"GH1-RECORD" + digest, bytes.fromhex(record["sig"]))  # raises if bad
        prev, seq = digest.hex(), record["seq"]
    return seq


@pytest.fixture
def busy_gate(state_dir: Path) -> Checkpoint:
    kit = simple_ledger(20)
    cp = Checkpoint(
        state_dir, device="north-1", ledger_key=kit.key, policy=Policy(events=frozenset({"show"}))
    )
    cp.apply_lines(read_blocks(kit.lines()))
    for i in range(20):
        cp.admit(code(f"t{i}"), NOW)
    cp.admit(code("t3"), NOW)  # already used
    cp.admit("GH1:garbage", NOW)  # malformed
    cp.admit("hello", NOW)  # not a ticket
    yield cp
    cp.close()


def test_export_verifies_independently(busy_gate: Checkpoint) -> None:
    lines = list(busy_gate.export_records())
    assert len(lines) == 23
    assert independent_check(lines, busy_gate.public_key.hex(), "north-1") == 23
    assert verify_records(lines, busy_gate.public_key, device="north-1") == 23
    results = [json.loads(line) for line in lines]
    assert [r["reason"] for r in results[-3:]] == ["already_used", "malformed", "not_a_ticket"]
    assert results[-3]["ticket"] is not None and results[-1]["ticket"] is None
    # The stored line is exactly the canonical JSON of the record.
    for line in lines:
        record = json.loads(line)
        assert line == json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_export_since_continues_the_chain(busy_gate: Checkpoint) -> None:
    lines = list(busy_gate.export_records(since=10))
    assert json.loads(lines[0])["seq"] == 11
    prev = record_hash(json.loads(list(busy_gate.export_records())[9])).hex()  # seq 10
    assert verify_records(lines, busy_gate.public_key, after=(10, prev)) == 13


@pytest.mark.parametrize("tamper", ["edit", "drop", "swap", "resign"])
def test_tampered_logs_do_not_verify(busy_gate: Checkpoint, tamper: str) -> None:
    lines = list(busy_gate.export_records())
    if tamper == "edit":
        lines[5] = lines[5].replace('"admitted"', '"rejected"')
    elif tamper == "drop":
        del lines[7]
    elif tamper == "swap":
        lines[3], lines[4] = lines[4], lines[3]
    else:  # a valid-looking record signed by some other key
        record = json.loads(lines[2])
        record["sig"] = "00" * 64
        lines[2] = json.dumps(record)
    with pytest.raises(RecordChainError):
        verify_records(lines, busy_gate.public_key, device="north-1")
    with pytest.raises((AssertionError, nacl.exceptions.BadSignatureError)):
        independent_check(lines, busy_gate.public_key.hex(), "north-1")


def test_device_key_is_private_and_stable(busy_gate: Checkpoint, state_dir: Path) -> None:
    key_file = state_dir / "device.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    with Checkpoint(
        state_dir, device="north-1", ledger_key=busy_gate.ledger.ledger_key, policy=busy_gate.policy
    ) as again:
        assert again.public_key == busy_gate.public_key
