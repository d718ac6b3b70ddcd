"""Every vector in shared/vectors (copied into tests/vectors), byte for byte."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from errors import EncodingError
from verifier import Checkpoint, Policy, b45decode, b45encode, encode_token, parse_token
from verifier.blocks import read_blocks

from .conftest import VECTOR_SCENARIO
from .ledgerkit import VECTORS

BASE45 = json.loads((VECTORS / "base45.json").read_text(encoding="utf-8"))
TOKENS = json.loads((VECTORS / "tokens.json").read_text(encoding="utf-8"))
TAMPER = json.loads((VECTORS / "tamper.json").read_text(encoding="utf-8"))
LEDGER_KEY = bytes.fromhex(VECTOR_SCENARIO["ledger_key"])


@pytest.mark.parametrize(("text", "encoded"), BASE45["good"])
def test_base45_good(text: str, encoded: str) -> None:
    assert b45encode(text.encode()) == encoded
    assert b45decode(encoded) == text.encode()


@pytest.mark.parametrize("bad", BASE45["bad"])
def test_base45_bad_is_refused(bad: str) -> None:
    with pytest.raises(EncodingError):
        b45decode(bad)


@pytest.mark.parametrize("row", TOKENS, ids=[r["ticket"][:8] for r in TOKENS])
def test_token_byte_for_byte(row: dict) -> None:
    assert row["step"] == row["unix_time"] // 15
    token = encode_token(bytes.fromhex(row["seed"]), row["ticket"], row["step"])
    assert token == row["token"]
    parsed = parse_token(row["token"])
    assert (parsed.ticket_id, parsed.step) == (row["ticket"], row["step"])


def _apply(cp: Checkpoint, path: Path):
    with open(path, "rb") as f:
        return cp.apply_lines(read_blocks(f), source=path.name)


def test_ledger_reaches_height_and_head(vector_gate: Checkpoint) -> None:
    report = _apply(vector_gate, VECTORS / VECTOR_SCENARIO["ledger"])
    assert report.error is None
    head = vector_gate.ledger.head()
    assert head.height == VECTOR_SCENARIO["ledger_height"]
    assert head.hash == VECTOR_SCENARIO["ledger_head"]


def test_reapplying_the_ledger_is_a_no_op(vector_gate: Checkpoint) -> None:
    _apply(vector_gate, VECTORS / "ledger.jsonl")
    before = _dump(vector_gate.files.path)
    report = _apply(vector_gate, VECTORS / "ledger.jsonl")
    assert (report.applied, report.held, report.error) == (0, 4, None)
    assert _dump(vector_gate.files.path) == before


def test_every_decision_step(vector_gate: Checkpoint) -> None:
    _apply(vector_gate, VECTORS / "ledger.jsonl")
    records_before = 0
    for i, step in enumerate(VECTOR_SCENARIO["steps"]):
        decide = vector_gate.admit if step["op"] == "admit" else vector_gate.check
        decision = decide(step["token"], step["now"])
        assert decision.reason == step["expect"], f"step {i}: {step}"
        assert decision.admitted == (step["expect"] == "ok")
        records = vector_gate.status()["records"]
        assert records == records_before + (step["op"] == "admit"), f"step {i}"
        records_before = records


def _dump(db: Path) -> dict[str, list]:
    """Every row of every table: the whole stored state, for before/after comparisons."""
    conn = sqlite3.connect(db)
    try:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        ]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}
    finally:
        conn.close()


@pytest.mark.parametrize("case", TAMPER, ids=[c["why"] for c in TAMPER])
def test_tamper_file_stops_at_applied_height(case: dict, tmp_path: Path) -> None:
    policy = Policy(events=frozenset({"pub-expo"}))
    bad_dir, good_dir = tmp_path / "bad", tmp_path / "good"
    bad_dir.mkdir(mode=0o700)
    good_dir.mkdir(mode=0o700)
    with Checkpoint(bad_dir, device="x", ledger_key=LEDGER_KEY, policy=policy) as cp:
        report = _apply(cp, VECTORS / case["file"])
        assert report.error is not None, "the tampered file must be refused"
        assert report.height == case["applied_height"]
        assert cp.ledger.head().height == case["applied_height"]
    # Nothing of the bad block is applied: the state equals applying only the good prefix.
    lines = (VECTORS / case["file"]).read_text(encoding="utf-8").splitlines(keepends=True)
    prefix = lines[: case["applied_height"] + 1]
    with Checkpoint(good_dir, device="x", ledger_key=LEDGER_KEY, policy=policy) as cp:
        report = cp.apply_lines(read_blocks(prefix))
        assert report.error is None and report.height == case["applied_height"]
    bad, good = _dump(bad_dir / "ledger.db"), _dump(good_dir / "ledger.db")
    bad.pop("meta"), good.pop("meta")  # each directory has its own device key
    assert bad == good
