"""Crash safety: SIGKILL a gate at random moments while it admits, again and again.

After every kill: each admission the child reported (it reports only after ``admit``
returned) is in the log; no ticket is admitted twice; the record chain verifies under
the device key; and SQLite's integrity check is ok.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from verifier import Checkpoint, Policy, verify_records
from verifier.blocks import read_blocks

from .ledgerkit import code, simple_ledger

KILLS = 55
TICKETS = 4000


def check_state(
    state_dir: Path, public_key: bytes, reported: dict[str, int], *, device: str = "crash-1"
) -> int:
    for name in ("ledger.db", "records.db"):
        conn = sqlite3.connect(state_dir / name)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", name
            if name == "records.db":
                bodies = [r[0] for r in conn.execute("SELECT body FROM records ORDER BY seq")]
        finally:
            conn.close()
    assert verify_records(bodies, public_key, device=device) == len(bodies)
    records = [json.loads(b) for b in bodies]
    admitted = {r["seq"]: r["ticket"] for r in records if r["result"] == "admitted"}
    twice = [t for t, n in Counter(admitted.values()).items() if n > 1]
    assert not twice, f"tickets admitted twice: {twice[:3]}"
    for ticket, seq in reported.items():
        assert admitted.get(seq) == ticket, f"reported admission {seq} {ticket} was lost"
    return len(records)


def test_sigkill_never_loses_or_doubles_an_admission(state_dir: Path, tmp_path: Path) -> None:
    rng = random.Random(20261122)
    kit = simple_ledger(TICKETS)
    with Checkpoint(
        state_dir, device="crash-1", ledger_key=kit.key, policy=Policy(events=frozenset({"show"}))
    ) as cp:
        assert cp.apply_lines(read_blocks(kit.lines())).error is None
        public_key = cp.public_key
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(code(f"t{i}") for i in range(TICKETS)) + "\n", encoding="ascii")

    reported: dict[str, int] = {}
    processed = kills = 0
    while kills < KILLS:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.crash_child",
                str(state_dir),
                kit.key.hex(),
                str(tokens),
                str(processed),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parent.parent,
        )
        assert child.stdout is not None
        if rng.random() < 0.1:
            time.sleep(rng.uniform(0, 0.15))  # sometimes while it is still starting up
        else:
            assert child.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0, 0.06))
        child.kill()
        out, _ = child.communicate()
        kills += 1
        for line in out.splitlines():
            if line == "ready":
                continue
            seq, ticket, reason = line.split()
            processed += 1
            if reason == "ok":
                assert ticket not in reported, f"{ticket} reported admitted twice"
                reported[ticket] = int(seq)
            else:  # the one admission committed just before a kill, then retried
                assert reason == "already_used", line
        check_state(state_dir, public_key, reported)
    assert kills >= 50
    assert len(reported) > 100, "the child must have admitted a real stream between kills"
