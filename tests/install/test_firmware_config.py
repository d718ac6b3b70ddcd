"""firmware-config/ on its own: the udev rules parse (``udevadm verify`` where systemd has
it, 254 and later; else a checker of udev's rule syntax below), the boot fragment is
lines the firmware reads with the pins sub-block of the wiring's defaults, the time
templates take the host, install.sh passes shellcheck and refuses an image it cannot
fill."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import INSTALL, PINS_BEGIN, PINS_END, need_install_tools

FIRMWARE = INSTALL.parent
RULES = FIRMWARE / "udev" / "99-gatehouse.rules"

# udev(7): keys that match, keys that assign, and those that take {attribute}.
MATCH_KEYS = {
    "ACTION", "DEVPATH", "KERNEL", "KERNELS", "NAME", "SYMLINK", "SUBSYSTEM", "SUBSYSTEMS",
    "DRIVER", "DRIVERS", "ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "TAG", "TAGS", "TEST",
    "PROGRAM", "RESULT",
}  # fmt: skip
ASSIGN_KEYS = {
    "NAME", "SYMLINK", "OWNER", "GROUP", "MODE", "SECLABEL", "ATTR", "SYSCTL", "ENV", "TAG",
    "RUN", "LABEL", "GOTO", "IMPORT", "OPTIONS",
}  # fmt: skip
NEEDS_ATTRIBUTE = {"ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "SECLABEL"}
MAY_HAVE_ATTRIBUTE = NEEDS_ATTRIBUTE | {"IMPORT", "RUN", "TEST"}
PAIR = re.compile(
    r'(?P<key>[A-Z_]+)(?:\{(?P<attr>[^}]+)\})?\s*(?P<op>==|!=|\+=|-=|:=|=)\s*"(?P<value>[^"]*)"'
)


def parse_rule(line: str) -> list[tuple[str, str | None, str, str]]:
    """A rule's (key, attribute, operator, value) list; AssertionError on bad syntax."""
    pairs, pos = [], 0
    while pos < len(line):
        found = PAIR.match(line, pos)
        assert found, f'not a KEY=="value" pair at column {pos}: {line[pos:]!r}'
        key, attr, op = found["key"], found["attr"], found["op"]
        is_match = op in ("==", "!=")
        assert key in (MATCH_KEYS if is_match else ASSIGN_KEYS), f"{key}{op} is not udev's"
        assert attr is None or key in MAY_HAVE_ATTRIBUTE, f"{key} takes no {{attribute}}"
        assert attr is not None or key not in NEEDS_ATTRIBUTE, f"{key} needs an {{attribute}}"
        pairs.append((key, attr, op, found["value"]))
        pos = found.end()
        sep = re.compile(r"\s*,\s*|\s*$").match(line, pos)
        assert sep and (sep.end() > pos or pos == len(line)), f"no comma at column {pos}"
        pos = sep.end()
    return pairs


def rules() -> list[tuple[str, list[tuple[str, str | None, str, str]]]]:
    """Every rule, commented-out ones included (they are there to be uncommented)."""
    out = []
    for raw in RULES.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if re.match(r"#\s*[A-Z]+[{=!]", line):
            line = line.lstrip("#").strip()
        elif not line or line.startswith("#"):
            continue
        out.append((line, parse_rule(line)))
    return out


def test_the_rules_are_udev_syntax_and_name_only_gatehouse_devices() -> None:
    names = set()
    for line, pairs in rules():
        ops = [op for _, _, op, _ in pairs]
        assert any(op in ("==", "!=") for op in ops) and any(op not in ("==", "!=") for op in ops)
        for key, _attr, _op, value in pairs:
            if key == "SYMLINK":
                assert value.startswith("gatehouse-"), line
                names.add(value)
            if key == "MODE":
                assert value == "0660", line
            if key == "GROUP":
                assert value in ("dialout", "video", "gpio"), line  # the gatehouse user's
    assert names == {"gatehouse-relay", "gatehouse-scanner", "gatehouse-camera"}


def test_the_checker_refuses_what_udev_refuses() -> None:
    for bad in (
        'SUBSYSTEM="tty", SYMLINK+="gatehouse-x"',  # an assignment used as a match key
        'SUBSYSTEM=="tty" SYMLINK+="gatehouse-x"',  # no comma
        'SUBSYSTEM=="tty", ATTRS=="1a86"',  # ATTRS without {attribute}
        'SUBSYSTEM=="tty", VENDOR=="1a86"',  # no such key
        "SUBSYSTEM==tty",  # unquoted
    ):
        with pytest.raises(AssertionError):
            parse_rule(bad)


