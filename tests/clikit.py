"""The real ``gate`` command in a subprocess, as a technician or systemd runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def gate(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``gate ARGS`` with ``GATEHOUSE_CONFIG=config``, text output captured, never raising
    on a non-zero exit (the tests read the exit code)."""
    env = {**os.environ, "GATEHOUSE_CONFIG": str(config)}
    return subprocess.run(
        [sys.executable, "-m", "gate", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
