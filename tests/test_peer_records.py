"""Peer records on the gate (PROTOCOL.md section 5 and checks 14-15, revision 1.2): what
is accepted, held aside, refused and kept as fork evidence, and how the decision counts
what is held. The records are made by hand (tests/peerkit.py) as other gates, forgers
and broken units would send them."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from errors import StoreCorrupt
from verifier import Checkpoint
from verifier import peer_records as peer_module
from verifier.blocks import ZERO_HASH
from verifier.device_key import load_device_key
from verifier.records import record_hash

from .ledgerkit import NOW, LedgerKit, code, device, issue, show, signer, ticket_id
from .peerkit import PeerChain, edited
from .statekit import apply, gate

LATER = NOW + 60  # a minute later: a fresh code, beyond the replay window of NOW's


def venue() -> LedgerKit:
    """One show; "solo" (1 entry), "pair" (2), "trio" (3); gates north-1 (the one under
    test), east-3 and west-4 published, and retired-5 published then revoked."""
    kit = LedgerKit()
    kit.append([show()])
    kit.append([issue("solo"), issue("pair", entries=2), issue("trio", entries=3)])
    kit.append([device("east-3"), device("west-4"), device("retired-5")])
    return kit


@pytest.fixture
def kit() -> LedgerKit:
    return venue()


@pytest.fixture
def north(state_dir: Path, kit: LedgerKit) -> Checkpoint:
    cp = gate(state_dir, kit)
    assert apply(cp, kit).error is None
    yield cp
    cp.close()


def refusals(report) -> list[tuple[str | None, int | None, str]]:
    return [(r.device, r.seq, r.why) for r in report.refused]


# -- counting ---------------------------------------------------------------------------


def test_a_peers_admission_makes_the_ticket_already_used_here(north: Checkpoint) -> None:
    east = PeerChain("east-3")
    east.reject()
    east.admit("solo", at=NOW - 5)
    report = north.accept_peer_records(east.lines, NOW)
    assert (report.accepted, report.again, report.held, report.refused) == (2, 0, 0, [])
    decision = north.admit(code("solo", LATER), LATER)
    assert decision.reason == "already_used"
    assert (decision.first_device, decision.first_at) == ("east-3", NOW - 5)
    assert decision.as_dict()["first_device"] == "east-3"
    assert north.check(code("pair", LATER), LATER).reason == "ok"


def test_a_peers_admission_counts_for_replayed_too(north: Checkpoint) -> None:
    east = PeerChain("east-3")
    east.admit("pair", at=NOW)  # 2 entries: one left, but not for this code again
    north.accept_peer_records(east.lines, NOW)
    assert north.check(code("pair", NOW), NOW + 1).reason == "replayed"
    assert north.check(code("pair", LATER), LATER).reason == "ok"


def test_admissions_of_several_peers_and_this_gate_add_up(north: Checkpoint) -> None:
    east, west = PeerChain("east-3"), PeerChain("west-4")
    east.admit("trio", at=NOW - 30)
    west.admit("trio", at=NOW - 20)
    north.accept_peer_records(east.lines + west.lines, NOW)
    assert north.admit(code("trio", NOW), NOW).reason == "ok"  # the third entry
    decision = north.check(code("trio", LATER), LATER)
    assert (decision.reason, decision.first_device) == ("already_used", "east-3")
    assert north.status()["admissions"] == 3


def test_a_peers_voided_record_frees_the_ticket_again(north: Checkpoint) -> None:
    east = PeerChain("east-3")
    east.admit("solo")
    east.void(1, "solo")
    east.admit("pair")
    east.void(3, "solo")  # names another ticket than admission 3's: cancels nothing
    north.accept_peer_records(east.lines, NOW)
    assert north.check(code("solo", LATER), LATER).reason == "ok"
    assert north.check(code("pair", NOW), NOW).reason == "replayed"


def test_a_void_naming_another_ticket_does_not_stand_in_for_the_right_one(
    north: Checkpoint, kit: LedgerKit
) -> None:
    """Admission 1 is voided first naming the wrong ticket (cancels nothing), then naming
    its own: the second void cancels it, whether both come as a peer's records or as the
    hub's void events (tests/test_properties.py found the first one winning)."""
    east = PeerChain("east-3")
    east.admit("solo")
    east.void(1, "pair")
    east.void(1, "solo")
    west = PeerChain("west-4")
    west.admit("pair")
    north.accept_peer_records(east.lines + west.lines, NOW)
    assert north.check(code("solo", LATER), LATER).reason == "ok"
    redeem = {"op": "redeem", "ticket": ticket_id("trio"), "device": "west-4", "seq": 9}
    kit.append(
        [
            {**redeem, "step": NOW // 15, "at": NOW},
            {"op": "void", "ticket": ticket_id("pair"), "device": "west-4", "seq": 9},
            {"op": "void", "ticket": ticket_id("trio"), "device": "west-4", "seq": 9},
        ]
    )
    assert apply(north, kit).error is None
    assert north.status()["admissions"] == 1  # west-4's "pair"; both others voided


def test_a_void_held_before_its_admission_in_another_form_still_cancels(
    north: Checkpoint, kit: LedgerKit
) -> None:
    """A peer's voided record cancels the admission it names wherever that admission is
    known from: here the hub's redeem event, the admission's own record never held."""
    east = PeerChain("east-3")
    east.admit("solo")
    east.void(1, "solo")
    kit.append(
        [
            {
                "op": "redeem",
                "ticket": ticket_id("solo"),
                "device": "east-3",
                "seq": 1,
                "step": NOW // 15,
                "at": NOW,
            }
        ]
    )
    apply(north, kit)
    assert north.check(code("solo", LATER), LATER).reason == "already_used"
    north.accept_peer_records(east.lines, NOW)
    assert north.check(code("solo", LATER), LATER).reason == "ok"


def test_the_hubs_redeem_of_a_peer_record_held_changes_nothing(
    north: Checkpoint, kit: LedgerKit
) -> None:
    """(device, seq) is the identity of an admission: the hub's redeem event for a peer
    record already held is the same admission, not a second one."""
    east = PeerChain("east-3")
    east.admit("pair", at=NOW - 5)
    north.accept_peer_records(east.lines, NOW)
    before = north.status()["admissions"]
    kit.append(
        [
            {
                "op": "redeem",
                "ticket": ticket_id("pair"),
                "device": "east-3",
                "seq": 1,
                "step": (NOW - 5) // 15,
                "at": NOW - 5,
            }
        ]
    )
    assert apply(north, kit).error is None
    assert north.status()["admissions"] == before == 1
    assert len(north.ledger.admissions(bytes.fromhex(ticket_id("pair").replace("-", "")))) == 1
    assert north.check(code("pair", LATER), LATER).reason == "ok"  # one entry left
    # ... and the ledger's void of it cancels it once.
    kit.append([{"op": "void", "ticket": ticket_id("pair"), "device": "east-3", "seq": 1}])
    apply(north, kit)
    assert north.status()["admissions"] == 0


def test_peer_records_are_never_uploaded_by_this_gate(north: Checkpoint) -> None:
    north.admit(code("solo"), NOW)
    own = list(north.export_records())
    east = PeerChain("east-3")
    east.admit("pair")
    east.admit("trio")
    north.accept_peer_records(east.lines, NOW)
    assert list(north.export_records()) == own
    assert list(north.export_records(since=0)) == own and len(own) == 1
    assert north.status()["records"] == 1
    assert north.admit(code("trio", LATER), LATER).seq == 2  # its own chain goes on


# -- what is refused, and why -----------------------------------------------------------


def test_a_forged_signature_is_refused_and_counts_nothing(north: Checkpoint) -> None:
    forger = PeerChain("east-3", key=signer("thief"))
    forger.admit("solo")
    tampered = PeerChain("east-3")
    tampered.admit("pair")
    report = north.accept_peer_records(
        [forger.lines[0], edited(tampered.lines[0], ticket=ticket_id("solo"))], NOW
    )
    assert report.accepted == 0
    assert [r.why for r in report.refused] == [
        "the signature does not verify under device 'east-3''s key"
    ] * 2
    assert north.check(code("solo", LATER), LATER).reason == "ok"
    assert north.peer_heads() == {}


def test_a_device_not_in_the_ledger_is_refused(north: Checkpoint) -> None:
    ghost = PeerChain("ghost-9")
    ghost.admit("solo")
    report = north.accept_peer_records(ghost.lines, NOW)
    assert refusals(report) == [
        ("ghost-9", 1, "device 'ghost-9' is not in this gate's ledger (no device event names it)")
    ]
    assert north.check(code("solo", LATER), LATER).reason == "ok"


def test_a_revoked_devices_held_records_stay_and_new_ones_are_refused(
    north: Checkpoint, kit: LedgerKit
) -> None:
    retired = PeerChain("retired-5")
    retired.admit("pair", at=NOW - 100)
    assert north.accept_peer_records(retired.lines, NOW).accepted == 1
    kit.append([device("retired-5", active=False)])
    apply(north, kit)
    retired.admit("pair", at=NOW - 50)
    report = north.accept_peer_records(retired.lines, NOW)
    assert (report.accepted, report.again) == (0, 1)  # the held one acknowledged again
    assert refusals(report) == [
        ("retired-5", 2, "device 'retired-5' is not active in this gate's ledger (revoked)")
    ]
    assert north.check(code("pair", LATER), LATER).reason == "ok"  # one admission counts
    assert north.status()["admissions"] == 1


def test_a_gap_is_held_aside_uncounted_until_it_is_filled(north: Checkpoint) -> None:
    east = PeerChain("east-3")
    east.admit("solo")
    east.admit("pair")
    east.admit("trio")
    report = north.accept_peer_records(east.lines[1:], NOW)
    assert (report.accepted, report.held, report.refused, report.gaps) == (0, 2, [], {"east-3": 0})
    assert report.reply() == {"accepted": 0, "held": 2, "refused": []}
    assert north.check(code("pair", NOW), NOW).reason == "ok"  # aside: not counted
    assert north.peer_heads() == {} and north.peer_records("east-3", 0) == []
    again = north.accept_peer_records(east.lines[2:], NOW)  # re-delivered: still aside
    assert (again.held, again.gaps) == (1, {"east-3": 0})
    filled = north.accept_peer_records(east.lines[:1], NOW)
    assert (filled.accepted, filled.promoted, filled.held, filled.gaps) == (1, 2, 0, {})
    assert north.check(code("pair", NOW), NOW).reason == "replayed"
    assert north.peer_heads()["east-3"][0] == 3
    assert north.peer_records("east-3", 0) == east.lines


def test_a_batch_in_any_order_is_taken_whole(north: Checkpoint) -> None:
    east, west = PeerChain("east-3"), PeerChain("west-4")
    for i in range(3):
        east.admit("trio", at=NOW + i)
        west.reject(at=NOW + i)
    mixed = [east.lines[2], west.lines[1], east.lines[0], west.lines[2], east.lines[1]]
    mixed.append(west.lines[0])
    report = north.accept_peer_records(mixed, NOW)
    assert (report.accepted, report.held, report.refused) == (6, 0, [])


def test_a_record_far_past_a_gap_is_refused(
    north: Checkpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peer_module, "WAITING_WINDOW", 2)
    east = PeerChain("east-3")
    for _ in range(4):
        east.reject()
    report = north.accept_peer_records([east.lines[1], east.lines[3]], NOW)
    assert report.held == 1
    assert refusals(report) == [
        (
            "east-3",
            4,
            "seq 4 is more than 2 past seq 0, the last held for this device: its records "
            "after that come first",
        )
    ]


def test_a_fork_is_refused_kept_as_evidence_and_reported_once(north: Checkpoint) -> None:
    east = PeerChain("east-3")
    east.admit("solo")
    clone = PeerChain("east-3")  # the same key in another unit: its own seq 1
    clone.admit("pair")
    assert north.accept_peer_records(east.lines, NOW).accepted == 1
    report = north.accept_peer_records(clone.lines, NOW)
    assert report.accepted == 0 and len(report.refused) == 1
    assert report.refused[0].why.startswith("fork: device 'east-3' seq 1: held ")
    [fork] = report.forks
    assert (fork.device, fork.seq, fork.evidence_seq) == ("east-3", 1, 1)
    assert (fork.held, fork.other) == (record_hash(json.loads(east.lines[0])).hex(), clone.prev)
    assert north.peer_forks() == [fork]
    assert north.check(code("pair", NOW), NOW).reason == "ok"  # the fork counts nothing
    again = north.accept_peer_records(clone.lines, NOW)
    assert again.forks == [] and len(again.refused) == 1  # known: refused, not new
    east.reject()
    assert north.accept_peer_records(east.lines[1:], NOW).accepted == 1  # ours goes on


def test_a_prev_that_is_not_the_held_hash_is_a_fork_of_the_seq_before(
    north: Checkpoint,
) -> None:
    east = PeerChain("east-3")
    east.admit("solo")
    clone = PeerChain("east-3")
    clone.admit("pair")
    clone.admit("trio")  # seq 2 of the other branch: prev is the other seq 1
    north.accept_peer_records(east.lines, NOW)
    report = north.accept_peer_records(clone.lines[1:], NOW)
    [fork] = report.forks
    assert (fork.seq, fork.evidence_seq, fork.other) == (1, 2, json.loads(clone.lines[1])["prev"])
    assert north.check(code("trio", NOW), NOW).reason == "ok"


def test_a_fork_behind_a_gap_is_found_when_the_gap_fills(north: Checkpoint) -> None:
    east, clone = PeerChain("east-3"), PeerChain("east-3")
    east.admit("solo")
    east.admit("pair")
    clone.admit("trio")
    clone.admit("trio", at=NOW + 30)
    assert north.accept_peer_records(clone.lines[1:], NOW).held == 1  # clone's seq 2
    report = north.accept_peer_records(east.lines[:1], NOW)
    assert (report.accepted, report.promoted) == (1, 0)
    [fork] = report.forks
    assert (fork.seq, fork.evidence_seq) == (1, 2)
    assert north.accept_peer_records(east.lines[1:], NOW).accepted == 1


def test_a_broken_chain_start_is_refused(north: Checkpoint) -> None:
    east = PeerChain("east-3")
    east.add(result="rejected", reason="not_a_ticket", prev="1" * 64)
    report = north.accept_peer_records(east.lines, NOW)
    assert refusals(report) == [
        ("east-3", 1, "seq 1 does not follow 64 zeros: not the start of a chain")
    ]
    assert report.forks == []


@pytest.mark.parametrize(
    ("line", "device", "seq", "why"),
    [
        ("not json", None, None, "not a record: not valid JSON"),
        ('{"v":1}', None, None, "not a record: it must have exactly the fields"),
        ("[1, 2]", None, None, "not a record: it must have exactly the fields"),
        ("x" * (70 * 1024), None, None, "longer than 65536 bytes"),
    ],
)
def test_unreadable_lines_are_refused(
    north: Checkpoint, line: str, device: str | None, seq: int | None, why: str
) -> None:
    [(d, s, w)] = refusals(north.accept_peer_records([line], NOW))
    assert (d, s) == (device, seq) and w.startswith(why)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"at": 1.5}, "not a record: number 1.5 is not an integer"),
        ({"seq": 0}, "field 'seq' must be an integer >= 1"),
        ({"ticket": "SOLO"}, "field 'ticket' must be null or a canonical lowercase UUID"),
        ({"step": True}, "field 'step' must be null or a 32-bit step"),
        ({"result": "maybe"}, "field 'result' must be a known result"),
        ({"ref": [1]}, "field 'ref' must be null or >= 1"),
        ({"sig": "AB" * 64}, "field 'sig' must be 128 lowercase hex"),
        ({"device": ""}, "field 'device' must be non-empty text"),
    ],
)
def test_records_of_the_wrong_shape_are_refused(north: Checkpoint, change: dict, why: str) -> None:
    east = PeerChain("east-3")
    line = east.admit("solo")
    record = json.loads(line)
    record.update(change)
    text = json.dumps(record)
    [(_, _, refused)] = refusals(north.accept_peer_records([text], NOW))
    assert refused.startswith(why)
    assert north.check(code("solo", LATER), LATER).reason == "ok"


