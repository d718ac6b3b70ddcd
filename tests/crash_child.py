"""Child process of the crash test: admits tokens from a file and reports each decision.

Usage: python -m tests.crash_child STATE_DIR LEDGER_KEY_HEX TOKENS_FILE START

It prints ``ready`` once the gate is open, then one line ``seq ticket reason`` per
decision, flushed only after ``admit`` returned (that is, after the synced commit),
which is exactly what a lane does before it pulses the relay.
"""

from __future__ import annotations

import sys

from verifier import Checkpoint, Policy

from .ledgerkit import NOW


def main() -> None:
    state_dir, key_hex, tokens_file, start = sys.argv[1:5]
    with open(tokens_file, encoding="ascii") as f:
        tokens = f.read().splitlines()[int(start) :]
    with Checkpoint(
        state_dir,
        device="crash-1",
        ledger_key=bytes.fromhex(key_hex),
        policy=Policy(events=frozenset({"show"})),
    ) as cp:
        print("ready", flush=True)
        for token in tokens:
            decision = cp.admit(token, NOW)
            print(f"{decision.seq} {decision.ticket} {decision.reason}", flush=True)


if __name__ == "__main__":
    main()
