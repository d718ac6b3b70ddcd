"""One real install (firmware-config/install.sh) into a temporary root, run twice, shared
by the install tests: the virtualenv is made from /usr/bin/python3 and takes a wheel of
this checkout (tests/install/wheelkit.py) with pip offline."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .wheelkit import ROOT, build_wheel

INSTALL = ROOT / "firmware-config" / "install.sh"
BASE_PYTHON = Path("/usr/bin/python3")
HUB_URL = "https://hub.venue.example:8443/gatehouse"

BLOCK_BEGIN = (
    "# >>> gatehouse (installed by firmware-config/install.sh; edit firmware-config/config.txt "
    "instead)"
)
BLOCK_END = "# <<< gatehouse"
PINS_BEGIN = (
    "# >>> gatehouse pins (gate provision writes these from gate.toml; gate doctor checks them)"
)
PINS_END = "# <<< gatehouse pins"

#: The pins sub-block's lines as gate provision writes them (gate.boot_pins.render_pins).
PROVISIONED_PINS = (
    "# relay.url = gpio:5?active=low (the relay: resting level high)\ngpio=5=op,dh\n"
    "# sensor.url = gpio:6?pull=down (the passage sensor: pull-down)\ngpio=6=ip,pd\n"
)
#: A Bookworm config.txt as a unit has it after `gate provision` and an older install:
#: a block with an outdated line and provision's pins, and the owner's lines around it.
BEFORE = "# For more options and information see\n[all]\ndtparam=audio=on\n\n[pi4]\narm_boost=1\n\n"
AFTER = "\n[all]\n# added by the venue after our block\ndisplay_rotate=2\n"
OLD_BLOCK = (
    f"{BLOCK_BEGIN}\n[all]\nstart_x=1\n{PINS_BEGIN}\n{PROVISIONED_PINS}{PINS_END}\n{BLOCK_END}\n"
)


def need_install_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("install.sh runs as root (it creates users and root-owned files)")
    for tool in ("systemd-sysusers", "systemd-tmpfiles", "systemctl"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing (Debian: apt-get install systemd)")
    probe = subprocess.run(
        [str(BASE_PYTHON), "-c", "import venv, ensurepip"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"{BASE_PYTHON} cannot make a virtualenv (apt-get install python3-venv)")


def run_install(root: Path, wheel: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(INSTALL),
            "--root",
            str(root),
            "--wheel",
            str(wheel),
            "--pip-args",
            "--no-index --no-deps",
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def snapshot(root: Path) -> list[str]:
    """Every path with its type, mode, owner, link target and content hash; compiled
    Python (which holds timestamps) left out."""
    rows = []
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        st = path.lstat()
        rel = path.relative_to(root).as_posix()
        row = f"{rel} {stat.filemode(st.st_mode)} {st.st_uid}:{st.st_gid}"
        if stat.S_ISLNK(st.st_mode):
            row += f" -> {os.readlink(path)}"
        elif stat.S_ISREG(st.st_mode):
            row += " " + hashlib.sha256(path.read_bytes()).hexdigest()
        rows.append(row)
    return rows


@dataclass
class Installed:
    root: Path
    wheel: Path
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    tree_after_first: list[str]
    tree_after_second: list[str]
    seconds: float


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    need_install_tools()
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    root = tmp_path_factory.mktemp("root")
    boot = root / "boot" / "firmware"
    boot.mkdir(parents=True)
    (boot / "config.txt").write_text(BEFORE + OLD_BLOCK + AFTER, encoding="utf-8")
    started = time.monotonic()
    first = run_install(root, wheel, "--hub", HUB_URL)
    assert first.returncode == 0, first.stdout + first.stderr
    tree_after_first = snapshot(root)
    second = run_install(root, wheel, "--hub", HUB_URL)
    assert second.returncode == 0, second.stdout + second.stderr
    seconds = time.monotonic() - started
    yield Installed(root, wheel, first, second, tree_after_first, snapshot(root), seconds)
