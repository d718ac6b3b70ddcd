"""A clock that cannot be trusted: the time floor and the ``clock_behind`` refusal.

A gate's clock set behind the newest time it can prove (here: an hour behind a block the
hub signed) must not let an hour-old screenshot in; at the floor, or within the
tolerance below it, the gate decides as before; the refusal is a record like any other,
which verifies and which the hub takes.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub import Authority, Intake
from verifier import (
    Admission,
    Checkpoint,
    Policy,
    TicketInfo,
    TimeFloor,
    clock_state,
    decide,
    encode_token,
    verify_records,
)
from verifier import reasons as r
from verifier.blocks import read_blocks
from verifier.reasons import CHECK_ORDER
from verifier.time_floor import (
    CLOCK_TOLERANCE_S,
    NO_FLOOR,
    RunningFloor,
    highest,
    is_behind,
)

from .ledgerkit import NOW, code, issue, show, signer, simple_ledger, ticket_id

POLICY = Policy(events=frozenset({"show"}))
HOUR = 3600


def gate_an_hour_behind(state_dir: Path, *, device: str = "north-1", key=None) -> Checkpoint:
    """A gate holding a ledger whose newest block (a heartbeat) is at NOW + 1 h, so a
    clock reading NOW is an hour behind what the gate can prove."""
    kit = simple_ledger(3)
    kit.append([], time=NOW + HOUR)
    cp = Checkpoint(state_dir, device=device, ledger_key=kit.key, policy=POLICY)
    assert cp.apply_lines(read_blocks(kit.lines())).error is None
    return cp


# -- the floor's sources ---------------------------------------------------------------


def test_an_empty_gate_proves_no_time(state_dir: Path) -> None:
    with Checkpoint(state_dir, device="north-1", ledger_key=b"\1" * 32, policy=POLICY) as cp:
        assert cp.time_floor() == NO_FLOOR
        assert cp.check(code("t0"), 0).reason == "unknown_ticket"  # no floor, no refusal


def test_the_newest_block_time_is_a_floor(state_dir: Path) -> None:
    with gate_an_hour_behind(state_dir) as cp:
        assert cp.time_floor() == TimeFloor(NOW + HOUR, "block 2")


def test_an_admission_proves_the_lower_of_the_gate_and_wallet_clocks(state_dir: Path) -> None:
    kit = simple_ledger(4)
    with Checkpoint(state_dir, device="north-1", ledger_key=kit.key, policy=POLICY) as cp:
        cp.apply_lines(read_blocks(kit.lines()))
        block = cp.time_floor()
        assert block.source == "block 1"
        later = NOW + 600
        assert cp.admit(code("t0", later), later).admitted
        assert cp.time_floor() == TimeFloor(later // 15 * 15, "admission record 1")
        # A phone one step ahead is still admitted; its code proves no more than the gate's
        # clock does.
        ahead = cp.admit(code("t1", later + 15), later + 5)
        assert ahead.admitted and cp.time_floor() == TimeFloor(later + 5, "admission record 2")
        # Refusals and a steward's override carry the gate's clock alone: no proof.
        cp.admit("junk", NOW + 5000)
        cp.override(NOW + 5000, "pram", ticket=ticket_id("t2"))
        cp.admit(code("t3", NOW + 9000), NOW + 9000 + 300)  # expired: the gate ahead
        assert cp.time_floor() == TimeFloor(later + 5, "admission record 2")


def test_the_ticket_lookup_reads_the_same_floor_and_count(state_dir: Path) -> None:
    """The decision reads the state's floor and the admissions count with the ticket, in
    one statement: the same as time_floor() and admissions() say, source words and all."""
    kit = simple_ledger(4)
    with Checkpoint(state_dir, device="north-1", ledger_key=kit.key, policy=POLICY) as cp:
        cp.apply_lines(read_blocks(kit.lines()))
        t0 = bytes.fromhex(ticket_id("t0").replace("-", ""))

        def same() -> None:
            info = cp.ledger.ticket(t0)
            assert info is not None
            assert info.floor == highest(
                cp.ledger.time_floor(), cp.log.time_floor(), cp.peers.time_floor()
            )
            assert info.floor == cp.time_floor()
            assert info.counted == len(cp.ledger.admissions(t0))

        same()  # the block's floor, nothing counted
        assert cp.admit(code("t0", NOW + 600), NOW + 600).admitted
        same()  # this gate's admission proves more than the block
        cp.void(1, NOW + 700)
        same()  # voided: counts no more, still proves the time
        assert cp.admit(code("t0", NOW + 900), NOW + 900).admitted
        same()


def test_the_highest_source_wins_and_the_caller_may_add_one() -> None:
    block, own = TimeFloor(100, "block 3"), TimeFloor(160, "admission record 9")
    assert highest(block, own, None, NO_FLOOR) == own
    assert highest(block, TimeFloor(100, "later tie")) == block
    assert highest() == NO_FLOOR
    running = TimeFloor(500, "block 3 + 400 s running")
    assert highest(block, own, running) == running


def test_records_db_version_1_gains_the_index(state_dir: Path) -> None:
    kit = simple_ledger(1)
    with Checkpoint(state_dir, device="north-1", ledger_key=kit.key, policy=POLICY) as cp:
        cp.apply_lines(read_blocks(kit.lines()))
        assert cp.admit(code("t0"), NOW).admitted
    db = sqlite3.connect(state_dir / "records.db")
    db.execute("DROP INDEX local_admissions_by_time")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    with Checkpoint(state_dir, device="north-1", ledger_key=kit.key, policy=POLICY) as cp:
        assert cp.time_floor() == TimeFloor(NOW // 15 * 15, "admission record 1")
        plan = cp.files.conn.execute(
            "EXPLAIN QUERY PLAN SELECT seq, min(at, step * 15) FROM rec.local_admissions "
            "WHERE step IS NOT NULL ORDER BY min(at, step * 15) DESC LIMIT 1"
        ).fetchall()
        assert "local_admissions_by_time" in str(plan)
    db = sqlite3.connect(state_dir / "records.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    db.close()


# -- the running floor -----------------------------------------------------------------


class BootClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_running_floor_moves_on_with_the_boot_clock() -> None:
    boot = BootClock()
    running = RunningFloor(boot)
    assert running.current() == NO_FLOOR
    running.witness(TimeFloor(NOW, "block 7"))
    assert running.current() == TimeFloor(NOW, "block 7")
    boot.now += 90.7
    assert running.current() == TimeFloor(NOW + 90, "block 7 + 90 s running")
    running.witness(TimeFloor(NOW + 30, "admission record 4"))  # older than what is held
    assert running.current().at == NOW + 90
    running.witness(TimeFloor(NOW + 200, "block 8"))  # newer: a new anchor
    assert running.current() == TimeFloor(NOW + 200, "block 8")
    running.witness(NO_FLOOR)
    assert running.current() == TimeFloor(NOW + 200, "block 8")


# -- the decision ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "behind"),
    [(HOUR, False), (0, False), (-CLOCK_TOLERANCE_S, False), (-CLOCK_TOLERANCE_S - 1, True)],
)
def test_at_the_floor_or_within_the_tolerance_below_it_the_clock_is_fine(
    offset: int, behind: bool
) -> None:
    floor = TimeFloor(NOW, "block 3")
    assert is_behind(NOW + offset, NOW) is behind
    state = clock_state(NOW + offset, floor)
    assert state.behind is behind and state.state == ("behind" if behind else "ok")
    assert state.behind_s == max(0, -offset)
    assert ("refused as clock_behind" in state.words()) is behind
    assert ("within the 30 s allowed" in state.words()) is (offset == -CLOCK_TOLERANCE_S)
    assert "block 3" in state.words()


def test_the_tolerance_is_two_steps() -> None:
    assert CLOCK_TOLERANCE_S == 30 == POLICY.clock_tolerance


def test_an_old_screenshot_on_a_clock_an_hour_behind_is_not_admitted(state_dir: Path) -> None:
    """The acceptance: the clock reads NOW, but the gate holds a block from NOW + 1 h. A
    screenshot taken at NOW (an hour old in truth) looks fresh to that clock."""
    screenshot = code("t0", NOW)
    with gate_an_hour_behind(state_dir) as cp:
        refused = cp.admit(screenshot, NOW)
        assert (refused.result, refused.reason) == ("rejected", "clock_behind")
        assert (refused.ticket, refused.step, refused.label) == (ticket_id("t0"), NOW // 15, "GA")
        assert (refused.floor, refused.floor_source) == (NOW + HOUR, "block 2")
        assert refused.as_dict()["floor"] == NOW + HOUR
        assert cp.check(screenshot, NOW).reason == "clock_behind"  # a dry check says the same
        # The clock is set right: the screenshot is what it is, and a live code works.
        assert cp.admit(screenshot, NOW + HOUR).reason == "expired_code"
        assert cp.admit(code("t0", NOW + HOUR), NOW + HOUR).admitted
        # Slightly behind again, within the tolerance: still deciding.
        assert cp.admit(code("t1", NOW + HOUR - 30), NOW + HOUR - 30).admitted


def test_a_floor_the_caller_holds_counts_too(state_dir: Path) -> None:
    """The lane's running floor: the state proves NOW + 1 h, the caller NOW + 2 h."""
    with gate_an_hour_behind(state_dir) as cp:
        running = TimeFloor(NOW + 2 * HOUR, "block 2 + 3600 s running")
        live = NOW + HOUR + 60
        assert cp.check(code("t0", live), live).admitted
        d = cp.admit(code("t0", live), live, floor=running)
        assert (d.reason, d.floor_source) == ("clock_behind", "block 2 + 3600 s running")


