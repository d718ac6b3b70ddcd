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
    # part 2: with the hub away, the peers refuse the friend's copy at the second lane
    # (as the steward's console says it); with the LAN gone too, the double entry is
    # reported by the hub once it is back
    friend = out.split("# a moment later hana's friend", 1)[1].split("\n# ", 1)[0]
    assert "steward's console: ✘ REFUSED" in friend
    assert "first let in at north-1" in friend
    conflict = out.split("# the hub sees ivan's ticket used at both lanes", 1)[1]
    assert "2 admissions for 1 entry (" in conflict
    assert {"south-2#2", "north-1#2"} <= set(conflict.split("(", 1)[1].split(")")[0].split(", "))
    assert "ticket already used" in out.rsplit("# hana's friend tries again", 1)[1]
    assert "Traceback" not in result.stderr
