"""The staged build (verifier.ticket_stage) against the per-block path it replaces on a
first sync: the same stored state, table by table, the same head, the same decisions,
and the same refusals at the same block, leaving the same prefix applied."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from errors import BlockRejected
from verifier import Checkpoint, parse_block
from verifier.blocks import read_blocks
from verifier.ticket_stage import TicketStage

from .clikit import ROOT
from .clikit import gate as gate_cli
from .ledgerkit import NOW, LedgerKit, code, device, issue, show, signer, ticket_id, write_config
from .statekit import gate

HOLDERS = ("bob", "carol")


def transfer(name: str, holder: str) -> dict[str, Any]:
    return {"op": "transfer", "ticket": ticket_id(name), "holder": signer(holder).public_key.hex()}


def revoke(name: str, reason: str = "refund") -> dict[str, Any]:
    return {"op": "revoke", "ticket": ticket_id(name), "reason": reason}


def redeem(name: str, dev: str, seq: int, step: int | None = NOW // 15 - 4) -> dict[str, Any]:
    return {
        "op": "redeem",
        "ticket": ticket_id(name),
        "device": dev,
        "seq": seq,
        "step": step,
        "at": NOW - 60,
    }


def void(name: str, dev: str, seq: int) -> dict[str, Any]:
    return {"op": "void", "ticket": ticket_id(name), "device": dev, "seq": seq}


def busy_ledger() -> tuple[LedgerKit, list[str]]:
    """A sale with every op, mixed within blocks and across them: transfers of tickets
    issued in the same block, an earlier block and a later sync; revokes, redeems and
    voids; devices enrolled and revoked; a show redefined; labels and zones that vary."""
    kit = LedgerKit()
    names: list[str] = []

    def issued(prefix: str, n: int, **kw: Any) -> list[dict[str, Any]]:
        batch = [f"{prefix}{i}" for i in range(n)]
        names.extend(batch)
        return [
            issue(t, label=f"Guest {i % 7}", zones=["floor"] if i % 3 == 0 else None, **kw)
            for i, t in enumerate(batch)
        ]

    kit.append([show(), show("late-show")])
    kit.append([*issued("a", 40), transfer("a1", "bob"), transfer("a1", "carol")])
    kit.append([device("south-2"), *issued("b", 30, entries=2), revoke("a2")])
    kit.append([transfer("b3", "bob"), redeem("a4", "south-2", 1), redeem("b5", "south-2", 2)])
    kit.append([])  # a heartbeat
    kit.append([void("a4", "south-2", 1), show(name="Renamed"), *issued("c", 25)])
    kit.append([revoke("c1", "fraud"), device("south-2", active=False), transfer("c2", "bob")])
    kit.append([*issued("d", 20, event="late-show"), redeem("d0", "north-1", 9)])
    kit.append([transfer("a5", "bob"), transfer("d1", "carol"), revoke("d1")])
    kit.append([*issued("e", 15), transfer("e0", "bob"), redeem("e0", "south-2", 3, None)])
    return kit, names


def dump(cp: Checkpoint) -> dict[str, Any]:
    """Every table of ledger.db in a fixed order, and the schema itself."""
    conn = cp.files.conn
    schema = conn.execute(
        "SELECT type, name, sql FROM main.sqlite_master ORDER BY type, name"
    ).fetchall()
    tables: dict[str, Any] = {"schema": schema}
    for (name,) in conn.execute(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' ORDER BY name"
    ):
        columns = [r[1] for r in conn.execute(f"PRAGMA main.table_info({name})")]
        order = ", ".join(columns)
        tables[name] = conn.execute(f"SELECT * FROM main.{name} ORDER BY {order}").fetchall()
    tables["head"] = cp.ledger.head()
    tables["status"] = cp.ledger.status()
    return tables


def decisions(cp: Checkpoint, names: list[str]) -> list[tuple[str, str, str | None]]:
    """What the gate decides for every ticket under its first and later holders."""
    out = []
    for name in [*names, "never-issued"]:
        for holder in (None, *HOLDERS):
            d = cp.check(code(name, holder=holder), NOW)
            out.append((d.result, d.reason, d.first_device))
    return out


def per_block(cp: Checkpoint, lines: list[str]) -> BlockRejected | None:
    """The reference: each block in a transaction of its own, no stage."""
    for line in lines:
        try:
            cp.ledger.apply_block(parse_block(line))
        except BlockRejected as exc:
            return exc
    return None


def staged(cp: Checkpoint, lines: list[str], *, segment: int) -> BlockRejected | None:
    """One stage across all ``lines``, flushed every ``segment`` tickets."""
    with TicketStage(cp.files.conn, segment=segment) as stage:
        for line in lines:
            try:
                cp.ledger.apply_block(parse_block(line), stage)
            except BlockRejected as exc:
                return exc
    return None


def fresh(tmp_path: Path, name: str, kit: LedgerKit) -> Checkpoint:
    d = tmp_path / name
    d.mkdir(mode=0o700)
    return gate(d, kit)


@pytest.mark.parametrize("segment", [1_000_000, 7, 1])
def test_one_stage_stores_what_the_per_block_path_stores(tmp_path: Path, segment: int) -> None:
    kit, names = busy_ledger()
    lines = kit.lines()
    with fresh(tmp_path, "ref", kit) as ref, fresh(tmp_path, "staged", kit) as cp:
        assert per_block(ref, lines) is None
        assert staged(cp, lines, segment=segment) is None
        assert dump(cp) == dump(ref)
        assert decisions(cp, names) == decisions(ref, names)
        a1 = bytes.fromhex(ticket_id("a1").replace("-", ""))
        assert set(cp.ledger.previous_holders(a1)) == {
            signer("a1").public_key,
            signer("bob").public_key,
        }


def test_several_syncs_first_large_then_incremental(tmp_path: Path) -> None:
    """apply_lines (a stage per call) on a first sync, then on small later ones, and a
    pull-like stage shared by several calls: the per-block path's state after each."""
    kit, names = busy_ledger()
    lines = kit.lines()
    cuts = [(0, 6), (6, 7), (7, 9), (9, len(lines))]
    with fresh(tmp_path, "ref", kit) as ref, fresh(tmp_path, "staged", kit) as cp:
        for first, end in cuts:
            assert per_block(ref, lines[first:end]) is None
            if end - first > 1:
                with cp.staging():  # as HubClient.pull: one stage over two pages
                    middle = (first + end) // 2
                    assert cp.apply_lines(read_blocks(lines[first:middle])).error is None
                    assert cp.apply_lines(read_blocks(lines[middle:end])).error is None
            else:
                report = cp.apply_lines(read_blocks(lines[first:end]))
                assert report.error is None and report.applied == 1
            assert dump(cp) == dump(ref)
            assert decisions(cp, names) == decisions(ref, names)


