"""The README's main job, ``gate demo``, run as a person runs it: a subprocess.

The venue demo is the project's broadest end-to-end test: a real hub, real daemons
provisioned by ``gate provision``, synthetic cameras read by the real decoder, peer
exchange, an outage and the reconciliation. Its invariants are asserted from its own
JSON summary (``--json``); two runs of one seed, side by side, must decide alike.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from gate.demo.crowd import EXPECTED, KINDS, make_plan

from .clikit import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
INVARIANTS = {
    "no fraudulent code admitted",
    "every honest attendee admitted exactly once (twice on a two-entry ticket)",
    "every decision as the plan expects",
    "every record held by the hub exactly once, as the gate signed it",
    "every chain verified with its gate's key",
    "every double entry refused within the peer window or reported as a conflict",
    "every gate holds every other gate's records (peer exchange)",
}


#: The README's demo lines, run as shown (``python3 dev.py demo ...``) with the JSON
#: written into the test's directory.
README_SHORT = (
    "python3 dev.py demo --gates 3 --attendees 60 --seconds 20 --seed 7 --json summary.json"
)
README_WALKTHROUGH = "python3 dev.py demo --walkthrough"


def demo(command: str, cwd: Path) -> subprocess.Popen[str]:
    """A README line ``python3 dev.py demo ...`` run in ``cwd`` (dev.py named by its path)."""
    words = command.split()
    assert words[:3] == ["python3", "dev.py", "demo"]
    return subprocess.Popen(
        [sys.executable, str(ROOT / "dev.py"), *words[2:]],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_short_venues_of_one_seed_pass_every_invariant_and_decide_alike(
    tmp_path: Path,
) -> None:
    assert README_SHORT in README and README_WALKTHROUGH in README
    for i in (1, 2):
        (tmp_path / f"run{i}").mkdir()
    runs = [demo(README_SHORT, tmp_path / f"run{i}") for i in (1, 2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, out[-4000:] + err[-3000:]
        assert "demo finished: every invariant holds" in out
        assert "Traceback" not in err
    one, two = (json.loads((tmp_path / f"run{i}" / "summary.json").read_text()) for i in (1, 2))
    for summary in (one, two):
        assert summary["passed"] is True
        checks = {c["name"]: c for c in summary["invariants"]}
        assert set(checks) == INVARIANTS
        assert all(c["ok"] for c in checks.values()), checks
        assert summary["venue"]["gates"] == 3 and summary["venue"]["conflicts"] == 0
        # Every kind of visitor came, and got what the kind must get.
        decisions = summary["decisions"]
        assert {d["kind"] for d in decisions} == set(KINDS)
        for d in decisions:
            if d["kind"] == "copy":
                assert d["reason"] == "already_used" and d["first_device"] != d["lane"]
            elif d["kind"] != "open_once":
                assert d["reason"] == EXPECTED[d["kind"]], d
        # The lanes' figures add up to the visits (each visit is one scan, but open-once).
        totals = summary["totals"]
        assert totals["scans"] == len([d for d in decisions if d["kind"] != "open_once"])
        assert totals["overrides"] == 1 and totals["voided"] == 1
        assert sum(totals["refused"].values()) == totals["scans"] - totals["admitted"]
        for lane in summary["lanes"].values():
            assert lane["records"] >= lane["scans"] and lane["backlog"] == 0
            assert lane["frame_to_relay_ms"]["p50"] is not None
        for copy in summary["copies"]:  # refused at once, naming the holder's lane
            assert (copy["reason"], copy["first_device"]) == ("already_used", copy["holder_lane"])
            assert copy["copy_lane"] != copy["holder_lane"] and copy["after_s"] > 0
    assert one["decisions"] == two["decisions"]  # the seed fixes every decision


def test_two_lanes_are_enough_for_every_case() -> None:
    for seed in range(20):
        plan = make_plan(seed, 2, 30, 12, 100)
        by_id = {v.id: v for v in plan.visits}
        balker = next(v for v in plan.visits if v.kind == "balker")
        for copy in (v for v in plan.visits if v.kind == "copy"):
            assert copy.lane != by_id[copy.after].lane and copy.lane != balker.lane


def test_the_plan_is_a_function_of_its_seed() -> None:
    a, b, c = (
        make_plan(3, 4, 120, 30, 500),
        make_plan(3, 4, 120, 30, 500),
        make_plan(4, 4, 120, 30, 500),
    )
    assert a.visits == b.visits and a.tickets == b.tickets
    assert a.visits != c.visits
    kinds = Counter(v.kind for v in a.visits)
    assert set(kinds) == set(KINDS)
    # Copies are shown at another lane than their original, half while the hub is down.
    by_id = {v.id: v for v in a.visits}
    copies = [v for v in a.visits if v.kind == "copy"]
    assert all(by_id[v.after].lane != v.lane for v in copies)
    # A two-entry holder's second entry follows the first, once its code has rotated.
    multi = [v for v in a.visits if v.kind == "multi"]
    seconds = [v for v in multi if v.after is not None]
    assert len(seconds) == len(multi) // 2 and all(by_id[v.after].kind == "multi" for v in seconds)
    assert all(by_id[v.after].lane != v.lane for v in seconds)
    balker = next(v for v in a.visits if v.kind == "balker")
    assert all(v.lane != balker.lane for v in copies)  # not held up by the one who stands
    down, up = a.outage
    assert any(down < by_id[v.after].at < up for v in copies)
    assert any(by_id[v.after].at < down for v in copies)
    # Wrong-zone tickets come to a south lane; VIPs to a north one.
    assert all(a.lanes[v.lane] == "south" for v in a.visits if v.kind == "wrong_zone")
    assert all(a.lanes[v.lane] == "north" for v in a.visits if v.kind == "vip")


def test_a_venue_it_cannot_make_is_refused_plainly() -> None:
    for args, message in (
        (["--gates", "1"], "at least 2 gates"),
        (["--attendees", "10"], "the crowd needs at least"),
        (["--tickets", "50"], "issue at least"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "gate", "demo", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and message in done.stderr, done.stderr


def test_the_walkthrough_teaches_the_commands(tmp_path: Path) -> None:
    run = demo(README_WALKTHROUGH, tmp_path)
    out, err = run.communicate(timeout=180)
    result = subprocess.CompletedProcess(run.args, run.returncode, out, err)
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


def test_the_steward_console_beside_the_run(tmp_path: Path) -> None:
    """``--steward LANE``: that lane's console takes the terminal (a real pseudo-terminal
    here) while the venue runs; once the steward quits it, the summary is printed."""
    import os
    import pty
    import re
    import select
    import tempfile
    import time

    # A short directory: a lane's control socket path must fit a Unix socket's 107 bytes,
    # and pytest's own temporary directories under xdist are long.
    keep = Path(tempfile.mkdtemp(prefix="gh-"))
    pid, fd = pty.fork()
    if pid == 0:  # the child: the demo on the pseudo-terminal
        os.environ.update(COLUMNS="120", LINES="40")
        os.execv(
            sys.executable,
            [sys.executable, "-m", "gate", "demo", "--gates", "2", "--attendees", "24",
             "--seconds", "10", "--steward", "south-1", "--keep", str(keep)],
        )  # fmt: skip
    seen = b""
    quit_sent = False
    deadline = time.monotonic() + 240
    status = None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            seen += chunk
        if not quit_sent and b"lane south-1" in seen and b"ADMITTED" in seen:
            os.write(fd, b"q")  # the steward saw an admission at the lane and quits
            quit_sent = True
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    text = re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]", "", seen.decode("utf-8", "replace"))
    assert quit_sent, text[-3000:]
    assert os.waitstatus_to_exitcode(status) == 0, text[-3000:]
    assert "demo steward at south-1" in text
    assert "demo finished: every invariant holds" in text
    log = (keep / "demo.log").read_text(encoding="utf-8")
    assert "the doors open" in log and "the crowd is in" in log
    shutil.rmtree(keep)


def test_a_keep_directory_too_long_for_the_sockets_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 100)
    done = subprocess.run(
        [sys.executable, "-m", "gate", "demo", "--keep", str(deep)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "too long for the lanes' control sockets" in done.stderr and str(deep) in done.stderr
