"""Each of the doctor's findings made real, called in-process: a unit provisioned against a
real hub, then broken one way at a time (a key opened up, a full disk, a stale ledger,
a hub whose clock is ten minutes off, a damaged database, a missing relay board ...).
Each test also checks that the examination changed nothing in the state directory."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from gate.doctor import CHECKS, Finding, Options, Status, examine, exit_code
from gate.doctor.hub import clock_synchronised
from gate.doctor.report import render_json, render_text, use_colour
from hardware import read_sim_log
from verifier import Checkpoint

from ..diskkit import fill, small_tmpfs
from ..hubkit import RunningHub, seed_hub
from ..ledgerkit import NOW, LedgerKit, code, issue, show, write_config
from ..steward.fake_daemon import FakeDaemon
from .conftest import Unit, by_check, not_ok, one, provision, tree_hash

SIM_LANE = '[relay]\nurl = "sim:relay"\n'


def examined(unit: Unit, **options: object) -> list[Finding]:
    """``unit.examine`` that also asserts the state directory came out untouched."""
    before = tree_hash(unit.state) if unit.state.exists() else None
    findings = unit.examine(**options)
    after = tree_hash(unit.state) if unit.state.exists() else None
    assert before == after, "gate doctor changed the state directory"
    return findings


def test_a_healthy_unit_is_ok_but_for_what_this_machine_cannot_give(unit: Unit) -> None:
    findings = examined(unit)
    names = [f.check for f in findings]
    assert names[0] == "config" and names[-1] == "services"
    assert set(names) == {"config", *CHECKS, "green", "red"}
    expected = {"services": Status.WARN}  # no systemd here, or no gatehouse.service for us
    if clock_synchronised()[0] is not True:
        expected["clock"] = Status.WARN
    assert not_ok(findings) == expected
    clock = one(findings, "clock")
    assert "s off the hub's clock" in clock.detail  # the offset was measured all the same
    assert "enrolled" in one(findings, "hub").detail
    assert "fps" in one(findings, "camera").detail
    assert exit_code(findings) == 1
    again = one(examined(unit), "hub")  # within the same second: signed anew, not a replay
    assert again.status is Status.OK, again


def test_exit_codes() -> None:
    good = Finding("a", Status.OK, "fine")
    assert exit_code([good, Finding("b", Status.SKIP, "not needed")]) == 0
    assert exit_code([good, Finding("b", Status.WARN, "hm", "look")]) == 1
    assert (
        exit_code([Finding("b", Status.WARN, "hm", "x"), Finding("c", Status.FAIL, "no", "y")]) == 2
    )


def test_world_readable_key_fails(unit: Unit) -> None:
    key = unit.state / "device.key"
    key.chmod(0o644)
    findings = examined(unit)
    [perm] = by_check(findings)["permissions"]
    assert perm.status is Status.FAIL and "mode 0644" in perm.detail
    assert perm.fix is not None and perm.fix.startswith(f"chmod 600 {key}")
    hub = one(findings, "hub")  # cannot sign with a key gate would refuse
    assert hub.status is Status.WARN and "enrolment not checked" in hub.detail


def test_open_state_dir_and_world_writable_config(unit: Unit) -> None:
    unit.state.chmod(0o755)
    unit.config.chmod(0o666)
    perms = by_check(examined(unit))["permissions"]
    by_fix = {f.fix: f for f in perms}
    assert [f.status for f in perms] == [Status.FAIL, Status.FAIL]
    assert "writable by everyone" in by_fix[f"chmod o-w {unit.config}"].detail
    # The gate refuses an open state_dir (exit 3), so doctor fails it too.
    assert "mode 0755" in by_fix[f"chmod 700 {unit.state}"].detail


def test_a_file_of_another_user_in_the_state_fails(unit: Unit) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    os.chown(unit.state / "records.db", 65534, 65534)
    [perm] = by_check(examined(unit))["permissions"]
    assert perm.status is Status.FAIL and "records.db" in perm.detail
    assert perm.fix is not None and perm.fix.startswith("sudo chown -R")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, mounted for this test only."""
    with small_tmpfs(tmp_path / "small", "size=2m,nr_inodes=2000") as mount:
        yield mount