def bad_blocks() -> dict[str, tuple[dict[str, Any] | str, str]]:
    """Block 6 of the busy ledger replaced by a bad one: what, and what its error says."""
    return {
        "transfer of an unknown ticket": (
            {"events": [issue("x0"), transfer("nobody", "bob")]},
            "event 1 (transfer): ticket " + ticket_id("nobody") + " does not exist",
        ),
        "issue of a ticket staged before": (
            {"events": [issue("x0"), issue("c3")]},
            f"event 1 (issue): ticket {ticket_id('c3')} already exists",
        ),
        "the same ticket twice in the block": (
            {"events": [issue("x0"), issue("x1"), issue("x0")]},
            f"event 2 (issue): ticket {ticket_id('x0')} already exists",
        ),
        "transfer of a ticket revoked in a staged block": (
            {"events": [transfer("a2", "bob")]},
            f"event 0 (transfer): ticket {ticket_id('a2')} is revoked",
        ),
        "a device given another key": (
            {"events": [device("south-2", key=signer("other").public_key)]},
            "event 0 (device): device 'south-2' has key",
        ),
        "a bad signature": ({"events": [issue("x0")], "forged": True}, "signature"),
        "a truncated line": ("truncated", "block"),
    }


@pytest.mark.parametrize("held", [0, 3], ids=["first-sync", "3-blocks-held"])
@pytest.mark.parametrize("case", sorted(bad_blocks()))
def test_a_bad_block_in_the_middle_leaves_the_same_prefix(
    tmp_path: Path, case: str, held: int
) -> None:
    """The whole ledger in one call on an empty gate, or on a gate holding 3 blocks (the
    stage then looks tickets up in ``tickets`` too)."""
    good, names = busy_ledger()
    kit = LedgerKit()
    for block in good.blocks[:6]:
        kit.append(block["events"], time=block["time"])
    bad, expected = bad_blocks()[case]
    if bad == "truncated":
        kit.append([issue("x0")])
        lines = kit.lines()
        lines[6] = lines[6][: len(lines[6]) // 2]
    else:
        assert isinstance(bad, dict)
        kit.append(bad["events"])
        lines = kit.lines()
        if bad.get("forged"):  # the same chain signed by another key: only its sig differs
            forger = LedgerKit(authority=signer("forger"))
            for block in kit.blocks:
                forger.append(block["events"], time=block["time"])
            lines[6] = forger.lines()[6]
    kit.append([issue("after")])  # a good block after the bad one is never reached
    lines.append(kit.lines()[7])
    with fresh(tmp_path, "ref", kit) as ref, fresh(tmp_path, "staged", kit) as cp:
        ref_error: BlockRejected | None = None
        for number, line in enumerate(lines, start=1):
            try:
                ref.ledger.apply_block(parse_block(line, line=number))
            except BlockRejected as exc:
                ref_error = exc.locate(number, None)
                break
        if held:
            assert cp.apply_lines(read_blocks(lines[:held])).error is None
        report = cp.apply_lines((n, t) for n, t in read_blocks(lines) if n > held)
        assert ref_error is not None and report.error is not None
        assert str(report.error) == str(ref_error)
        assert report.error.height in (6, None) and report.error.line == 7
        assert expected in str(report.error)
        assert report.applied == 6 - held and report.height == 5
        assert dump(cp) == dump(ref)
        assert decisions(cp, names) == decisions(ref, names)


def test_a_failure_while_writing_a_block_rolls_back_that_block_only(tmp_path: Path) -> None:
    """Not a rule: SQLite failing half-way through a block's rows (here a trigger made to
    fail on the block's 30th ticket). The blocks before it in the stage are committed."""
    kit, _ = busy_ledger()
    lines = kit.lines()
    with fresh(tmp_path, "ref", kit) as ref, fresh(tmp_path, "staged", kit) as cp:
        assert per_block(ref, lines[:2]) is None
        conn = cp.files.conn
        conn.execute(  # as TicketStage makes it, which keeps a table it finds
            "CREATE TEMP TABLE ticket_stage_ids "
            "(id BLOB PRIMARY KEY, pos INTEGER NOT NULL) WITHOUT ROWID"
        )
        conn.execute(
            "CREATE TEMP TRIGGER fail_30th AFTER INSERT ON temp.ticket_stage_ids "
            f"WHEN NEW.id = x'{ticket_id('b29').replace('-', '')}' "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
        with pytest.raises(sqlite3.IntegrityError, match="disk on fire"):
            cp.apply_lines(read_blocks(lines))
        assert dump(cp) == dump(ref)


@pytest.mark.parametrize("segment", [1_000_000, 1])
def test_a_ticket_issued_again_after_a_flush_is_refused(tmp_path: Path, segment: int) -> None:
    """The stage's id index outlives its flushes: a ticket merged into ``tickets`` by an
    earlier flush of the same stage is still refused when issued again."""
    kit, names = busy_ledger()
    kit.append([issue("fresh"), issue("a0")])
    lines = kit.lines()
    with fresh(tmp_path, "ref", kit) as ref, fresh(tmp_path, "staged", kit) as cp:
        ref_error = per_block(ref, lines)
        error = staged(cp, lines, segment=segment)
        assert ref_error is not None and error is not None
        assert str(error) == str(ref_error)
        assert f"event 1 (issue): ticket {ticket_id('a0')} already exists" in str(error)
        assert dump(cp) == dump(ref)
        assert decisions(cp, names) == decisions(ref, names)


def test_a_killed_apply_leaves_a_whole_prefix(tmp_path: Path) -> None:
    """``gate ledger apply`` of two files SIGKILLed at a few moments: the state passes
    SQLite's integrity check and holds exactly the per-block path's state at its height
    (nothing, the first file, or both), and applying again completes it."""

    kit = LedgerKit()
    kit.append([show()])
    for b in range(8):
        kit.append([issue(f"k{b}-{i}", label=f"L{i % 13}") for i in range(600)])
        kit.append([transfer(f"k{b}-3", "bob"), revoke(f"k{b}-4")])
    lines = kit.lines()
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("".join(lines[:9]), encoding="utf-8")
    second.write_text("".join(lines[9:]), encoding="utf-8")
    rng = random.Random(20261203)
    with fresh(tmp_path, "ref", kit) as ref:
        refs = {}
        for height, line in enumerate(lines):
            assert per_block(ref, [line]) is None
            if height in (8, len(lines) - 1):
                refs[height] = dump(ref)
    for attempt in range(4):
        state = tmp_path / f"state{attempt}"
        state.mkdir(mode=0o700)
        config = write_config(tmp_path / f"gate{attempt}.toml", ledger_key=kit.key, state_dir=state)
        env = {**os.environ, "GATEHOUSE_CONFIG": str(config)}
        child = subprocess.Popen(
            [sys.executable, "-m", "gate", "ledger", "apply", str(first), str(second)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 2.5))
        child.send_signal(signal.SIGKILL)
        child.wait()
        conn = sqlite3.connect(state / "ledger.db")
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()
        with gate(state, kit) as cp:
            height = cp.ledger.head().height
            if height >= 0:
                assert height in refs, f"a partial file was committed: height {height}"
                assert dump(cp) == refs[height]
        assert gate_cli(config, "ledger", "apply", str(first), str(second)).returncode == 0
        with gate(state, kit) as cp:
            assert dump(cp) == refs[len(lines) - 1]
