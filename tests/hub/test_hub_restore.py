"""A hub restored from an older backup: the gate sends its records again, once.

The hub's ``hub.db`` is its source of truth; when it is lost and restored from last
night's copy, the hub holds fewer of a gate's records than it once acknowledged. The
gate's next upload starts after its own cursor, so the hub refuses it as a gap and says
what it holds; :meth:`HubClient.push` rewinds the cursor once to that and sends the rest
again, and the hub ends up holding the gate's whole chain, every record exactly once.
A hub that still answers less after the rewind (broken, or lying) gets an error, not an
endless loop.

A real hub directory served on loopback, a real gate state directory with real
admissions, a backup taken with SQLite's online backup API while the hub runs, and a
restore done as an operator would: the hub stopped, the copy put back over ``hub.db``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gate.config import load_config
from hub import Hub
from sync.client import HubClient, PushReport
from sync.wire import HEADER_HEIGHT
from verifier import Checkpoint, verify_records

from ..hubkit import RunningHub, admitted, make_gate, redeems, seed_hub, wait_for
from ..ledgerkit import NOW, code

DEVICE = "north-1"


@contextlib.contextmanager
def gate_state(tmp_path: Path, key: bytes, url: str) -> Iterator[Checkpoint]:
    """The gate's real state directory, opened in-process as the gate daemon does."""
    cfg = load_config(make_gate(tmp_path, DEVICE, key, url))
    with Checkpoint(
        cfg.state_dir, device=cfg.device, ledger_key=cfg.ledger_key, policy=cfg.policy
    ) as cp:
        yield cp


def enrolled_client(hub_dir: Path, url: str, cp: Checkpoint, batch: int) -> HubClient:
    """Enrol the gate through the real API (a one-time code from the operator) and pull
    the ledger, so the gate knows the tickets it admits."""
    operator = Hub(hub_dir)
    try:
        enrol_code = operator.enrol_code(int(time.time()))
    finally:
        operator.close()
    client = HubClient(url, cp, timeout=5, batch=batch)
    client.enrol(enrol_code)
    pulled = client.pull()
    assert pulled.error is None and pulled.applied > 0, pulled
    return client


def query(db_path: Path, sql: str, *args: object) -> list[tuple]:
    """Read ``db_path`` on a connection closed right after (a restore must find none).
    Not ``mode=ro``: a WAL database whose ``-shm`` is gone (a restored copy) cannot be
    opened read-only."""
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        return db.execute(sql, args).fetchall()


def held_records(db_path: Path) -> list[tuple[int, str]]:
    """(seq, body) of every record of the gate held in the hub database at ``db_path``."""
    return query(db_path, "SELECT seq, body FROM records WHERE device = ? ORDER BY seq", DEVICE)


def pending_events(hub_dir: Path) -> int:
    """test_faults.pending_events, on a connection closed at once: that one leaves its
    connections to the garbage collector, and SQLite connections of this process still
    open on the lost ``hub.db`` would make the restored one unreadable here."""
    [(count,)] = query(hub_dir / "hub.db", "SELECT count(*) FROM pending")
    return count


def back_up(hub_dir: Path, to: Path) -> None:
    """A consistent copy of the live ``hub.db`` (SQLite's online backup API: what a
    nightly backup job does while the hub keeps serving)."""
    with (
        contextlib.closing(sqlite3.connect(f"file:{hub_dir / 'hub.db'}?mode=ro", uri=True)) as live,
        contextlib.closing(sqlite3.connect(to)) as copy,
    ):
        live.backup(copy)


def restore(backup: Path, hub_dir: Path) -> None:
    """Put the backup back over ``hub.db`` (the hub stopped). The WAL files go: frames
    of the lost, newer database must not be replayed onto the older copy. The ledger
    facts the hub checks blocks against live in ``hub.db`` too, so they come back with
    it, level with the restored chain."""
    for name in ("hub.db-wal", "hub.db-shm"):
        (hub_dir / name).unlink(missing_ok=True)
    shutil.copyfile(backup, hub_dir / "hub.db")