def test_the_checks_that_need_no_clock_still_answer_first(state_dir: Path) -> None:
    """clock_behind sits after check 9: a forged code is still called forged, a foreign
    QR code still not a ticket; an old code is clock_behind, since 'old' needs the
    clock."""
    with gate_an_hour_behind(state_dir) as cp:
        assert cp.check("https://example.com", NOW).reason == "not_a_ticket"
        assert cp.check(code("t0", NOW, holder="mallory"), NOW).reason == "bad_signature"
        assert cp.check(code("nobody", NOW), NOW).reason == "unknown_ticket"
        assert cp.check(code("t0", NOW - HOUR), NOW).reason == "clock_behind"


def test_the_shared_vectors_never_trip_the_floor(vector_gate: Checkpoint) -> None:
    """The vectors' blocks are at or before 1789999980 and every step's now is 1790000010:
    the floor is below every now (tests/test_vectors.py runs them; this says why)."""
    from .conftest import VECTOR_SCENARIO
    from .ledgerkit import VECTORS

    with open(VECTORS / "ledger.jsonl", "rb") as f:
        vector_gate.apply_lines(read_blocks(f))
    floor = vector_gate.time_floor()
    assert floor.at is not None
    assert all(not is_behind(s["now"], floor.at) for s in VECTOR_SCENARIO["steps"])
    assert all(s["now"] >= floor.at for s in VECTOR_SCENARIO["steps"])


