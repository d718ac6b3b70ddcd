"""The demo's terminal: it runs the real ``gate`` command and shows what a person would see.

Each command is ``python -m gate ...`` in a subprocess, exactly as typed at a shell, so
the demo proves the installed command works (its exit codes, its output) rather than a
function call that shares this process's state; and the demo need not import the CLI.
The command's stderr goes straight to the terminal, as it would at a shell.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

from verifier import Decision

from ..decision_text import describe

#: The ``gate`` command, run by the interpreter running the demo.
GATE = (sys.executable, "-m", "gate")


def capture(args: list[str]) -> tuple[int, str]:
    """``gate ARGS`` in a subprocess; its exit code and what it printed on stdout."""
    sys.stdout.flush()  # our lines first, then the command's stderr
    done = subprocess.run(
        [*GATE, *args],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=False,
    )
    return done.returncode, done.stdout


def shown(args: list[str]) -> tuple[int, str]:
    """``gate ARGS`` as a person would type it, with its output."""
    print("$ gate " + shlex.join(args))
    code, text = capture(args)
    print(text, end="")
    sys.stdout.flush()
    return code, text


def admit_shown(config: list[str], token: str, expected: str) -> int:
    """Admit ``token`` at the gate of ``config`` (``["-c", FILE]``) and say the decision in
    words; 1 when its reason is not ``expected``."""
    print(f"$ gate {' '.join(config)} admit '{token[:20]}…'")
    _, text = capture([*config, "admit", token, "--json"])
    decision = Decision(**json.loads(text))
    print(describe(decision))
    if decision.reason != expected:
        print(f"  !! expected {expected}")
        return 1
    return 0
