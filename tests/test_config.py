"""Strict configuration: the daemon's sections name the file and the dotted key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from errors import ConfigError
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
        "v4l2:/dev/video0?width=1280", "zbar", "gpio:17?active=low")
    assert (lane.green, lane.red, lane.buzzer, lane.sensor) == ("sim:green", "sim:red", None,
                                                                "sim:")
    assert (lane.passage_timeout, lane.mode, lane.debounce) == (5.0, "closed", 1.5)
    assert cfg.state_dir == Path("/etc/gatehouse/state")


def test_defaults_without_sections() -> None:
    lane = load("").lane
    assert lane.camera is None and lane.mode == "normal" and lane.debounce == 3.0
    assert lane.hub is None and lane.hub_batch == 500


def test_hub_batch() -> None:
    """Uploads in smaller requests lose less on a link that keeps breaking."""
    assert load("[hub]\nurl = 'http://hub:8080'\nbatch = 20\n").lane.hub_batch == 20


@pytest.mark.parametrize(("extra", "needle"), [
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
])
def test_section_errors_name_file_and_key(extra: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(extra)
    assert needle in str(info.value) and str(PATH) in str(info.value)