HOLDER = signer("prop-holder")
TICKET = ticket_id("prop")


class OneTicket:
    def __init__(self, info: TicketInfo | None) -> None:
        self.info = info

    def ticket(self, ticket: bytes) -> TicketInfo | None:
        return self.info if ticket == uuid.UUID(TICKET).bytes else None

    def previous_holders(self, ticket: bytes) -> list[bytes]:
        return [signer("prop-old").public_key]

    def admissions(self, ticket: bytes) -> list[Admission]:
        return []


@settings(max_examples=200)
@given(
    st.sampled_from([None, r.NOT_A_TICKET, r.MALFORMED, r.UNSUPPORTED]),
    st.booleans(),
    st.sampled_from([None, r.TRANSFERRED, r.BAD_SIGNATURE]),
    st.frozensets(st.sampled_from([r.REVOKED, r.WRONG_EVENT, r.WRONG_ZONE, r.TOO_EARLY])),
    st.sampled_from([None, r.EXPIRED_CODE, r.FUTURE_CODE]),
)
def test_clock_behind_comes_after_check_9_and_before_check_10(
    shape: str | None, unknown: bool, signature: str | None, flags: frozenset[str], step: str | None
) -> None:
    key = {None: HOLDER, r.TRANSFERRED: signer("prop-old"), r.BAD_SIGNATURE: signer("x")}
    now_step = NOW // 15
    token_step = {None: now_step, r.EXPIRED_CODE: now_step - 3, r.FUTURE_CODE: now_step + 2}
    text = encode_token(
        key[signature], TICKET, token_step[step], version=2 if shape == r.UNSUPPORTED else 1
    )
    if shape == r.NOT_A_TICKET:
        text = "GH2" + text[3:]
    elif shape == r.MALFORMED:
        text = text[:-1]
    info = TicketInfo(
        event="other" if r.WRONG_EVENT in flags else "show",
        holder=HOLDER.public_key,
        valid_from=NOW + 100 if r.TOO_EARLY in flags else NOW - 3600,
        until=NOW + 3600,
        zones=("south",) if r.WRONG_ZONE in flags else (),
        entries=1,
        label="GA",
        revoked="refund" if r.REVOKED in flags else None,
    )
    policy = Policy(events=frozenset({"show"}), zone="north")
    decision = decide(
        text, NOW, OneTicket(None if unknown else info), policy, TimeFloor(NOW + 31, "b")
    )
    faults = {shape, signature, step, *flags} - {None}
    if unknown:
        faults.add(r.UNKNOWN_TICKET)
    before_the_clock = [
        f for f in faults if CHECK_ORDER.index(f) < CHECK_ORDER.index(r.EXPIRED_CODE)
    ]
    expected = min(before_the_clock, key=CHECK_ORDER.index) if before_the_clock else r.CLOCK_BEHIND
    assert decision.reason == expected


