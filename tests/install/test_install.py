"""firmware-config/install.sh into a temporary root, for real: twice gives the identical
tree, the users, directories, virtualenv, units, device names, time and watchdog
drop-ins are where docs/technicians.md says, and the boot block goes in once, replaced
in place, with the rest of config.txt and provision's pins untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import (
    AFTER,
    BEFORE,
    BLOCK_BEGIN,
    BLOCK_END,
    INSTALL,
    PINS_BEGIN,
    PINS_END,
    PROVISIONED_PINS,
    Installed,
    need_install_tools,
    run_install,
)

FIRMWARE = INSTALL.parent


def test_twice_gives_the_identical_tree_within_a_minute(installed: Installed) -> None:
    assert installed.tree_after_first == installed.tree_after_second
    assert installed.seconds < 60, f"two installs took {installed.seconds:.1f} s"


def test_it_says_what_it_did_and_then_what_it_kept(installed: Installed) -> None:
    first = installed.first.stdout.splitlines()
    for line in (
        "created user 'gatehouse' (Gatehouse lane daemon)",
        "created user 'gatehouse-steward' (Gatehouse steward console)",
        "created virtualenv /opt/gatehouse",
        "installed /etc/systemd/system/gatehouse.service",
        "installed /etc/udev/rules.d/99-gatehouse.rules",
        "time from hub.venue.example",
        "replaced the gatehouse block in /boot/firmware/config.txt",
        "kept the pins in /boot/firmware/config.txt as they were",
        "enabled gatehouse.service (starts at boot)",
        "masked getty@tty1.service",
    ):
        assert any(got.startswith(line) for got in first), (line, first)
    # The second time everything is kept; only the package is installed again (an upgrade
    # path), and the virtualenv re-pointed.
    redone = ("installed gatehouse ", "installed the documentation", "pointed the virtualenv")
    quiet = ("installing into", "no python3 in", "time from", "next: ", "kept")
    for line in installed.second.stdout.splitlines():
        assert line.startswith(redone + quiet), line
    assert installed.first.stderr == installed.second.stderr == ""


def test_users_directories_and_the_virtualenv(installed: Installed) -> None:
    root = installed.root
    passwd, groups = (
        {line.split(":")[0]: line.split(":") for line in (root / name).read_text().splitlines()}
        for name in ("etc/passwd", "etc/group")
    )
    gate_user, steward = passwd["gatehouse"], passwd["gatehouse-steward"]
    assert gate_user[5:] == ["/var/lib/gatehouse", "/usr/sbin/nologin"]
    assert steward[6] == "/usr/sbin/nologin"
    assert gate_user[3] == steward[3] == groups["gatehouse"][2]  # steward's group: gatehouse
    for device_group in ("gpio", "dialout", "video"):
        assert "gatehouse" in groups[device_group][3].split(",")
    state = (root / "var/lib/gatehouse").stat()
    assert (oct(state.st_mode & 0o777), str(state.st_uid)) == ("0o700", gate_user[2])
    assert oct((root / "etc/gatehouse").stat().st_mode & 0o777) == "0o755"

    venv = root / "opt/gatehouse"
    gate = venv / "bin/gate"
    assert os.access(gate, os.X_OK)
    assert gate.read_text().splitlines()[0] == "#!/opt/gatehouse/bin/python"  # as on the unit
    assert str(root) not in (venv / "pyvenv.cfg").read_text()
    assert os.readlink(root / "usr/local/bin/gate") == "/opt/gatehouse/bin/gate"
    assert not list(venv.glob("lib/python3*/site-packages/gatehouse-*.dist-info/direct_url.json"))
    assert (venv / "share/doc/gatehouse/technicians.md").is_file()
    # The virtualenv imports the installed package (its dependencies are not installed
    # here: the test's pip is offline, with --no-deps), not the checkout.
    probe = "import errors, importlib.metadata as m; print(errors.__file__, m.version('gatehouse'))"
    done = subprocess.run(
        [str(venv / "bin/python"), "-c", probe], capture_output=True, text=True, cwd="/"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(venv / "lib")) and done.stdout.endswith(" 0.1.0\n")


def test_units_drop_ins_and_device_names(installed: Installed) -> None:
    root = installed.root
    system = root / "etc/systemd/system"
    for unit in ("gatehouse.service", "gatehouse-steward@.service"):
        assert (system / unit).read_bytes() == (FIRMWARE.parent / "systemd" / unit).read_bytes()
    wants = system / "multi-user.target.wants"
    assert os.readlink(wants / "gatehouse.service") == "/etc/systemd/system/gatehouse.service"
    assert os.readlink(wants / "gatehouse-steward@tty1.service").endswith(
        "/gatehouse-steward@.service"
    )
    assert os.readlink(system / "getty@tty1.service") == "/dev/null"
    assert not (system / "gatehouse-hub.service").exists()  # the hub's unit is not a gate's
    rules = root / "etc/udev/rules.d/99-gatehouse.rules"
    assert rules.read_bytes() == (FIRMWARE / "udev/99-gatehouse.rules").read_bytes()
    timesync = (root / "etc/systemd/timesyncd.conf.d/gatehouse.conf").read_text()
    assert "\n[Time]\nNTP=hub.venue.example\n" in timesync
    watchdog = (root / "etc/systemd/system.conf.d/gatehouse-watchdog.conf").read_text()
    assert "\nRuntimeWatchdogSec=15s\n" in watchdog
    assert (root / "etc/sysusers.d/gatehouse.conf").is_file()
    assert (root / "etc/tmpfiles.d/gatehouse.conf").is_file()


def test_the_boot_block_replaces_the_old_one_in_place_keeping_the_pins(
    installed: Installed,
) -> None:
    config = (installed.root / "boot/firmware/config.txt").read_text()
    assert config.startswith(BEFORE + BLOCK_BEGIN + "\n")
    assert config.endswith(BLOCK_END + "\n" + AFTER)
    assert config.count(BLOCK_BEGIN) == config.count(PINS_BEGIN) == 1
    block = config[len(BEFORE) : -len(AFTER)]
    assert "start_x=1" not in block  # the old block's content is gone
    assert "\ndtparam=watchdog=on\n" in block and "\nenable_uart=1\n" in block
    pins = block.split(PINS_BEGIN + "\n")[1].split(PINS_END)[0]
    assert pins == PROVISIONED_PINS  # provision's, comments and all, not the defaults
    saved = installed.root / "boot/firmware/config.txt.before-gatehouse"
    assert saved.read_text().startswith(BEFORE + BLOCK_BEGIN + "\n[all]\nstart_x=1\n")


def test_a_config_without_a_block_gets_it_once_with_the_default_pins(
    installed: Installed, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    boot = root / "boot/firmware"
    boot.mkdir(parents=True)
    original = "# a unit's own lines\ndtparam=audio=on\n[pi4]\narm_boost=1"  # no final newline
    (boot / "config.txt").write_text(original)
    # the first install's virtualenv, so this run only reinstalls the package (seconds)
    shutil.copytree(installed.root / "opt", root / "opt", symlinks=True)
    for _ in range(2):
        done = run_install(root, installed.wheel, "--no-enable", "--no-steward")
        assert done.returncode == 0, done.stdout + done.stderr
    config = (boot / "config.txt").read_text()
    assert config.startswith(original + "\n\n" + BLOCK_BEGIN + "\n")
    assert config.endswith(BLOCK_END + "\n") and config.count(BLOCK_BEGIN) == 1
    pins = config.split(PINS_BEGIN + "\n")[1].split(PINS_END)[0]
    assert pins == "gpio=17=op,dh\ngpio=22=op,dl\ngpio=23=op,dl\ngpio=24=op,dl\ngpio=27=ip,pu\n"
    assert "enabled nothing (--no-enable)" in done.stdout
    assert "time from the distribution's servers" in done.stdout
    assert not (root / "etc/systemd/system/multi-user.target.wants").exists()
    assert not (root / "etc/systemd/timesyncd.conf.d").exists()


def test_an_unfinished_block_is_left_alone(installed: Installed, tmp_path: Path) -> None:
    root = tmp_path / "root"
    boot = root / "boot/firmware"
    boot.mkdir(parents=True)
    broken = f"dtparam=audio=on\n{BLOCK_BEGIN}\ngpio=17=op,dh\n"
    (boot / "config.txt").write_text(broken)
    shutil.copytree(installed.root / "opt", root / "opt", symlinks=True)
    done = run_install(root, installed.wheel, "--no-enable")
    assert done.returncode == 2 and "without its end line" in done.stderr
    assert (boot / "config.txt").read_text() == broken
    assert not (root / "etc").exists()  # refused before anything was changed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", ".", "--wheel", "x.whl"], "give --source or --wheel, not both"),
        (["--bogus"], "unknown argument '--bogus'"),
        (["--ntp", "a b"], "is not a host name"),
        (["--root"], "--root needs a value"),
        (["--root", "/nonexistent/dir"], "no such directory"),
    ],
)
def test_usage_errors_change_nothing(args: list[str], message: str) -> None:
    need_install_tools()
    done = subprocess.run([str(INSTALL), *args], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_help_is_the_header() -> None:
    done = subprocess.run([str(INSTALL), "--help"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("Install Gatehouse on a gate unit")
    assert "--pip-args ARGS" in done.stdout and "set -euo" not in done.stdout