def test_the_relay_boards_and_scanners_of_the_docs_are_matched() -> None:
    text = RULES.read_text()
    for vendor, product in (("1a86", "7523"), ("0403", "6001")):
        assert f'ATTRS{{idVendor}}=="{vendor}", ATTRS{{idProduct}}=="{product}"' in text
    for vendor in ("0c2e", "05e0", "1eab"):
        assert f'ATTRS{{idVendor}}=="{vendor}", SYMLINK+="gatehouse-scanner"' in text


def test_udevadm_verify_where_it_exists() -> None:
    udevadm = shutil.which("udevadm")
    if udevadm is None:
        pytest.skip("no udevadm here (the rules are checked by the parser above)")
    probe = subprocess.run([udevadm, "verify", "--help"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("udevadm verify needs systemd 254 or later")
    done = subprocess.run([udevadm, "verify", str(RULES)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_boot_fragment_is_firmware_lines_with_the_default_pins() -> None:
    text = (FIRMWARE / "config.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            # the firmware reads no comment after a value
            assert re.fullmatch(r"\[[a-z0-9=]+\]|[a-z_0-9]+=[^#\s]+", line), line
    assert "\ncamera_auto_detect=1\n" in text and "\nenable_uart=1\n" in text
    assert "\ndtparam=watchdog=on\n" in text and "\n#dtoverlay=i2c-rtc,ds3231\n" in text
    assert text.count(PINS_BEGIN) == 1 and text.count(PINS_END) == 1
    pins = text.split(PINS_BEGIN + "\n")[1].split(PINS_END)[0].splitlines()
    # docs/wiring.md: relay GPIO17 active low at rest off (high), lamps and buzzer active
    # high at rest off (low), the sensor's pull-up
    assert pins == [
        "gpio=17=op,dh",
        "gpio=22=op,dl",
        "gpio=23=op,dl",
        "gpio=24=op,dl",
        "gpio=27=ip,pu",
    ]
    wiring = (FIRMWARE.parent / "docs" / "wiring.md").read_text(encoding="utf-8")
    assert "gpio=17=op,dh" in wiring


@pytest.mark.parametrize(
    ("template", "line"),
    [
        ("timesyncd.conf.d/gatehouse.conf", "NTP=@NTP_HOST@"),
        ("chrony.d/gatehouse.conf", "server @NTP_HOST@ iburst prefer"),
    ],
)
def test_the_time_templates_name_the_host_once(template: str, line: str) -> None:
    text = (FIRMWARE / template).read_text()
    assert text.count("@NTP_HOST@") == 1 and f"\n{line}\n" in text


def test_shellcheck_is_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (Debian: apt-get install shellcheck)")
    done = subprocess.run([shellcheck, str(INSTALL)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def _elf_with_machine(path: Path, machine: int) -> None:
    header = bytearray(Path("/usr/bin/python3").resolve().read_bytes()[:64])
    header[18:20] = machine.to_bytes(2, "little")
    path.write_bytes(bytes(header))


@pytest.mark.parametrize(
    ("link", "machine", "message"),
    [
        ("python3.9", None, "the image's python3 is python3.9"),
        (None, 183, "the image is for another architecture"),  # EM_AARCH64 on this x86 host
    ],
)
def test_an_image_the_virtualenv_cannot_run_in_is_refused(
    tmp_path: Path, link: str | None, machine: int | None, message: str
) -> None:
    need_install_tools()
    ours = Path("/usr/bin/python3").resolve()
    if machine is not None and ours.read_bytes()[18:20] == machine.to_bytes(2, "little"):
        pytest.skip("this machine is that architecture")
    usr_bin = tmp_path / "usr/bin"
    usr_bin.mkdir(parents=True)
    target = link or ours.name
    (usr_bin / "python3").symlink_to(target)
    _elf_with_machine(usr_bin / target, machine or 62)
    done = subprocess.run(
        [str(INSTALL), "--root", str(tmp_path), "--wheel", str(INSTALL)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["usr"]  # nothing else made


def test_install_sh_and_gate_boot_pins_share_the_markers() -> None:
    from gate import boot_pins

    script = INSTALL.read_text()
    for marker in (
        boot_pins.BLOCK_BEGIN,
        boot_pins.BLOCK_END,
        boot_pins.PINS_BEGIN,
        boot_pins.PINS_END,
    ):
        assert f'="{marker}"\n' in script, marker
    fragment = (FIRMWARE / "config.txt").read_text()
    assert boot_pins.read_pins(fragment) == {
        17: "op,dh",
        22: "op,dl",
        23: "op,dl",
        24: "op,dl",
        27: "ip,pu",
    }
