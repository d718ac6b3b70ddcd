"""``gate selftest`` and ``gate relay reset`` with sim hardware: what works is said, per part."""

from __future__ import annotations

import re
import time
from pathlib import Path

import cv2
import numpy as np

from hardware import read_sim_log
from scanner.render import render_frame

from ..ledgerkit import code
from .test_daemon_e2e import daemon_config, gate, live_ledger


def test_selftest_all_ok_then_a_broken_relay(tmp_path: Path) -> None:
    now = int(time.time())
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(
        str(frames / "0.png"),
        render_frame(
            [code("t0", now)], np.random.default_rng(1), (640, 480), degradations=()
        ).image,
    )
    config = daemon_config(
        tmp_path, live_ledger(now, ["t0"]), f"images:{frames}", extra='[sensor]\nurl = "sim:"\n'
    )
    result = gate(config, "selftest")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert all(line.startswith("ok") for line in lines), lines
    assert any("1 code(s)" in line for line in lines)
    assert [s for _, s in read_sim_log(tmp_path / "relay.log")][-2:] == [True, False]

    # A relay that is configured right but cannot be opened: its part fails, the rest run.
    good = config.read_text()
    config.write_text(
        re.sub(
            r'url = "sim:relay[^"]*"',
            'url = "serial:/dev/ttyUSB-gatehouse-absent?board=lcus"',
            good,
        )
    )
    broken = gate(config, "selftest", "--no-pulse")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert any(
        line.startswith("FAIL outputs") and "ttyUSB-gatehouse-absent" in line
        for line in broken.stdout.splitlines()
    )

    # A relay URL no driver takes is a configuration error, refused at load (exit 2).
    config.write_text(good.replace('url = "sim:relay', 'url = "usb:relay'))
    wrong = gate(config, "selftest", "--no-pulse")
    assert wrong.returncode == 2
    assert "key 'relay.url'" in wrong.stderr and "known: gpio:, serial:, sim:" in wrong.stderr


def test_relay_reset(tmp_path: Path) -> None:
    config = daemon_config(tmp_path, live_ledger(int(time.time()), ["t0"]), "images:x")
    relay_log = tmp_path / "relay.log"
    relay_log.write_text('{"t": 1.0, "state": true}\n')  # left open by a killed daemon
    result = gate(config, "relay", "reset")
    assert result.returncode == 0, result.stderr
    assert read_sim_log(relay_log)[-1][1] is False
    assert "at rest" in result.stdout
