"""The README's main job, ``gate demo``, run as a person runs it: a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gate", "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "demo finished: every decision as expected" in out
    assert "!! expected" not in out
    # part 2: the offline double entry is reported and the other lane's admission learnt
    assert "2 admissions for 1 entry (north-1#1, south-2#1)" in out
    assert "ticket already used" in out.rsplit("# ivan tries to come in again", 1)[1]
    assert "Traceback" not in result.stderr