def test_a_hub_restored_from_an_older_backup_gets_every_record_exactly_once(
    tmp_path: Path, start_hub: Callable[..., RunningHub]
) -> None:
    """Three records acknowledged, the backup, five more acknowledged; the hub is
    restored from the backup (holding three) and the gate admits a ninth. One push
    sends 4..9 again: the hub holds 1..9 once, as the gate's chain, and the gate's
    cursor is 9."""
    hub_dir = tmp_path / "hub"
    # At the real time: the hub signs the enrolment's `device` block at its own clock,
    # and a gate decides nothing behind its newest block (clock_behind).
    now = int(time.time())
    key = seed_hub(hub_dir, now=now)
    hub = start_hub(hub_dir)
    backup = tmp_path / "hub.db.backup"
    with gate_state(tmp_path, key, hub.url) as cp:
        client = enrolled_client(hub_dir, hub.url, cp, batch=2)

        # Before the backup: three records, all acknowledged.
        assert cp.admit(code("solo", now), now).result == "admitted"
        cp.admit("junk-1", now)
        cp.admit("junk-2", now)
        assert client.push() == PushReport(3, 3, None)
        back_up(hub_dir, backup)
        assert [seq for seq, _ in held_records(backup)] == [1, 2, 3]

        # After the backup: five more, all acknowledged, and published in blocks the
        # backup does not have.
        assert cp.admit(code("pair", now + 15), now + 15).result == "admitted"
        cp.admit("junk-3", now + 15)
        assert cp.admit(code("pair", now + 30), now + 30).result == "admitted"  # 2 entries
        assert cp.admit(code("late", now + 30), now + 30).result == "admitted"
        cp.admit("junk-4", now + 30)
        assert client.push() == PushReport(5, 8, None)
        assert client.cursor() == 8
        wait_for(lambda: pending_events(hub_dir) == 0, 10, "a block with the redeems")
        hub.stop()

        # The disk is lost; the hub comes back from the backup, which holds 1..3.
        [(lost_height,)] = query(hub_dir / "hub.db", "SELECT max(height) FROM blocks")
        [(backup_height,)] = query(backup, "SELECT max(height) FROM blocks")
        assert backup_height < lost_height  # the lost blocks are not in the backup
        restore(backup, hub_dir)
        assert [seq for seq, _ in held_records(hub_dir / "hub.db")] == [1, 2, 3]
        hub = start_hub(hub_dir)
        client = HubClient(hub.url, cp, timeout=5, batch=2)
        # The hub serves the restored chain, and builds on it (below: new redeems). The
        # head is read signed, as a gate reads (/v1/status no longer tells the height).
        status, raw, headers = client.read(f"/v1/blocks?since={backup_height - 1}")
        height = int(headers[HEADER_HEIGHT])
        [(head,)] = query(hub_dir / "hub.db", "SELECT body FROM blocks WHERE height = ?", height)
        assert status == 200 and height >= backup_height
        assert raw.decode().splitlines()[-1] == head

        cp.admit("junk-5", now + 45)  # one the hub never saw
        last_seq, _ = cp.log.last_record()
        assert last_seq == 9 and client.cursor() == 8

        # The hub refuses 9 as a gap and says it holds 3: the gate rewinds once and
        # sends 4..9 (in three batches of two).
        report = client.push()
        assert report == PushReport(last_seq - 3, last_seq, None)
        assert client.cursor() == last_seq
        assert cp.log.upload_cursor() == last_seq
        ours = list(cp.export_records())
        public_key = cp.signer.public_key

    held = held_records(hub_dir / "hub.db")
    assert [seq for seq, _ in held] == list(range(1, last_seq + 1))  # each once, no gap
    [(rows, distinct)] = query(
        hub_dir / "hub.db",
        "SELECT count(*), count(DISTINCT seq) FROM records WHERE device = ?",
        DEVICE,
    )
    assert rows == distinct == last_seq
    theirs = [body for _, body in held]
    assert theirs == ours
    assert verify_records(theirs, public_key, device=DEVICE) == last_seq
    # Each admission is one redeem in the restored hub's ledger: the ones the backup
    # had (in a block or still queued) and the ones sent again, none twice.
    wait_for(lambda: pending_events(hub_dir) == 0, 10, "a block with the resent redeems")
    assert sorted(redeems(hub_dir)) == sorted(admitted(ours))
    assert len(admitted(ours)) == 4