def test_redelivery_is_idempotent(north: Checkpoint) -> None:
    east = PeerChain("east-3")
    east.admit("pair")
    east.void(1, "pair")
    east.admit("solo")
    first = north.accept_peer_records(east.lines, NOW)
    status = north.status()
    respelled = [json.dumps(json.loads(line), indent=1) for line in east.lines]  # any spelling
    again = north.accept_peer_records(respelled + east.lines, NOW + 5)
    assert (first.accepted, again.accepted, again.again, again.refused) == (3, 0, 6, [])
    assert again.reply() == {"accepted": 6, "held": 0, "refused": []}
    assert north.status() == status
    assert north.peer_records("east-3", 0) == east.lines  # held in canonical form


# -- this gate's own records, relayed back ----------------------------------------------


def test_own_records_relayed_back_are_acknowledged_and_a_clone_is_a_fork(
    north: Checkpoint, state_dir: Path
) -> None:
    north.admit(code("solo"), NOW)
    north.admit(code("pair"), NOW)
    own = list(north.export_records())
    report = north.accept_peer_records(own, NOW)
    assert (report.accepted, report.again, report.refused) == (0, 2, [])
    # A record signed with this gate's key that it never wrote: another unit has it.
    clone = PeerChain("north-1", key=load_device_key(state_dir))
    clone.admit("trio")  # its seq 1, another hash
    clone.admit("trio", at=NOW + 30)
    clone.admit("trio", at=NOW + 60)  # seq 3: beyond this gate's log
    report = north.accept_peer_records(clone.lines, NOW)
    assert report.accepted == 0 and len(report.refused) == 3
    assert [(f.seq, f.held is None) for f in report.forks] == [(1, False), (2, False), (3, True)]
    assert north.check(code("trio", NOW), NOW).reason == "ok"
    # Not this gate's key at all: a plain forgery.
    forger = PeerChain("north-1")
    forger.admit("trio")
    assert [r.why for r in north.accept_peer_records(forger.lines, NOW).refused] == [
        "the signature does not verify under this gate's key"
    ]
    assert list(north.export_records()) == own