# -- the records ------------------------------------------------------------------------


def test_clock_behind_records_verify_and_the_hub_takes_them(tmp_path: Path) -> None:
    (tmp_path / "hub").mkdir()
    with Authority(tmp_path / "hub") as hub:
        hub.append([show()], NOW - 600)
        hub.append([issue("t0")], NOW - 500)
        hub.heartbeat(NOW + HOUR)  # the hub's newest word: an hour after the gate's clock
        state = tmp_path / "north-1"
        state.mkdir(mode=0o700)
        with Checkpoint(state, device="north-1", ledger_key=hub.public_key, policy=POLICY) as cp:
            assert cp.apply_lines(read_blocks(list(hub.blocks_since(-1)))).error is None
            refused = cp.admit(code("t0", NOW), NOW)
            assert refused.reason == "clock_behind" and refused.seq == 1
            lines = list(cp.export_records())
            record = json.loads(lines[0])
            assert (record["result"], record["reason"], record["at"]) == (
                "rejected",
                "clock_behind",
                NOW,  # what the clock said: the record tells the truth about the gate
            )
            assert (record["ticket"], record["step"]) == (ticket_id("t0"), NOW // 15)
            assert verify_records(lines, cp.public_key, device="north-1") == 1
            intake = Intake(hub.db)
            intake.register("north-1", cp.public_key, NOW + HOUR)
            taken = intake.accept("north-1", lines, NOW + HOUR)
            assert (taken.accepted, taken.acked, taken.error) == (1, 1, None)
        held = hub.db.execute("SELECT body FROM records WHERE device = 'north-1'").fetchall()
        assert [json.loads(b)["reason"] for (b,) in held] == ["clock_behind"]
        assert hub.db.execute("SELECT count(*) FROM pending").fetchone()[0] == 0  # no redeem


def test_a_peers_admission_is_a_floor_too(state_dir: Path) -> None:
    """What an enrolled peer admitted proves time as this gate's own admissions do (its
    clock and a wallet agreeing: the lower of the two); the ticket lookup reads the same
    floor; and a clock behind it refuses a screenshot older than the peer's admission."""
    from .ledgerkit import device
    from .peerkit import PeerChain

    kit = simple_ledger(3)
    kit.append([device("east-3")])
    later = NOW + HOUR
    with Checkpoint(state_dir, device="north-1", ledger_key=kit.key, policy=POLICY) as cp:
        cp.apply_lines(read_blocks(kit.lines()))
        block = cp.time_floor()
        east = PeerChain("east-3")
        east.reject(at=later + 600)  # a refusal is one clock: it proves nothing
        east.admit("t1", at=later, step=later // 15 + 1)  # its clock a step behind the wallet
        assert cp.accept_peer_records(east.lines, later).accepted == 2
        assert block.at is not None and block.at < later
        assert cp.time_floor() == TimeFloor(later, "east-3's admission record 2")
        info = cp.ledger.ticket(bytes.fromhex(ticket_id("t0").replace("-", "")))
        assert info is not None and info.floor == cp.time_floor()
        assert cp.check(code("t0", later - 600), later - 600).reason == "clock_behind"
        assert cp.check(code("t0", later), later).admitted
        plan = cp.files.conn.execute(
            "EXPLAIN QUERY PLAN SELECT device, seq, min(at, step * 15) FROM "
            "peer.peer_admissions WHERE step IS NOT NULL ORDER BY min(at, step * 15) DESC "
            "LIMIT 1"
        ).fetchall()
        assert "peer_admissions_by_time" in str(plan)