#: Uploads a lying hub answers before it stops answering: a push that loops would
#: reach it, and fail the test on the uploads it made instead of hanging it.
LIAR_PATIENCE = 20


def liar(status: int, answers: Callable[[int], int]) -> tuple[ThreadingHTTPServer, list[list[int]]]:
    """A hub on loopback that answers every upload with ``status`` and an ``acked`` of
    ``answers(first seq sent)``; the seqs of every upload it got."""
    uploads: list[list[int]] = []

    class Liar(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seqs = [json.loads(line)["seq"] for line in body["records"]]
            uploads.append(seqs)
            if len(uploads) > LIAR_PATIENCE:
                self.reply(503, {"error": "the liar has had enough"})
            else:
                self.reply(
                    status,
                    {
                        "device": DEVICE,
                        "acked": answers(seqs[0]),
                        "accepted": 0,
                        "duplicates": 0,
                        "error": None,
                    },
                )

        def reply(self, code: int, payload: dict[str, object]) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Liar)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, uploads


def always_2(first: int) -> int:
    return 2


def ever_lower(first: int) -> int:
    return first - 2


def yo_yo(first: int) -> int:
    return 2 if first == 6 else 5


@pytest.mark.parametrize(
    ("status", "answers", "uploads_seen", "cursor"),
    [
        # Says it holds 2 whatever it gets: one rewind to 2, 3..6 sent, 2 again: stop.
        pytest.param(200, always_2, [[6], [3, 4, 5, 6]], 2, id="always-2"),
        pytest.param(409, always_2, [[6], [3, 4, 5, 6]], 2, id="always-2-refused"),
        # Says less each time: one rewind to 4, 5..6 sent, 3: stop (not down to 0).
        pytest.param(200, ever_lower, [[6], [5, 6]], 4, id="ever-lower"),
        pytest.param(409, ever_lower, [[6], [5, 6]], 4, id="ever-lower-refused"),
        # Says 2 to the upload of 6, takes 3..5 of the resent batch, then says 2 to 6
        # again: a push that rewound every time would go round this forever. (Answered
        # with 409, the partial acknowledgement of 3..5 already ends the push.)
        pytest.param(200, yo_yo, [[6], [3, 4, 5, 6], [6]], 5, id="yo-yo"),
        pytest.param(409, yo_yo, [[6], [3, 4, 5, 6]], 5, id="yo-yo-refused"),
    ],
)
def test_a_hub_that_keeps_answering_less_after_the_rewind_gets_an_error(
    tmp_path: Path,
    start_hub: Callable[..., RunningHub],
    status: int,
    answers: Callable[[int], int],
    uploads_seen: list[list[int]],
    cursor: int,
) -> None:
    """The gate's cursor is real (five records acknowledged by a real hub, a sixth
    waiting); then the hub's address answers uploads with less than the gate sent
    from. The gate rewinds once per push, and when the answer is less again it stops
    with an error instead of rewinding forever."""
    hub_dir = tmp_path / "hub"
    key = seed_hub(hub_dir)
    hub = start_hub(hub_dir, heartbeat=0)
    with gate_state(tmp_path, key, hub.url) as cp:
        client = enrolled_client(hub_dir, hub.url, cp, batch=500)
        for i in range(5):
            cp.admit(f"junk-{i}", NOW)
        assert client.push() == PushReport(5, 5, None)
        cp.admit("junk-5", NOW)

        server, uploads = liar(status, answers)
        try:
            lied_to = HubClient(f"http://127.0.0.1:{server.server_address[1]}", cp, timeout=5)
            report = lied_to.push()
        finally:
            server.shutdown()
            server.server_close()
        assert uploads == uploads_seen  # (a looping push would run into LIAR_PATIENCE)
        assert report.error is not None and "enough" not in report.error
        # The cursor stays where the hub's answers put it (never above what it said it
        # holds): the next push starts from there, and a real hub would take what it
        # already holds as duplicates.
        assert report.acked == cursor == client.cursor()
        assert report.sent == cursor - answers(6)
