"""The lane daemon under its unit's sandbox: a few of the daemon's own end-to-end tests
(a recorded run, the control socket, the sync child lowering its priority) run again
inside the unit's system-call filter and MemoryDenyWriteExecute (tests/install/
sandbox_run.py). A call the daemon needs and the filter refuses, or a library that wants
writable code, fails them here rather than on a unit."""

from __future__ import annotations

import ctypes.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .sandbox_run import allowed_calls
from .wheelkit import ROOT

LANE_UNIT = ROOT / "systemd" / "gatehouse.service"
INNER_TESTS = [
    "tests/lane/test_daemon_e2e.py::test_gate_run_on_recorded_frames",
    "tests/lane/test_control_e2e.py::test_status_and_lookup",
    "tests/lane/test_control_e2e.py::test_a_missing_group_falls_back_with_a_warning",
    "tests/sync/test_sync_child_limits.py::test_the_started_child_runs_nice_idle_and_capped",
]


def test_the_filter_is_what_the_unit_says() -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is missing (Debian: apt-get install systemd)")
    calls = allowed_calls(LANE_UNIT)
    assert {"read", "openat", "setpriority", "ioprio_set", "fchownat"} <= calls
    assert not {"reboot", "mount", "init_module", "setuid", "sched_setscheduler"} & calls


def test_the_daemons_own_tests_pass_inside_the_sandbox() -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is missing (Debian: apt-get install systemd)")
    if not sys.platform.startswith("linux") or ctypes.util.find_library("seccomp") is None:
        pytest.skip("needs Linux and libseccomp (Debian: libseccomp2)")
    # short: the control socket's path must fit in a sockaddr_un
    inner = Path(tempfile.mkdtemp(prefix="gh-sb-"))
    try:
        done = _run_inner(inner)
    finally:
        shutil.rmtree(inner, ignore_errors=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"{len(INNER_TESTS)} passed" in done.stdout


def _run_inner(inner: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("sandbox_run.py")),
            str(LANE_UNIT),
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--basetemp={inner}",
            *INNER_TESTS,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
