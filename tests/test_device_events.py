"""The ``device`` ledger event (PROTOCOL.md revision 1.2): its shape, its one rule (a
device id keeps one key for ever), the gate's copy of it in ledger.db (schema 4), and
the hub, which publishes one at every enrolment, registration and revocation."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from pathlib import Path

import pytest

from errors import BlockRejected, ConfigError, HubRefusal
from hub import Authority, Hub, Intake
from hub import cli as hub_cli
from hub import facts as hub_facts
from verifier import Checkpoint, parse_block
from verifier.blocks import read_blocks
from verifier.ledger_rules import check_events
from verifier.schema import MIGRATIONS, SCHEMA_VERSION
from verifier.state_files import statements

from .ledgerkit import NOW, LedgerKit, device, show, signer, simple_ledger
from .statekit import POLICY, apply, gate

SMALL_ORDER = bytes.fromhex("01" + "00" * 31)  # the identity point: small order


class DeviceFacts:
    """Facts held in memory with devices: device id -> key."""

    def __init__(self, devices: dict[str, bytes] | None = None) -> None:
        self.devices = dict(devices or {})
        self.asked: list[set[str]] = []

    def defined_shows(self) -> set[str]:
        return set()

    def known_tickets(self, ids: Collection[bytes]) -> dict[bytes, bool]:
        return {}

    def device_keys(self, ids: Collection[str]) -> dict[str, bytes]:
        self.asked.append(set(ids))
        return {d: self.devices[d] for d in ids if d in self.devices}


def block_of(events: list[dict]) -> object:
    return parse_block(json.dumps(LedgerKit().append(events)))


def key_of(name: str) -> bytes:
    return signer(f"device:{name}").public_key


# -- shape ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"op": "device", "device": "n", "key": key_of("n").hex()}, "missing active"),
        ({**device("n"), "name": "x"}, "unexpected name"),
        ({**device("n"), "active": 1}, "'active' must be true or false"),
        ({**device("n"), "active": "true"}, "'active' must be true or false"),
        ({**device("n"), "device": 7}, "'device' must be a string"),
        ({**device("n"), "key": key_of("n").hex().upper()}, "'key' must be 64 lowercase hex"),
        (device("n", key=SMALL_ORDER), "device key 0100.* is not a valid holder key"),
    ],
)
def test_a_device_event_of_the_wrong_shape_makes_the_block_invalid(event, message) -> None:
    with pytest.raises(BlockRejected, match=message):
        block_of([event])


def test_a_device_event_of_the_right_shape_parses() -> None:
    block = block_of([device("north-1"), device("south-2", active=False)])
    assert [e["op"] for e in block.events] == ["device", "device"]


# -- the rule ---------------------------------------------------------------------------


def test_a_known_device_keeps_its_key() -> None:
    facts = DeviceFacts({"north-1": key_of("north-1")})
    check_events(block_of([device("north-1", active=False), device("north-1")]), facts)
    assert facts.asked == [{"north-1"}]  # one batched question for the devices named
    with pytest.raises(BlockRejected, match=r"event 1 \(device\): device 'north-1' has key"):
        check_events(block_of([device("south-2"), device("north-1", key=key_of("other"))]), facts)


def test_one_block_cannot_give_a_new_device_two_keys() -> None:
    with pytest.raises(BlockRejected, match=r"event 1 \(device\).*keeps one key"):
        check_events(block_of([device("n"), device("n", key=key_of("m"))]), DeviceFacts())


def test_blocks_without_device_events_ask_nothing_of_devices() -> None:
    facts = DeviceFacts()
    check_events(block_of([]), facts)
    assert facts.asked == []


# -- the gate's copy --------------------------------------------------------------------


def test_the_gate_keeps_each_devices_key_and_whether_it_is_active(state_dir: Path) -> None:
    kit = simple_ledger(1)
    kit.append([device("north-1"), device("south-2")])
    kit.append([device("south-2", active=False)])
    with gate(state_dir, kit) as cp:
        assert apply(cp, kit).error is None
        north, south = cp.ledger.device_info("north-1"), cp.ledger.device_info("south-2")
        assert (north.key, north.active) == (key_of("north-1"), True)
        assert (south.key, south.active) == (key_of("south-2"), False)
        assert cp.ledger.device_info("east-3") is None


def test_the_gate_refuses_another_key_for_a_known_device_and_applies_nothing(
    state_dir: Path,
) -> None:
    kit = simple_ledger(1)
    kit.append([device("north-1")])
    kit.append([device("east-3"), device("north-1", key=key_of("thief"))])
    with gate(state_dir, kit) as cp:
        report = apply(cp, kit)
        assert report.error is not None and report.height == 2
        assert "device 'north-1' has key" in str(report.error)
        assert cp.ledger.device_info("east-3") is None  # the block applied whole or not at all
        assert cp.ledger.device_info("north-1").key == key_of("north-1")


def test_a_version_3_ledger_is_migrated_to_keep_devices(state_dir: Path) -> None:
    """A ledger.db of schema 3 (before `device` events) opens as schema 4: its chain is
    kept and the next block may name devices."""
    kit = simple_ledger(2)
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
    db = sqlite3.connect(state_dir / "ledger.db", isolation_level=None)
    db.execute("DROP TABLE devices")
    db.execute("PRAGMA user_version=3")
    db.close()
    kit.append([device("north-1")])
    with gate(state_dir, kit) as cp:
        assert cp.status()["height"] == 1
        assert apply(cp, kit).error is None
        assert cp.ledger.device_info("north-1").active
    db = sqlite3.connect(state_dir / "ledger.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    db.close()
    assert any("CREATE TABLE devices" in s for s in statements(MIGRATIONS[3]))


# -- the hub ----------------------------------------------------------------------------


def published(hub_dir: Path) -> list[dict]:
    """Every ``device`` event the hub has signed, in ledger order."""
    db = sqlite3.connect(hub_dir / "hub.db")
    try:
        blocks = [json.loads(r[0]) for r in db.execute("SELECT body FROM blocks ORDER BY height")]
    finally:
        db.close()
    return [e for b in blocks for e in b["events"] if e["op"] == "device"]


@pytest.fixture
def hub_dir(tmp_path: Path) -> Path:
    path = tmp_path / "hub"
    path.mkdir()
    with Authority(path) as authority:
        authority.append([show()], NOW - 600)
    return path


def test_enrolment_publishes_the_device_in_the_same_transaction(hub_dir: Path) -> None:
    hub = Hub(hub_dir, now=NOW)
    try:
        height = hub.authority.head()[0]
        hub.enrol(hub.enrol_code(NOW), "north-1", key_of("north-1").hex(), NOW)
        assert hub.authority.head()[0] == height + 1
        assert published(hub_dir) == [device("north-1")]
        # A known id with another key is refused: nothing signed, the code still usable.
        code = hub.enrol_code(NOW)
        with pytest.raises(HubRefusal, match="enrolled with another key") as refused:
            hub.enrol(code, "north-1", key_of("thief").hex(), NOW)
        assert refused.value.status == 409
        assert hub.authority.head()[0] == height + 1
        hub.enrol(code, "south-2", key_of("south-2").hex(), NOW)
        assert published(hub_dir) == [device("north-1"), device("south-2")]
    finally:
        hub.close()


def test_registration_and_revocation_publish_once_each(hub_dir: Path) -> None:
    hub = Hub(hub_dir, now=NOW)
    try:
        hub.register_device("north-1", key_of("north-1"), NOW)
        hub.register_device("north-1", key_of("north-1"), NOW + 1)  # again: nothing new
        with pytest.raises(HubRefusal, match="another key"):
            hub.register_device("north-1", key_of("thief"), NOW + 2)
        assert hub.revoke_device("north-1", NOW + 3)
        assert not hub.revoke_device("north-1", NOW + 4)  # already revoked: nothing new
        assert not hub.revoke_device("nobody", NOW + 5)
        assert published(hub_dir) == [device("north-1"), device("north-1", active=False)]
    finally:
        hub.close()


def test_the_hub_commands_publish(hub_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`gate hub register` and `gate hub revoke-device`."""
    base = ["--dir", str(hub_dir)]
    assert hub_cli.main([*base, "register", "north-1", key_of("north-1").hex()]) == 0
    with pytest.raises(ConfigError, match="another key"):
        hub_cli.main([*base, "register", "north-1", key_of("thief").hex()])
    assert hub_cli.main([*base, "revoke-device", "north-1"]) == 0
    assert published(hub_dir) == [device("north-1"), device("north-1", active=False)]


