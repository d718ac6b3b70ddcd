"""Block parsing in a child process (verifier.parse_child): the same blocks and the same
refusals as parse_block in this process, and a dead child only makes it slower."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from errors import BlockRejected
from verifier import parse_block
from verifier.blocks import LineParser, read_blocks
from verifier.parse_child import ChildParser

from .ledgerkit import LedgerKit, issue, show, signer
from .statekit import gate
from .test_ticket_stage import busy_ledger, decisions, dump, fresh, per_block


def outcome(parse: LineParser, text: bytes) -> object:
    try:
        block = parse(text, line=3, source="x.jsonl")
    except BlockRejected as exc:
        return ("refused", str(exc), exc.reason, exc.height, exc.line, exc.source)
    return ("block", block)


def bad_lines() -> list[bytes]:
    kit = LedgerKit()
    kit.append([show()])
    good = kit.append([issue("a"), issue("b")])
    line = json.dumps(good).encode()
    forged = LedgerKit(authority=signer("forger"))
    forged.append([show()])
    return [
        line,
        line[: len(line) // 2],
        b"[1, 2]",
        b"\xff\xfe not utf-8",
        line.replace(b'"height": 1', b'"height": 1.5'),
        line.replace(b'"op": "issue"', b'"op": "issue", "op": "issue"', 1),
        line.replace(b'"label": "GA"', b'"label": 7', 1),
        line.replace(b'"holder": "', b'"holder": "00', 1)[:-1],
        json.dumps({**good, "extra": 1}).encode(),
        json.dumps({**good, "v": 2}).encode(),
        json.dumps(forged.append([issue("c", holder="x" * 3)])).encode(),
        b'{"v":1,"height":1,"prev":"' + b"0" * 64 + b'","time":1,"events":[],"sig":"\\ud800"}',
    ]


@pytest.mark.parametrize("index", range(12))
def test_the_child_parses_and_refuses_as_parse_block(index: int) -> None:
    text = bad_lines()[index]
    parser = ChildParser(threshold=0)
    try:
        assert outcome(parser.parse, text) == outcome(parse_block, text)
        assert parser._child is not None, "the line went to the child"
    finally:
        parser.close()
        parser.close()


def test_a_dead_child_leaves_the_lines_to_this_process() -> None:
    line = bad_lines()[0]
    parser = ChildParser(threshold=0)
    try:
        assert outcome(parser.parse, line) == outcome(parse_block, line)
        assert parser._child is not None
        parser._child.kill()
        parser._child.wait()
        assert outcome(parser.parse, line) == outcome(parse_block, line)
        assert parser._child is None
    finally:
        parser.close()


def test_a_stage_applies_what_the_child_parsed_as_the_per_block_path(tmp_path: Path) -> None:
    kit, names = busy_ledger()
    lines = [t.encode() for t in kit.lines()]
    with fresh(tmp_path, "ref", kit) as ref, fresh(tmp_path, "staged", kit) as cp:
        assert per_block(ref, kit.lines()) is None
        cp._parser = ChildParser(threshold=0)
        assert cp.apply_lines(read_blocks(lines)).error is None
        assert dump(cp) == dump(ref)
        assert decisions(cp, names) == decisions(ref, names)
        assert cp._parser._child is None, "the stage ended the child"


def test_gate_ledger_apply_parses_a_large_block_in_a_child(tmp_path: Path) -> None:
    kit = LedgerKit()
    kit.append([show()])
    kit.append([issue(f"t{i}") for i in range(400)])  # well over CHILD_LINE_BYTES
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    with gate(state, kit) as cp:
        started: list[int] = []
        real_start = cp._parser._start

        def start() -> subprocess.Popen[bytes]:
            child = real_start()
            started.append(child.pid)
            return child

        cp._parser._start = start  # type: ignore[method-assign]
        report = cp.apply_lines(read_blocks(t.encode() for t in kit.lines()))
        assert report.error is None and report.height == 1
        assert len(started) == 1
        assert cp.status()["tickets"] == 400
