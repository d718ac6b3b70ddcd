"""A provisioned gate unit for the doctor: a real hub on loopback, a state directory
enrolled and synced through the real client, a synthetic camera, a GPIO relay (on the
fake RPi.GPIO: a gpio: URL cannot be opened on this machine otherwise), sim lamps, and a
boot config.txt with the right pins."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from gate.boot_pins import BLOCK_BEGIN, BLOCK_END, render_pins
from gate.config import GateConfig, load_config
from gate.doctor import Finding, Options, Status, examine
from hub import Hub
from sync.client import HubClient
from verifier import Checkpoint

from ..hubkit import RunningHub, seed_hub, start_hub, wait_for
from ..ledgerkit import code, write_config

__all__ = ["start_hub"]

FAKES = Path(__file__).resolve().parent.parent / "fakes"
STOCK_BOOT = "dtparam=audio=on\ncamera_auto_detect=1\n\n[all]\narm_boost=1\n"
LANE = """
[camera]
url = "synthetic:?width=320&height=240&fps=30&degrade=none"
[relay]
url = "gpio:17?active=low&pulse_ms=800"
[indicators]
green = "sim:green"
red = "sim:red"
[sensor]
url = "gpio:27?edge=falling&pull=up"
"""


@dataclass
class Unit:
    """A gate unit on disk: its configuration file, state directory and boot config."""

    config: Path
    state: Path
    boot: Path
    hub: RunningHub | None
    hub_dir: Path

    @property
    def cfg(self) -> GateConfig:
        return load_config(self.config)

    def examine(self, **options: object) -> list[Finding]:
        opts = {"boot_config": self.boot, "camera_seconds": 0.3, "timeout": 3.0, **options}
        return examine(self.config, Options(**opts))  # type: ignore[arg-type]

    def edit(self, old: str, new: str) -> None:
        text = self.config.read_text()
        assert old in text, old
        self.config.write_text(text.replace(old, new))


def by_check(findings: list[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for f in findings:
        grouped.setdefault(f.check, []).append(f)
    return grouped


def one(findings: list[Finding], check: str) -> Finding:
    [found] = by_check(findings)[check]
    return found


def not_ok(findings: list[Finding]) -> dict[str, Status]:
    return {f.check: f.status for f in findings if f.status is not Status.OK}


def tree_hash(root: Path) -> str:
    """Names, modes and contents of every file under ``root``: what doctor must not touch."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest.update(f"{path.relative_to(root)} {stat.S_IMODE(st.st_mode):o}\n".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def provision(
    tmp_path: Path,
    hub: RunningHub | None,
    key: bytes,
    hub_dir: Path,
    *,
    state: Path | None = None,
    lane: str = LANE,
    device: str = "north-1",
    enrol: bool = True,
) -> Unit:
    """Configure, enrol, sync and admit one code, as a technician would, in-process."""
    state = state or tmp_path / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    hub_part = f'[hub]\nurl = "{hub.url}"\n' if hub else ""
    control = f'[control]\nsocket = "{tmp_path / "control.sock"}"\n'
    config = write_config(
        tmp_path / "gate.toml",
        ledger_key=key,
        state_dir=state,
        device=device,
        extra=lane + hub_part + control,
    )
    os.chmod(config, 0o644)
    cfg = load_config(config)
    with closing(Checkpoint(state, device=device, ledger_key=key, policy=cfg.policy)) as cp:
        if hub is not None and enrol:
            operator = Hub(hub_dir)
            try:
                enrol_code = operator.enrol_code(int(time.time()))
            finally:
                operator.close()
            # No record reserve: the full-disk test builds its unit on a 2 MiB card.
            client = HubClient(hub.url, cp, reserve=0)
            client.enrol(enrol_code)
            client.pull()
            now = int(time.time())  # the hub signs the enrolment's device event at its time
            assert cp.admit(code("solo", now), now).admitted
            pulled, pushed = client.exchange(int(time.time()))
            assert pulled.error is None and pushed.error is None and pushed.acked == 1
            started = int(time.time())  # a heartbeat block since: the ledger is fresh
            wait_for(
                lambda: client.pull().error is None and cp.ledger.head().time >= started,
                10,
                "a heartbeat block",
            )
    boot = tmp_path / "config.txt"
    boot.write_text(f"{STOCK_BOOT}{BLOCK_BEGIN}\n{render_pins(cfg)}{BLOCK_END}\n")
    return Unit(config, state, boot, hub, hub_dir)


@pytest.fixture
def fake_gpio(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``from RPi import GPIO`` finds the fake (tests/fakes) in this process, and in the
    ``gate`` subprocesses through PYTHONPATH."""
    for name in ("RPi", "RPi.GPIO"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(FAKES))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(FAKES), os.environ.get("PYTHONPATH")]))
    )
    yield
    for name in ("RPi.GPIO", "RPi"):
        sys.modules.pop(name, None)


@pytest.fixture
def unit(tmp_path: Path, start_hub: Callable[..., RunningHub], fake_gpio: None) -> Unit:
    """A healthy unit with its hub running."""
    hub_dir = tmp_path / "hub"
    key = seed_hub(hub_dir, now=int(time.time()))
    return provision(tmp_path, start_hub(hub_dir), key, hub_dir)
