"""Strict configuration: the daemon's sections name the file and the dotted key."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from errors import BadDriverURL, ConfigError, UnknownScheme
from gate.config import parse_config

BASE = """
device = "north-1"
ledger_key = "d7e9f1dae8d2dca89d2703a270b6bcb88a22fab28cedda703eb33bcfa1038340"
state_dir = "state"
events = ["pub-expo"]
"""
PATH = Path("/etc/gatehouse/gate.toml")


def load(extra: str):
    return parse_config(tomllib.loads(BASE + extra), PATH)


def test_lane_sections() -> None:
    cfg = load("""
[camera]
url = "v4l2:/dev/video0?width=1280"
[decoder]
name = "zbar"
[relay]
url = "gpio:17?active=low"
[indicators]
green = "sim:green"
red = "sim:red"
[sensor]
url = "sim:"
passage_timeout = 5
[lane]
mode = "closed"
debounce = 1.5
""")
    lane = cfg.lane
    assert (lane.camera, lane.decoder, lane.relay) == (
        "v4l2:/dev/video0?width=1280",
        "zbar",
        "gpio:17?active=low",
    )
    assert (lane.green, lane.red, lane.buzzer, lane.sensor) == (
        "sim:green",
        "sim:red",
        None,
        "sim:",
    )
    assert (lane.passage_timeout, lane.mode, lane.debounce) == (5.0, "closed", 1.5)
    assert cfg.state_dir == Path("/etc/gatehouse/state")


def test_defaults_without_sections() -> None:
    lane = load("").lane
    assert lane.camera is None and lane.mode == "normal" and lane.debounce == 3.0
    assert lane.hub is None and lane.hub_batch == 500


def test_control_section() -> None:
    """The control socket's path (relative to the file, like state_dir) and its group."""
    default = load("").control
    assert (default.socket, default.group) == (Path("/run/gatehouse/control.sock"), "gatehouse")
    control = load("[control]\nsocket = 'run/ctl.sock'\ngroup = 'stewards'\n").control
    assert control.socket == Path("/etc/gatehouse/run/ctl.sock")
    assert control.group == "stewards"