def test_a_full_disk_fails(
    tmp_path: Path, start_hub: Callable[..., RunningHub], fake_gpio: None, small_disk: Path
) -> None:
    hub_dir = tmp_path / "hub"
    key = seed_hub(hub_dir, now=int(time.time()))
    unit = provision(tmp_path, start_hub(hub_dir), key, hub_dir, state=small_disk / "state")
    fill(small_disk)
    disk = one(examined(unit), "disk")
    assert disk.status is Status.FAIL
    assert "MiB" in disk.detail and "may fail to commit" in disk.detail
    assert disk.fix is not None and "free space" in disk.fix


def test_a_stopped_hub_fails(unit: Unit) -> None:
    assert unit.hub is not None
    unit.hub.stop()
    findings = examined(unit)
    hub = one(findings, "hub")
    assert hub.status is Status.FAIL
    assert hub.detail.startswith(f"{unit.hub.url}: ") and "unreachable" in hub.detail
    clock = one(findings, "clock")
    assert clock.status is Status.WARN and "offset against the hub unknown" in clock.detail
    assert one(findings, "backlog").status is Status.OK  # nothing waits: all was sent


def test_a_standalone_unit_warns(tmp_path: Path) -> None:
    kit = _fresh_ledger(time.time() - 30)
    unit = _unit_with_ledger(tmp_path, kit, hub_url=None)
    findings = examined(unit)
    hub = one(findings, "hub")
    assert hub.status is Status.WARN and hub.detail.startswith("standalone")
    assert "standalone" in one(findings, "backlog").detail


def _fresh_ledger(newest: float) -> LedgerKit:
    kit = LedgerKit()
    kit.append([show()], time=int(newest) - 60)
    kit.append([issue("solo")], time=int(newest))
    return kit


