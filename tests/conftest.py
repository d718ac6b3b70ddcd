"""Shared fixtures: real state directories, real signed ledgers, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from verifier import Checkpoint, Policy

from .ledgerkit import VECTORS

# Tests check behaviour, not wall-clock time (bench/ measures speed): hypothesis's 200 ms
# per example deadline fails a sound property on a loaded machine, so there is none.
settings.register_profile("gatehouse", deadline=None)
settings.load_profile("gatehouse")

VECTOR_SCENARIO = json.loads((VECTORS / "decisions.json").read_text(encoding="utf-8"))


def vector_policy() -> Policy:
    g = VECTOR_SCENARIO["gate"]
    return Policy(events=frozenset(g["events"]), zone=g["zone"], back=g["back"], fwd=g["fwd"])


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    d = tmp_path / "state"
    d.mkdir(mode=0o700)
    return d


@pytest.fixture
def vector_gate(state_dir: Path) -> Checkpoint:
    cp = Checkpoint(
        state_dir,
        device=VECTOR_SCENARIO["gate"]["device"],
        ledger_key=bytes.fromhex(VECTOR_SCENARIO["ledger_key"]),
        policy=vector_policy(),
    )
    yield cp
    cp.close()


@pytest.fixture
def gate_cli() -> Callable[..., subprocess.CompletedProcess[bytes]]:
    """Run the real ``gate`` command in a subprocess (``python -m gate``)."""

    def run(
        *args: str, stdin: bytes | None = None, config: Path | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[bytes]:
        env = {k: v for k, v in os.environ.items() if k != "GATEHOUSE_CONFIG"}
        if config is not None:
            env["GATEHOUSE_CONFIG"] = str(config)
        return subprocess.run(
            [sys.executable, "-m", "gate", *args],
            input=stdin,
            capture_output=True,
            env=env,
            timeout=timeout,
            check=False,
        )

    return run