def test_hub_batch() -> None:
    """Uploads in smaller requests lose less on a link that keeps breaking."""
    assert load("[hub]\nurl = 'http://hub:8080'\nbatch = 20\n").lane.hub_batch == 20


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("[relay]\nurl = 'sim:'\npin = 3\n", "unknown key 'relay.pin'"),
        ("[relay]\n", "missing required key 'relay.url'"),
        ("[lane]\nmode = 'party'\n", "key 'lane.mode' must be one of normal, closed, free"),
        ("[lane]\ndebounce = 0\n", "key 'lane.debounce'"),
        ("[decoder]\nname = 'zxingcpp'\n", "key 'decoder.name'"),
        ("[camera]\nurl = 17\n", "key 'camera.url'"),
        ("[hub]\nurl = 'http://h'\nbatch = 0\n", "key 'hub.batch' must be an integer from 1"),
        ("[hub]\nurl = 'http://h'\nbatch = 5001\n", "key 'hub.batch'"),
        ("[hub]\nurl = 'http://h'\nbatch = 2.5\n", "key 'hub.batch'"),
        ("relay = 'sim:'\n", "[relay] must be a table"),
        ("[cameras]\nurl = 'x:'\n", "unknown key 'cameras'"),
        ("[control]\nsocket = '/run/x.sock'\nmode = 0o666\n", "unknown key 'control.mode'"),
        ("[control]\nsocket = ''\n", "key 'control.socket' must be a path string"),
        ("[control]\ngroup = 'a b'\n", "key 'control.group' must be a group name"),
        ("[control]\ngroup = 1000\n", "key 'control.group'"),
        (
            "[peers]\nlisten = '0.0.0.0:7445'\ndirect_peers = 0\n",
            "key 'peers.direct_peers' must be an integer from 1 to 256",
        ),
        ("[peers]\nlisten = '0.0.0.0:7445'\ndirect_peers = 8.5\n", "key 'peers.direct_peers'"),
    ],
)
def test_section_errors_name_file_and_key(extra: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(extra)
    assert needle in str(info.value) and str(PATH) in str(info.value)


# -- driver URLs: checked by their drivers at load, opening nothing ------------------------

BAD_DRIVER_URLS = [
    # (section, key, url, what the message must name: the bad part and the choices)
    ("relay", "url", "gpoi:17", ["'gpoi'", "gpio:, serial:, sim:"]),
    ("relay", "url", "gpio:17?actve=low", ["'actve'", "active, rest, pulse_ms"]),
    ("camera", "url", "v4l2:/dev/video0?widht=1280", ["'widht'", "width, height, fps"]),
    ("relay", "url", "serial:///dev/ttyUSB0?board=lcsu", ["board='lcsu'", "lcus, raw"]),
]


@pytest.mark.parametrize(("section", "key", "url", "named"), BAD_DRIVER_URLS)
def test_config_check_refuses_bad_driver_urls(
    tmp_path: Path, section: str, key: str, url: str, named: list[str]
) -> None:
    """Through the real CLI: exit 2, and stderr names the file, the key and the choices."""
    (tmp_path / "state").mkdir(mode=0o700)
    cfg = tmp_path / "gate.toml"
    cfg.write_text(BASE + f"[{section}]\n{key} = {url!r}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "GATEHOUSE_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "gate", "-c", str(cfg), "config", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert str(cfg) in result.stderr and f"key '{section}.{key}'" in result.stderr
    for part in named:
        assert part in result.stderr, (part, result.stderr)


@pytest.mark.parametrize(
    ("extra", "key", "named"),
    [
        (
            "[indicators]\ngreen = 'sim:green'\nred = 'sim:?colour=red'\n",
            "indicators.red",
            "unknown option 'colour'; sim: takes rest, pulse_ms, log",
        ),
        ("[indicators]\nbuzzer = 'gpio:40'\n", "indicators.buzzer", "from 0 to 27"),
        ("[sensor]\nurl = 'gpio:27?active=low'\n", "sensor.url", "takes edge, pull, bounce_ms"),
        ("[sensor]\nurl = 'serial:/dev/ttyUSB0'\n", "sensor.url", "known: gpio:, sim:"),
        (
            "[camera]\nurl = 'synthetic:?degrade=fog'\n",
            "camera.url",
            "known: all, none, perspective",
        ),
        ("[camera]\nurl = 'webcam:0'\n", "camera.url", "known: v4l2:, picamera2:, file:"),
        ("[decoder]\nname = 'quirc'\n", "decoder.name", "one of zxing, zbar, opencv"),
    ],
)
def test_every_driver_key_is_checked(extra: str, key: str, named: str) -> None:
    with pytest.raises(BadDriverURL if key != "decoder.name" else ConfigError) as info:
        load(extra)
    message = str(info.value)
    assert str(PATH) in message and f"key '{key}'" in message and named in message


def test_driver_url_errors_keep_their_class() -> None:
    with pytest.raises(UnknownScheme):
        load("[relay]\nurl = 'gpoi:17'\n")


def test_good_driver_urls_load_without_device_libraries() -> None:
    """Checking opens nothing and loads no device library: a laptop checks a Pi's file."""
    code = f"""
import sys, tomllib
from pathlib import Path
from gate.config import parse_config
text = {BASE!r} + '''
[camera]
url = "v4l2:/dev/video0?width=1280&height=720&fps=30&fourcc=MJPG"
[decoder]
name = "zbar"
[relay]
url = "serial:/dev/ttyUSB0?board=raw&on=A00101A2&off=A00100A1&rest=on"
[indicators]
green = "gpio:5?active=low"
red = "sim:red"
[sensor]
url = "gpio:27?edge=falling&pull=up&bounce_ms=50"
'''
parse_config(tomllib.loads(text), Path("/nonexistent/gate.toml"))
heavy = ("cv2", "numpy", "segno", "zxingcpp", "pyzbar", "serial", "RPi", "picamera2")
loaded = [m for m in heavy if m in sys.modules]
assert not loaded, loaded
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
