"""Holder keys, PROTOCOL.md section 2 revision 1.1: canonical, on the curve, not of small
order, no subgroup test. The shared cases through `gate ledger apply` and the hub's import."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from verifier.keys import Signer, is_holder_key, is_valid_point

from .ledgerkit import VECTORS, write_config

CASES = json.loads((VECTORS / "holder-keys" / "cases.json").read_text())
LEDGER_KEY = bytes.fromhex(json.loads((VECTORS / "decisions.json").read_text())["ledger_key"])
SMALL_ORDER = VECTORS / "tamper-small-order-holder.jsonl"


def last_holder(path: Path) -> bytes:
    block = json.loads(path.read_text().splitlines()[-1])
    return bytes.fromhex([e["holder"] for e in block["events"] if "holder" in e][-1])


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_each_case_through_ledger_apply(gate_cli, tmp_path: Path, case: dict) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    config = write_config(tmp_path / "gate.toml", ledger_key=LEDGER_KEY, state_dir=state)
    path = VECTORS / "holder-keys" / case["file"]
    applied = gate_cli("-c", str(config), "ledger", "apply", str(path))
    status = json.loads(gate_cli("-c", str(config), "ledger", "status", "--json").stdout)
    assert status["height"] == case["applied_height"], (case["why"], applied.stderr)
    refused = case["applied_height"] < len(path.read_text().splitlines()) - 1
    assert applied.returncode == (1 if refused else 0), applied.stderr
    if refused:
        assert b"not a valid holder key" in applied.stderr


def test_the_rule_on_the_cases_and_on_real_keys() -> None:
    keys = {c["file"]: last_holder(VECTORS / "holder-keys" / c["file"]) for c in CASES}
    assert is_holder_key(keys["mixed-order-holder.jsonl"])
    assert not is_valid_point(keys["mixed-order-holder.jsonl"])  # the subgroup test would refuse
    assert not is_holder_key(keys["off-curve-holder.jsonl"])
    assert not is_holder_key(keys["non-canonical-holder.jsonl"])
    assert not is_holder_key(last_holder(SMALL_ORDER))
    for _ in range(200):  # every real key passes, as the strict rule says too
        key = Signer(os.urandom(32)).public_key
        assert is_holder_key(key) and is_valid_point(key)
    assert not is_holder_key(b"\x00" * 31)


def test_the_eight_small_order_points_and_their_sign_variants_are_refused() -> None:
    torsion = [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "0100000000000000000000000000000000000000000000000000000000000080",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    ]
    for text in torsion:
        assert not is_holder_key(bytes.fromhex(text)), text


def test_the_hubs_import_applies_the_same_rule(tmp_path: Path) -> None:
    """`gate hub import` signs nothing with a key the gates would refuse, and signs a
    mixed-order one they take."""
    pytest.importorskip("fastapi")
    import subprocess
    import sys

    from .clikit import ROOT

    hub = tmp_path / "hub"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gate", "hub", "--dir", str(hub), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )

    assert run("init").returncode == 0
    assert run("event", "expo", "Expo", "--starts", "0", "--ends", "4000000000").returncode == 0
    for case in CASES:
        key = last_holder(VECTORS / "holder-keys" / case["file"]).hex()
        csv = tmp_path / f"{case['file']}.csv"
        csv.write_text(f"event,holder,from,until\nexpo,{key},0,4000000000\n")
        result = run("import", str(csv))
        if case["file"] == "mixed-order-holder.jsonl":
            assert result.returncode == 0, result.stderr
        else:
            assert result.returncode != 0 and "not a valid holder key" in result.stderr, result
    csv = tmp_path / "small.csv"
    csv.write_text(f"event,holder,from,until\nexpo,{last_holder(SMALL_ORDER).hex()},0,4000000000\n")
    result = run("import", str(csv))
    assert result.returncode != 0 and "not a valid holder key" in result.stderr


def test_the_jacobi_test_and_libsodium_agree_on_every_kind_of_input() -> None:
    """The fast on-curve test (gmpy2) is sound only if it says what libsodium says: on
    real keys, on random bytes (about half are no curve point), on the cases, and on
    every y with x's sign bit set."""
    from verifier import keys

    jacobi = keys._jacobi_check()
    assert jacobi is not None, "gmpy2 is in the dev install: the fast path must be tested"
    rng = random.Random(20261203)
    inputs = [Signer(rng.randbytes(32)).public_key for _ in range(500)]
    inputs += [rng.randbytes(32) for _ in range(3000)]
    inputs += [last_holder(VECTORS / "holder-keys" / c["file"]) for c in CASES]
    inputs += [bytes(k[:31]) + bytes([k[31] | 0x80]) for k in inputs[:500]]
    points = 0
    for key in inputs:
        y = int.from_bytes(key, "little") & keys._Y_BITS
        if y >= keys._P or y in keys._SMALL_ORDER_Y:
            continue
        sodium = keys.on_curve_sodium(key, y)
        assert jacobi(key, y) == sodium, key.hex()
        points += sodium
    assert 1500 < points < 2800  # real keys and about half the random ones
