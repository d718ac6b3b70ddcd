"""Light commands stay light: what each one imports, read from the real CLI's own report.

systemd runs ``gate relay reset`` before the lane starts and after it stops, to put the
turnstile at rest: it must work on a unit whose OpenCV is missing or broken, and it
must be quick. The same holds for the commands a technician types at a lane and the
sync child that runs all day. Each command runs as ``python -m gate`` in a subprocess
that writes, as it exits, every module it holds (``sys.modules``: whatever imported
them, an ``import`` statement or ``importlib``).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.ledgerkit import code, simple_ledger, write_config

#: Libraries a light command must never load: the camera and decoder stack, the hub, and
#: mDNS (peer discovery, loaded only where it is switched on).
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
    "zeroconf",
)
#: Run as ``python -c``: record sys.modules at exit into argv[1], then run argv[2:]
#: (``-m MODULE ARGS`` or ``-c CODE``) as the interpreter would.
_RECORDER = """
import atexit, runpy, sys
out, how, what, *rest = sys.argv[1:]
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
sys.argv = [what, *rest]
if how == "-m":
    runpy.run_module(what, run_name="__main__", alter_sys=True)
else:
    exec(compile(what, "<command>", "exec"), {"__name__": "__main__"})
"""


def loaded_by(args: list[str], **kw) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python ARGS`` (``-m gate ...`` or ``-c CODE``); return the result and the
    full dotted names of every module it had loaded when it exited."""
    env = {k: v for k, v in os.environ.items() if k != "GATEHOUSE_CONFIG"}
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "modules"
        result = subprocess.run(
            [sys.executable, "-c", _RECORDER, str(listing), *args],
            capture_output=True,
            text=True,
            env={**env, **kw.pop("env", {})},
            timeout=60,
            check=False,
            **kw,
        )
        modules = set(listing.read_text().split()) if listing.exists() else set()
    return result, modules


def imported_by(args: list[str], **kw) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """As :func:`loaded_by`, with top-level package names."""
    result, modules = loaded_by(args, **kw)
    return result, {name.split(".")[0] for name in modules}


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
        ["ctl", "status"],
    ],
)
def test_light_commands_load_no_heavy_library(light_config: Path, command: list[str]) -> None:
    command = [code("t0") if word == "CODE" else word for word in command]
    result, modules = imported_by(["-m", "gate", "-c", str(light_config), *command])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    # sync: the hub is away; ctl: no daemon runs here (4), which is as far as it gets
    assert result.returncode in (0, 1, 4), result.stderr[-2000:]
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
        ("gate.control_client", HEAVY),
        ("gate.peer_discovery", HEAVY),
    ],
)
def test_package_imports_stay_light(package: str, forbidden: tuple[str, ...]) -> None:
    result, modules = imported_by(["-c", f"import {package}"])
    assert result.returncode == 0, result.stderr
    assert not modules & set(forbidden), f"import {package} loaded {modules & set(forbidden)}"


def test_verifier_names_load_from_their_modules_on_first_use() -> None:
    """``import verifier`` is cheap; every public name still resolves, and only the
    module that defines it is loaded (the configuration needs the policy, not the
    state files)."""
    import verifier

    assert set(verifier.__all__) == set(verifier._WHERE)
    for name, module in verifier._WHERE.items():
        defined = importlib.import_module(f"verifier.{module}")
        assert getattr(verifier, name) is getattr(defined, name)
    result, loaded = loaded_by(["-c", "from verifier import Policy"])
    assert result.returncode == 0, result.stderr
    assert "verifier.decision" in loaded
    assert not loaded & {"verifier.checkpoint", "verifier.state_files", "verifier.blocks"}


def test_doctor_without_a_camera_loads_no_heavy_library(light_config: Path) -> None:
    """``gate doctor`` loads the camera stack only for its camera check; with no
    ``[camera]`` (here: and a hub that is away, so it exits 2) it stays light."""
    result, modules = imported_by(
        ["-m", "gate", "-c", str(light_config), "doctor", "--timeout", "1"]
    )
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 2, result.stdout
    assert "FAIL camera" in result.stdout and "FAIL hub" in result.stdout
    assert "gate" in modules
    assert not modules & set(HEAVY), f"gate doctor imported {modules & set(HEAVY)}"
