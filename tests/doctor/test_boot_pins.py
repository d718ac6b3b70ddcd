"""gate/boot_pins.py on real files: the pins a configuration needs at power-on, the
sub-block written into a real config.txt, read back and checked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from errors import ConfigError
from gate.boot_pins import (
    BLOCK_BEGIN,
    BLOCK_END,
    PINS_BEGIN,
    PINS_END,
    PinLine,
    pin_problems,
    read_pins,
    render_pins,
    wanted_pins,
    write_pins,
)
from gate.config import GateConfig, load_config

from ..ledgerkit import simple_ledger, write_config

#: A Raspberry Pi OS config.txt as shipped, with install.sh's block and a CRLF-free tail.
STOCK = """\
# For more options and information see
# http://rpf.io/configtxt
dtparam=audio=on
camera_auto_detect=1
display_auto_detect=1

[cm4]
otg_mode=1

[all]
arm_boost=1
"""


def config(tmp_path: Path, lanes: str) -> GateConfig:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    path = write_config(
        tmp_path / "gate.toml", ledger_key=simple_ledger(1).key, state_dir=state, extra=lanes
    )
    return load_config(path)


LANE = """
[relay]
url = "gpio:17?active=low&pulse_ms=800"
[indicators]
green = "gpio:22"
red = "gpio:23?rest=on"
buzzer = "sim:buzzer"
[sensor]
url = "gpio:27?edge=falling&pull=down"
"""


def test_wanted_pins_follow_active_rest_and_pull(tmp_path: Path) -> None:
    cfg = config(tmp_path, LANE + "")
    assert [(p.pin, p.setting, p.key) for p in wanted_pins(cfg)] == [
        (17, "op,dh", "relay.url"),  # active-low, rest off: rests high
        (22, "op,dl", "indicators.green"),  # active-high, rest off: rests low
        (23, "op,dh", "indicators.red"),  # active-high, rest on: rests high
        (27, "ip,pd", "sensor.url"),
    ]
    assert all(isinstance(p, PinLine) for p in wanted_pins(cfg))
    on_low = config(tmp_path, '[relay]\nurl = "gpio:5?active=low&rest=on"\n')
    assert [p.line for p in wanted_pins(on_low)] == ["gpio=5=op,dl"]
    default_pull = config(tmp_path, '[relay]\nurl = "sim:"\n[sensor]\nurl = "gpio:6"\n')
    assert [p.line for p in wanted_pins(default_pull)] == ["gpio=6=ip,pu"]  # the driver's default
    assert wanted_pins(config(tmp_path, '[relay]\nurl = "sim:"\n')) == []


def test_render_names_each_key_between_the_markers(tmp_path: Path) -> None:
    block = render_pins(config(tmp_path, LANE))
    lines = block.splitlines()
    assert lines[0] == PINS_BEGIN and lines[-1] == PINS_END and block.endswith("\n")
    assert "gpio=17=op,dh" in lines and "gpio=27=ip,pd" in lines
    comment = lines[lines.index("gpio=17=op,dh") - 1]
    assert comment.startswith("# relay.url = gpio:17?active=low") and "active-low" in comment


def test_round_trip_through_a_real_config_txt(tmp_path: Path) -> None:
    cfg = config(tmp_path, LANE)
    boot = tmp_path / "config.txt"
    boot.write_text(STOCK)
    assert pin_problems(cfg, boot.read_text())  # nothing set yet: every pin is a problem
    assert write_pins(boot, cfg) is True
    text = boot.read_text()
    assert text.startswith(STOCK)  # appended: the stock part untouched
    assert text[len(STOCK) :].splitlines()[0] == BLOCK_BEGIN
    assert text.rstrip("\n").splitlines()[-1] == BLOCK_END
    assert read_pins(text) == {17: "op,dh", 22: "op,dl", 23: "op,dh", 27: "ip,pd"}
    assert pin_problems(cfg, text) == []
    assert write_pins(boot, cfg) is False  # idempotent
    assert boot.read_text() == text


def test_replace_in_place_keeps_every_other_byte(tmp_path: Path) -> None:
    old = config(tmp_path, '[relay]\nurl = "gpio:17"\n')
    boot = tmp_path / "config.txt"
    boot.write_text(STOCK)
    write_pins(boot, old)
    # Someone edits around the block afterwards: a line inside the gatehouse block, a tail.
    text = boot.read_text().replace(BLOCK_END, "dtoverlay=gpio-shutdown\n" + BLOCK_END)
    text += "\n# the technician's own line\nhdmi_force_hotplug=1"  # no final newline
    boot.write_bytes(text.encode())
    os.chmod(boot, 0o640)
    new = config(tmp_path, LANE)
    assert write_pins(boot, new) is True
    after = boot.read_bytes()
    begin, end = text.index(PINS_BEGIN), text.index(PINS_END) + len(PINS_END) + 1
    assert after == (text[:begin] + render_pins(new) + text[end:]).encode()
    assert oct(boot.stat().st_mode & 0o777) == oct(0o640)  # mode kept
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    assert pin_problems(new, after.decode()) == []


def test_added_inside_an_existing_gatehouse_block(tmp_path: Path) -> None:
    boot = tmp_path / "config.txt"
    installed = f"{STOCK}{BLOCK_BEGIN}\ndtparam=i2c_arm=off\n{BLOCK_END}\n"
    boot.write_text(installed)
    cfg = config(tmp_path, LANE)
    assert write_pins(boot, cfg) is True
    text = boot.read_text()
    assert text == installed.replace(BLOCK_END, render_pins(cfg) + BLOCK_END)


def test_a_missing_boot_config_is_created(tmp_path: Path) -> None:
    boot = tmp_path / "config.txt"
    cfg = config(tmp_path, LANE)
    assert write_pins(boot, cfg) is True
    assert boot.read_text() == f"{BLOCK_BEGIN}\n{render_pins(cfg)}{BLOCK_END}\n"


def test_an_unclosed_block_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    boot = tmp_path / "config.txt"
    boot.write_text(f"{STOCK}{PINS_BEGIN}\ngpio=17=op,dl\n")
    before = boot.read_bytes()
    with pytest.raises(ConfigError, match="has no"):
        write_pins(boot, config(tmp_path, LANE))
    assert boot.read_bytes() == before


def test_firmware_forms_lists_ranges_and_later_lines(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "gpio=17,22=op,dl",
            "gpio=2-5=ip,np",
            "gpio=22=dh",  # later, one option: 22 is op,dh now
            "  GPIO = 6 = ip , pu ",
            "#gpio=9=op,dh",
            "[none]",
            "gpio=10=op,dh",  # applies to nothing
            "[all]",
            "gpio=11=a0",
        ]
    )
    assert read_pins(text) == {
        17: "op,dl",
        22: "op,dh",
        2: "ip,pn",
        3: "ip,pn",
        4: "ip,pn",
        5: "ip,pn",
        6: "ip,pu",
        11: "a0",
    }


def test_mismatches_are_named(tmp_path: Path) -> None:
    cfg = config(tmp_path, LANE)
    text = "\n".join(
        ["gpio=17=op,dl", "gpio=22=op,dl", "gpio=23=ip,pu", "[pi4]", "gpio=27=ip,pu", ""]
    )
    relay, red, sensor = pin_problems(cfg, text)
    assert relay == (
        "GPIO17 (relay.url, active-low, rest off): boot config drives it low at power-on "
        "(gpio=17=op,dl), but its resting level is high; the relay would click on at every "
        "boot until the daemon starts: set gpio=17=op,dh"
    )
    assert red.startswith("GPIO23 (indicators.red, active-high, rest on): boot config makes ")
    assert "gpio=23=ip,pu" in red and red.endswith("set gpio=23=op,dh")
    assert sensor.startswith("GPIO27 (sensor.url, pull down): ")
    assert "(gpio=27=ip,pu, under [pi4]: that case only)" in sensor and sensor.endswith(
        "gpio=27=ip,pd"
    )


def test_missing_and_shared_pins(tmp_path: Path) -> None:
    cfg = config(tmp_path, '[relay]\nurl = "gpio:17?active=low"\n[indicators]\ngreen = "gpio:17"\n')
    shared, *missing = pin_problems(cfg, STOCK)
    assert shared.startswith("GPIO17 is used by relay.url and indicators.green")
    assert "not set in the boot config" in missing[0] and missing[0].endswith("gpio=17=op,dh")
    with pytest.raises(ConfigError, match=r"GPIO17 is used by relay\.url and indicators\.green"):
        render_pins(cfg)