def test_devices_enrolled_before_device_events_are_published_once_at_start(
    hub_dir: Path,
) -> None:
    """A hub directory from before revision 1.2: its devices are in `devices` but the
    ledger names none. The hub publishes them when it opens (a revoked one as not
    active), once: opening it again signs nothing."""
    db = sqlite3.connect(hub_dir / "hub.db", isolation_level=None)
    intake = Intake(db)
    intake.register("north-1", key_of("north-1"), NOW - 100)
    intake.register("south-2", key_of("south-2"), NOW - 50)
    intake.revoke("south-2", NOW - 40)
    intake.register("junk-9", SMALL_ORDER, NOW - 30)  # no block could carry its key
    db.close()
    Hub(hub_dir, now=NOW).close()
    expected = [device("north-1"), device("south-2", active=False)]
    assert published(hub_dir) == expected
    with Authority(hub_dir) as authority:
        height = authority.head()[0]
    Hub(hub_dir, now=NOW + 10).close()
    with Authority(hub_dir) as authority:
        assert authority.head()[0] == height
    assert published(hub_dir) == expected


def test_the_hubs_facts_follow_the_rules_and_rebuild_the_same(hub_dir: Path) -> None:
    hub = Hub(hub_dir, now=NOW)
    try:
        hub.register_device("north-1", key_of("north-1"), NOW)
        hub.revoke_device("north-1", NOW)
        hub.register_device("south-2", key_of("south-2"), NOW)
        rows = "SELECT device, key, active FROM ledger_devices ORDER BY device"
        before = hub.db.execute(rows).fetchall()
        assert before == [
            ("north-1", key_of("north-1").hex(), 0),
            ("south-2", key_of("south-2").hex(), 1),
        ]
        # The authority refuses what a gate would: another key for a known device.
        with pytest.raises(BlockRejected, match="keeps one key"):
            hub.authority.append([device("south-2", key=key_of("thief"))], NOW)
        hub.db.execute("DELETE FROM ledger_devices")
        hub_facts.rebuild(hub.db, hub.authority.public_key, "test")
        assert hub.db.execute(rows).fetchall() == before
    finally:
        hub.close()


def test_a_gate_applies_what_the_hub_publishes(hub_dir: Path, state_dir: Path) -> None:
    hub = Hub(hub_dir, now=NOW)
    try:
        hub.register_device("north-1", key_of("north-1"), NOW)
        hub.revoke_device("north-1", NOW + 1)
        lines = list(hub.authority.blocks_since(-1))
        key = hub.authority.public_key
    finally:
        hub.close()
    with Checkpoint(state_dir, device="gate-1", ledger_key=key, policy=POLICY) as cp:
        assert cp.apply_lines(read_blocks(lines)).error is None
        assert cp.ledger.device_info("north-1").active is False