def _unit_with_ledger(tmp_path: Path, kit: LedgerKit | None, *, hub_url: str | None) -> Unit:
    """A unit whose ledger is ``kit``'s blocks, applied as from a USB stick."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    extra = SIM_LANE + (f'[hub]\nurl = "{hub_url}"\n' if hub_url else "")
    config = write_config(
        tmp_path / "gate.toml", ledger_key=LedgerKit().key, state_dir=state, extra=extra
    )
    from gate.config import load_config

    cfg = load_config(config)
    with closing(
        Checkpoint(state, device=cfg.device, ledger_key=cfg.ledger_key, policy=cfg.policy)
    ) as cp:
        if kit is not None:
            report = cp.apply_lines(enumerate(kit.lines(), 1))
            assert report.error is None
    return Unit(config, state, tmp_path / "no-config.txt", None, tmp_path / "no-hub")


@pytest.mark.parametrize(
    ("age", "hub", "status", "words"),
    [
        (30, True, Status.OK, "s old (max_ledger_age 120 s)"),
        (600, True, Status.WARN, "stale"),
        (5000, True, Status.FAIL, "more than 10x too old"),
        (5000, False, Status.WARN, "standalone"),
    ],
)
def test_ledger_age(tmp_path: Path, age: int, hub: bool, status: Status, words: str) -> None:
    unit = _unit_with_ledger(
        tmp_path, _fresh_ledger(time.time() - age), hub_url="http://127.0.0.1:9" if hub else None
    )
    ledger = one(examined(unit, timeout=0.5), "ledger")
    assert ledger.status is status and words in ledger.detail, ledger


def test_no_ledger_at_all_fails(tmp_path: Path) -> None:
    unit = _unit_with_ledger(tmp_path, None, hub_url=None)
    ledger = one(examined(unit), "ledger")
    assert ledger.status is Status.FAIL and ledger.detail.startswith("no ledger")
    assert ledger.fix is not None and "gate ledger apply" in ledger.fix


def test_a_hub_clock_ten_minutes_off_fails(
    unit: Unit, start_hub: Callable[..., RunningHub]
) -> None:
    assert unit.hub is not None
    unit.hub.stop()
    ahead = start_hub(unit.hub_dir, clock=lambda: time.time() + 600)
    unit.edit(unit.hub.url, ahead.url)
    findings = examined(unit)
    clock = one(findings, "clock")
    assert clock.status is Status.FAIL
    assert "+600 s off the hub's clock" in clock.detail or "+599 s" in clock.detail
    hub = one(findings, "hub")  # the hub refuses a request signed ten minutes ago
    assert hub.status is Status.FAIL and "request time" in hub.detail
    assert hub.fix == "fix the clock (see clock)"


def test_a_unit_not_enrolled_fails(
    tmp_path: Path, start_hub: Callable[..., RunningHub], fake_gpio: None
) -> None:
    hub_dir = tmp_path / "hub"
    key = seed_hub(hub_dir, now=int(time.time()))
    unit = provision(tmp_path, start_hub(hub_dir), key, hub_dir, enrol=False)
    hub = one(examined(unit), "hub")
    assert hub.status is Status.FAIL and "north-1 is not enrolled" in hub.detail
    assert hub.fix is not None and "gate enrol CODE" in hub.fix


def test_a_pin_mismatch_fails(unit: Unit) -> None:
    unit.boot.write_text(unit.boot.read_text().replace("gpio=17=op,dh", "gpio=17=op,dl"))
    [pins] = by_check(examined(unit))["boot pins"]
    assert pins.status is Status.FAIL
    assert pins.detail.startswith("GPIO17 (relay.url, active-low, rest off): boot config drives ")
    assert pins.fix is not None and "gate provision" in pins.fix


def test_boot_config_missing_or_not_needed(unit: Unit, tmp_path: Path) -> None:
    unit.boot.unlink()
    [pins] = by_check(examined(unit))["boot pins"]
    assert pins.status is Status.WARN and "not found" in pins.detail and "GPIO17" in pins.detail
    (tmp_path / "sim").mkdir()
    sim = _unit_with_ledger(tmp_path / "sim", None, hub_url=None)
    [pins] = by_check(examined(sim))["boot pins"]
    assert pins.status is Status.OK and "no gpio: parts" in pins.detail


def test_a_damaged_database_fails(unit: Unit) -> None:
    ledger = unit.state / "ledger.db"
    with open(ledger, "r+b") as f:
        f.write(b"this is no SQLite header at all!")
    records = unit.state / "records.db"
    size = records.stat().st_size
    with open(records, "r+b") as f:  # the pages after the first: the tables themselves
        f.seek(4096)
        f.write(os.urandom(size - 4096))
    findings = examined(unit)
    damaged = by_check(findings)["databases"]
    assert [f.status for f in damaged] == [Status.FAIL, Status.FAIL]
    assert "ledger.db is damaged" in damaged[0].detail and "gate sync once" in (
        damaged[0].fix or ""
    )
    assert "records.db is damaged" in damaged[1].detail and "re-provision" in (damaged[1].fix or "")
    for later in ("ledger", "backlog"):
        skipped = one(findings, later)
        assert skipped.status is Status.SKIP and "databases" in skipped.detail


def test_a_missing_serial_relay_fails(unit: Unit) -> None:
    unit.edit('"gpio:17?active=low&pulse_ms=800"', '"serial:/dev/ttyUSB-gone?board=lcus"')
    relay = one(examined(unit), "relay")
    assert relay.status is Status.FAIL and "/dev/ttyUSB-gone" in relay.detail
    assert relay.fix is not None and "/dev/serial/by-id" in relay.fix


def test_gpio_on_a_machine_without_rpi_gpio_fails(tmp_path: Path) -> None:
    unit = _unit_with_ledger(tmp_path, None, hub_url=None)
    unit.edit('"sim:relay"', '"gpio:17?active=low"')
    relay = one(examined(unit), "relay")
    assert relay.status is Status.FAIL and "RPi.GPIO" in relay.detail


def test_pulse_only_when_asked(tmp_path: Path) -> None:
    unit = _unit_with_ledger(tmp_path, None, hub_url=None)
    log = tmp_path / "relay.log"
    unit.edit('"sim:relay"', f'"sim:relay?log={log}"')
    said: list[str] = []
    assert one(examined(unit), "relay").detail.endswith("opened, at rest")
    assert [state for _, state in read_sim_log(log)] == [False]  # driven to rest, no more
    relay = one(examined(unit, pulse=True, say=said.append), "relay")
    assert relay.status is Status.OK and "pulsed 300 ms" in relay.detail
    assert [state for _, state in read_sim_log(log)] == [False, True, False]  # one pulse
    assert said and "watch" in said[0] and "sim:relay" in said[0]


def test_the_camera(unit: Unit) -> None:
    unit.edit("fps=30", "fps=2")
    camera = one(examined(unit, camera_seconds=0.6), "camera")
    assert camera.status is Status.WARN and "under 5 fps" in camera.detail
    unit.edit("synthetic:?width=320&height=240&fps=2&degrade=none", "v4l2:/dev/video99")
    camera = one(examined(unit, camera_seconds=0.6), "camera")
    assert camera.status is Status.FAIL and "no frame" in camera.detail


def test_a_running_daemon_is_asked_not_disturbed(unit: Unit) -> None:
    """With the lane daemon up, its devices are read from its status: a relay board
    that would fail to open here is not touched, and nothing is pulsed."""
    unit.edit('"gpio:17?active=low&pulse_ms=800"', '"serial:/dev/ttyUSB-gone?board=lcus"')
    unit.edit("synthetic:?width=320&height=240&fps=30&degrade=none", "v4l2:/dev/video99")
    with FakeDaemon(unit.cfg.control.socket) as daemon:
        findings = examined(unit, pulse=True)
        camera, relay = one(findings, "camera"), one(findings, "relay")
        assert camera.status is Status.OK and "29.8 fps in the running lane daemon" in camera.detail
        assert (
            relay.status is Status.WARN
            and "held by the running lane daemon, at rest" in relay.detail
        )
        assert "not pulsed" in relay.detail
        daemon.push_status(alarms=[{"alarm": "camera", "detail": "camera unplugged", "since": 1}])
        camera = one(examined(unit), "camera")
        assert camera.status is Status.FAIL and "camera unplugged" in camera.detail


def test_not_provisioned_is_said_and_nothing_created(tmp_path: Path) -> None:
    unit = _unit_with_ledger(tmp_path, None, hub_url=None)
    for path in unit.state.iterdir():
        path.unlink()
    findings = examined(unit)
    assert list(unit.state.iterdir()) == []  # no key, no database created
    perm = one(findings, "permissions")
    assert perm.status is Status.FAIL and "no device key" in perm.detail
    assert [f.detail.endswith("not provisioned") for f in by_check(findings)["databases"]] == [
        True,
        True,
    ]
    unit.state.rmdir()
    findings = examined(unit)
    assert not unit.state.exists()
    assert "does not exist: not provisioned" in one(findings, "permissions").detail
    assert one(findings, "databases").status is Status.SKIP


def test_a_broken_config_skips_the_rest(tmp_path: Path) -> None:
    config = tmp_path / "gate.toml"
    config.write_text('device = "north-1"\nzones = ["a"]\n')
    findings = examine(config, Options(timeout=0.5))
    assert findings[0].status is Status.FAIL and "unknown key 'zones'" in findings[0].detail
    assert [f.check for f in findings[1:]] == list(CHECKS)
    assert {f.status for f in findings[1:]} == {Status.SKIP}
    assert exit_code(findings) == 2


def test_report_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    findings = [
        Finding("config", Status.OK, "fine"),
        Finding("boot pins", Status.FAIL, "GPIO17 low", "set gpio=17=op,dh"),
    ]
    text = render_text(findings)
    assert text == "OK   config     fine\nFAIL boot pins  GPIO17 low — do: set gpio=17=op,dh\n"
    coloured = render_text(findings, colour=True)
    assert "\033[32mOK  \033[0m config" in coloured and "\033[1;31mFAIL\033[0m" in coloured
    assert json.loads(render_json(findings)) == [
        {"check": "config", "status": "OK", "detail": "fine", "fix": None},
        {
            "check": "boot pins",
            "status": "FAIL",
            "detail": "GPIO17 low",
            "fix": "set gpio=17=op,dh",
        },
    ]

    class Terminal:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert use_colour(Terminal())  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(Terminal())  # type: ignore[arg-type]


def test_an_upload_backlog_warns_with_the_oldest_age(tmp_path: Path) -> None:
    kit = _fresh_ledger(NOW)  # the ledger as it was when the gate decided, long ago
    unit = _unit_with_ledger(tmp_path, kit, hub_url="http://127.0.0.1:9")
    cfg = unit.cfg
    with closing(
        Checkpoint(unit.state, device=cfg.device, ledger_key=cfg.ledger_key, policy=cfg.policy)
    ) as cp:
        assert cp.admit(code("solo"), NOW).admitted  # decided long ago, never uploaded
        cp.admit("junk", NOW + 1)
        # News since (a gate does not decide on a clock behind a block it holds, so the
        # fresh block comes after the decisions, as it would have).
        kit.append([issue("t1", valid_from=NOW - 3600)], time=int(time.time()) - 30)
        assert cp.apply_lines(enumerate(kit.lines(), 1)).error is None
    backlog = one(examined(unit, timeout=0.5), "backlog")
    assert backlog.status is Status.WARN
    assert backlog.detail.startswith("2 record(s) not yet acknowledged by the hub (after seq 0)")
    assert "days ago" in backlog.detail and "records.db" in (backlog.fix or "")


SERVICE = {
    "LoadState": "loaded",
    "ActiveState": "active",
    "SubState": "running",
    "UnitFileState": "enabled",
    "Environment": "GATEHOUSE_CONFIG=@config@",
}


@pytest.mark.parametrize(
    ("shown", "status", "words"),
    [
        ({}, Status.OK, "gatehouse.service active (running), enabled"),
        ({"LoadState": "not-found"}, Status.WARN, "not installed"),
        ({"ActiveState": "failed", "SubState": "failed"}, Status.FAIL, "keeps stopping"),
        ({"ActiveState": "activating", "SubState": "auto-restart"}, Status.FAIL, "keeps stopping"),
        ({"ActiveState": "inactive", "SubState": "dead"}, Status.WARN, "not running"),
        ({"UnitFileState": "disabled"}, Status.WARN, "will not start at the next boot"),
        ({"Environment": "GATEHOUSE_CONFIG=/etc/other.toml"}, Status.WARN, "runs /etc/other.toml"),
        ({"User": "nobody-else"}, Status.FAIL, "runs as nobody-else"),
    ],
)
def test_services_as_systemd_reports_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shown: dict, status: Status, words: str
) -> None:
    """systemd is not this machine's init, so what ``systemctl show`` would print is
    given; the reading of it is what is tested."""
    import pwd

    from gate.doctor import system

    unit = _unit_with_ledger(tmp_path, None, hub_url=None)
    owner = pwd.getpwuid(unit.state.stat().st_uid).pw_name
    answer = {**SERVICE, "User": owner, **shown}
    answer["Environment"] = answer["Environment"].replace("@config@", str(unit.config))
    monkeypatch.setattr(system, "systemd_running", lambda: True)
    monkeypatch.setattr(system.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(system, "_show", lambda name: answer)
    [services] = by_check(examined(unit))["services"]
    assert services.status is status and words in services.detail, services


def test_a_clock_behind_what_the_state_proves_fails(unit: Unit) -> None:
    """Issue 15: a Pi that boots with yesterday's time; the newest signed block proves
    better, and doctor says the lane refuses everything until the clock is set."""
    from verifier.time_floor import CLOCK_TOLERANCE_S

    findings = examined(unit, clock=lambda: time.time() - 3600)
    clock = one(findings, "clock")
    assert clock.status is Status.FAIL
    assert "behind the newest time this gate can prove" in clock.detail
    assert "clock_behind" in clock.detail and clock.fix is not None and "timedatectl" in clock.fix
    within = one(examined(unit, clock=lambda: time.time() - CLOCK_TOLERANCE_S + 5), "clock")
    assert "behind the newest time" not in within.detail


def test_a_damaged_peers_db_fails_with_its_own_fix(unit: Unit) -> None:
    peers = unit.state / "peers.db"
    assert peers.is_file(), "the state has a peer record store (PROTOCOL section 5)"
    healthy = one(examined(unit), "databases")
    assert healthy.status is Status.OK and "peers.db" in healthy.detail
    size = peers.stat().st_size
    with open(peers, "r+b") as f:
        f.write(b"this is no SQLite header at all!" + os.urandom(max(0, size - 32)))
    [damaged] = by_check(examined(unit))["databases"]
    assert damaged.status is Status.FAIL and "peers.db is damaged" in damaged.detail
    assert damaged.fix is not None and "move peers.db" in damaged.fix