# -- what the peer service reads --------------------------------------------------------


def test_heads_and_records_for_the_peer_service(north: Checkpoint) -> None:
    assert north.peer_heads() == {}
    north.admit(code("solo"), NOW)
    east = PeerChain("east-3")
    for i in range(5):
        east.reject(at=NOW + i)
    north.accept_peer_records(east.lines, NOW)
    heads = north.peer_heads()
    assert heads == {
        "east-3": (5, east.prev),
        "north-1": north.log.last_record(),
    }
    assert north.peer_records("east-3", 2) == east.lines[2:]
    assert north.peer_records("east-3", 0, limit=2) == east.lines[:2]
    assert north.peer_records("east-3", 0, limit=10**6) == east.lines  # capped at 1,000
    assert north.peer_records("north-1", 0) == list(north.export_records())
    assert north.peer_records("nobody", 0) == []
    assert north.peer_records("east-3", 5) == []
    assert heads["east-3"][1] != ZERO_HASH


# -- the file ---------------------------------------------------------------------------


def test_the_lane_never_waits_for_a_peer_write_nor_a_peer_write_for_the_lane(
    state_dir: Path, kit: LedgerKit
) -> None:
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
    east = PeerChain("east-3")
    east.admit("pair")
    for locked, action in (
        ("peers.db", lambda cp: cp.admit(code("solo"), NOW).reason),
        ("records.db", lambda cp: cp.accept_peer_records(east.lines, NOW).accepted),
    ):
        holder = sqlite3.connect(state_dir / locked, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the other writer, mid-transaction
        holder.execute("UPDATE meta SET value = value WHERE 0")
        done: list[object] = []

        def run(action=action, done=done) -> None:
            with gate(state_dir, kit) as cp:
                done.append(action(cp))

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(timeout=10)
        holder.execute("ROLLBACK")
        holder.close()
        assert done in (["ok"], [1]), f"waited for {locked}'s write lock"


def test_a_lost_peers_db_is_made_anew_and_learned_again(state_dir: Path, kit: LedgerKit) -> None:
    east = PeerChain("east-3")
    east.admit("solo")
    with gate(state_dir, kit) as cp:
        apply(cp, kit)
        cp.accept_peer_records(east.lines, NOW)
    for name in ("peers.db", "peers.db-wal", "peers.db-shm"):
        (state_dir / name).unlink(missing_ok=True)
    with gate(state_dir, kit) as cp:
        assert cp.check(code("solo", LATER), LATER).reason == "ok"
        assert cp.accept_peer_records(east.lines, NOW).accepted == 1
        assert cp.check(code("solo", LATER), LATER).reason == "already_used"
    assert (state_dir / "peers.db").stat().st_mode & 0o777 == 0o600


def test_a_damaged_peers_db_is_refused_with_what_to_do(state_dir: Path, kit: LedgerKit) -> None:
    with gate(state_dir, kit):
        pass
    db = state_dir / "peers.db"
    db.write_bytes(b"garbage garbage!" + db.read_bytes()[16:])
    with pytest.raises(StoreCorrupt, match=r"peers\.db is damaged.*learns its peers' records"):
        gate(state_dir, kit)


def test_voids_keyed_without_their_ticket_are_migrated(state_dir: Path, kit: LedgerKit) -> None:
    """ledger.db of schema 4 and peers.db of schema 3 keyed voids by (device, seq) alone:
    opened, both tables are keyed by ticket too, with every row kept."""
    east = PeerChain("east-3")
    east.admit("solo")
    east.void(1, "solo")
    with gate(state_dir, kit) as cp:
        assert apply(cp, kit).error is None
        cp.accept_peer_records(east.lines, NOW)
    for name, table, version, columns in (
        ("ledger.db", "voids", 4, "device, seq, ticket, origin"),
        ("peers.db", "peer_voids", 3, "device, seq, ticket"),
    ):
        db = sqlite3.connect(state_dir / name, isolation_level=None)
        db.execute("BEGIN")
        db.execute(f"CREATE TABLE old AS SELECT {columns} FROM {table}")
        db.execute(f"DROP TABLE {table}")
        origin = ", origin TEXT NOT NULL" if "origin" in columns else ""
        db.execute(
            f"CREATE TABLE {table} (device TEXT NOT NULL, seq INTEGER NOT NULL, "
            f"ticket BLOB NOT NULL{origin}, PRIMARY KEY (device, seq)) WITHOUT ROWID"
        )
        db.execute(f"INSERT INTO {table} SELECT * FROM old")
        if table == "voids":
            db.execute("INSERT INTO voids VALUES ('west-4', 9, ?, 'ledger')", (b"\x01" * 16,))
        db.execute("DROP TABLE old")
        db.execute(f"PRAGMA user_version={version}")
        db.execute("COMMIT")
        db.close()
    with gate(state_dir, kit) as cp:
        assert cp.check(code("solo", LATER), LATER).reason == "ok"
    for name, table, version in (("ledger.db", "voids", 5), ("peers.db", "peer_voids", 4)):
        db = sqlite3.connect(state_dir / name)
        assert db.execute("PRAGMA user_version").fetchone()[0] == version
        key = sorted((r[5], r[1]) for r in db.execute(f"PRAGMA table_info({table})") if r[5])
        assert [column for _, column in key] == ["device", "seq", "ticket"], name
        rows = db.execute(f"SELECT device, seq FROM {table} ORDER BY device").fetchall()
        assert rows == ([("east-3", 1)] if table == "peer_voids" else [("west-4", 9)])
        db.close()
