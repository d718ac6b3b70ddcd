"""Light commands stay light: what each one imports, read from the real CLI's own report.

systemd runs ``gate relay reset`` before the lane starts and after it stops, to put the
turnstile at rest: it must work on a unit whose OpenCV is missing or broken, and it
must be quick. The same holds for the commands a technician types at a lane and the
sync child that runs all day. Each command runs in a subprocess under ``python -X
importtime``, whose report names every module the process imported.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ledgerkit import code, simple_ledger, write_config

#: Libraries a light command must never load: the camera and decoder stack, and the hub.
HEAVY = (
    "cv2",
    "numpy",
    "segno",
    "zxingcpp",
    "pyzbar",
    "fastapi",
    "uvicorn",
    "starlette",
    "pydantic",
)
_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)\s*$", re.M)


def imported_by(args: list[str], **kw) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    env = {k: v for k, v in os.environ.items() if k != "GATEHOUSE_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        **kw,
    )
    return result, {name.split(".")[0] for name in _IMPORTED.findall(result.stderr)}


@pytest.fixture
def light_config(tmp_path: Path) -> Path:
    kit = simple_ledger(2)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    config = write_config(
        tmp_path / "gate.toml",
        ledger_key=kit.key,
        state_dir=state,
        extra='[relay]\nurl = "sim:"\n[hub]\nurl = "http://127.0.0.1:9"\nmax_ledger_age = 120\n',
    )
    ledger = kit.write(tmp_path / "ledger.jsonl")
    applied = subprocess.run(
        [sys.executable, "-m", "gate", "-c", str(config), "ledger", "apply", str(ledger)],
        capture_output=True,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    return config


@pytest.mark.parametrize(
    "command",
    [
        ["relay", "reset"],
        ["config", "check"],
        ["device", "show"],
        ["ledger", "status"],
        ["check", "CODE"],
        ["admit", "CODE"],
        ["sync", "status"],
        ["sync", "once"],
        ["records", "export", "-"],
    ],
)
def test_light_commands_load_no_heavy_library(light_config: Path, command: list[str]) -> None:
    command = [code("t0") if word == "CODE" else word for word in command]
    result, modules = imported_by(["-m", "gate", "-c", str(light_config), *command])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode in (0, 1), result.stderr[-2000:]  # sync: the hub is away
    assert "gate" in modules  # the report is really the CLI's
    assert not modules & set(HEAVY), f"gate {' '.join(command)} imported {modules & set(HEAVY)}"


def test_relay_reset_runs_where_opencv_is_broken(light_config: Path, tmp_path: Path) -> None:
    """An OpenCV that fails to import (a half-upgraded Pi) cannot stop the turnstile
    being put at rest."""
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("cv2", "numpy", "zxingcpp", "segno"):
        (broken / f"{name}.py").write_text(f"raise ImportError('{name} is broken here')\n")
    env = {**os.environ, "PYTHONPATH": str(broken)}
    env.pop("GATEHOUSE_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "gate", "-c", str(light_config), "relay", "reset"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "at rest" in result.stdout


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("hardware", ("nacl", *HEAVY, "serial", "RPi")),
        ("drivers", ("nacl", "verifier", *HEAVY)),
        ("scanner", HEAVY),
        ("verifier", HEAVY),
        ("sync.client", (*HEAVY, "hub")),
        ("errors", ("nacl", "verifier")),
    ],
)
def test_package_imports_stay_light(package: str, forbidden: tuple[str, ...]) -> None:
    result, modules = imported_by(["-c", f"import {package}"])
    assert result.returncode == 0, result.stderr
    assert not modules & set(forbidden), f"import {package} loaded {modules & set(forbidden)}"
