"""The systemd units as install.sh put them in an image tree: ``systemd-analyze verify``
finds nothing to say about them, ``systemd-analyze security`` scores the lane unit at
the exposure quoted in it (4.0 at most), and ``systemd-sysusers`` makes the three users
from the sysusers.d files in an empty tree."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Installed
from .wheelkit import ROOT

SYSTEMD = ROOT / "systemd"
HOST_UNITS = Path("/usr/lib/systemd/system")


def _analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is missing (Debian: apt-get install systemd)")
    return tool


def _version(tool: str) -> int:
    first = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
    return int(first.split()[1])


@pytest.fixture(scope="module")
def image(installed: Installed) -> Path:
    """The installed tree, with what an image has besides: the distribution's units
    (verify resolves sysinit.target and friends in the root) and, for the hub's unit,
    that unit among them (a hub machine installs it by hand; the install tests check
    that /etc/systemd/system holds none)."""
    if not (HOST_UNITS / "sysinit.target").exists():
        pytest.skip(f"no distribution units in {HOST_UNITS} to stand for the image's")
    root = installed.root
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True, dirs_exist_ok=True)
    shutil.copy(SYSTEMD / "gatehouse-hub.service", root / "usr/lib/systemd/system/")
    return root


UNITS = ["gatehouse.service", "gatehouse-steward@tty1.service", "gatehouse-hub.service"]


@pytest.mark.parametrize("unit", UNITS)
def test_verify_has_nothing_to_say(image: Path, unit: str) -> None:
    done = subprocess.run(
        [_analyze(), "verify", f"--root={image}", unit], capture_output=True, text=True
    )
    # verify exits 0 on an unknown key or a bad value, but says so: any output fails.
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_verify_would_see_a_missing_binary(image: Path, tmp_path: Path) -> None:
    """The check above means something: without the virtualenv's gate, verify objects."""
    gate = image / "opt/gatehouse/bin/gate"
    moved = tmp_path / "gate"
    gate.rename(moved)
    try:
        done = subprocess.run(
            [_analyze(), "verify", f"--root={image}", "gatehouse.service"],
            capture_output=True,
            text=True,
        )
    finally:
        moved.rename(gate)
    assert "/opt/gatehouse/bin/gate is not executable" in done.stderr


def _exposure(tool: str, image: Path, unit: str) -> float:
    done = subprocess.run(
        [tool, "security", "--offline=yes", f"--root={image}", "--no-pager", unit],
        capture_output=True,
        text=True,
    )
    found = re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+\.\d)", done.stdout)
    assert found, done.stdout + done.stderr
    return float(found.group(1))


def _quoted(unit_file: Path) -> float:
    found = re.search(r"\(systemd 252\): exposure (\d+\.\d)", unit_file.read_text())
    assert found, f"{unit_file.name} quotes no exposure"
    return float(found.group(1))


@pytest.mark.parametrize(
    ("unit", "unit_file"),
    [
        ("gatehouse.service", "gatehouse.service"),
        ("gatehouse-steward@tty1.service", "gatehouse-steward@.service"),
        ("gatehouse-hub.service", "gatehouse-hub.service"),
    ],
)
def test_security_exposure(image: Path, unit: str, unit_file: str) -> None:
    tool = _analyze()
    exposure = _exposure(tool, image, unit)
    assert exposure <= 4.0, f"{unit}: exposure {exposure}"
    if _version(tool) == 252:  # the scoring table changes between versions
        assert exposure == _quoted(SYSTEMD / unit_file), "update the score quoted in the unit"


def test_the_docs_quote_the_measured_lane_score() -> None:
    lane = _quoted(SYSTEMD / "gatehouse.service")
    docs = (ROOT / "docs" / "technicians.md").read_text(encoding="utf-8")
    assert f"exposure {lane}" in docs


def test_sysusers_makes_the_three_users_in_an_empty_tree(tmp_path: Path) -> None:
    tool = shutil.which("systemd-sysusers")
    if tool is None:
        pytest.skip("systemd-sysusers is missing (Debian: apt-get install systemd)")
    conf = tmp_path / "etc/sysusers.d"
    conf.mkdir(parents=True)
    for name in ("gatehouse.conf", "gatehouse-hub.conf"):
        shutil.copy(SYSTEMD / "sysusers.d" / name, conf / name)
    subprocess.run(
        [tool, f"--root={tmp_path}", "gatehouse.conf", "gatehouse-hub.conf"],
        check=True,
        capture_output=True,
    )
    users = {
        f[0]: f
        for f in (line.split(":") for line in (tmp_path / "etc/passwd").read_text().splitlines())
    }
    groups = {
        f[0]: f
        for f in (line.split(":") for line in (tmp_path / "etc/group").read_text().splitlines())
    }
    assert set(users) == {"gatehouse", "gatehouse-steward", "gatehouse-hub"}
    assert {u[6] for u in users.values()} == {"/usr/sbin/nologin"}
    assert users["gatehouse-steward"][3] == groups["gatehouse"][2]
    assert users["gatehouse-hub"][3] == groups["gatehouse-hub"][2]
    assert users["gatehouse-hub"][5] == "/var/lib/gatehouse-hub"
    assert "gatehouse-hub" not in groups["gatehouse"][3]


def test_tmpfiles_lines_match_the_units_directories() -> None:
    lane = (SYSTEMD / "gatehouse.service").read_text()
    tmpfiles = (SYSTEMD / "tmpfiles.d" / "gatehouse.conf").read_text()
    assert "StateDirectory=gatehouse\nStateDirectoryMode=0700\n" in lane
    assert "d /var/lib/gatehouse 0700 gatehouse gatehouse -" in tmpfiles
    assert "ConfigurationDirectory=gatehouse\nConfigurationDirectoryMode=0755\n" in lane
    assert "d /etc/gatehouse 0755 root root -" in tmpfiles
