"""The control socket end to end: a real ``gate run`` in a subprocess, its codes typed on a
serial scanner (pyserial over a pty, so the test says when a code arrives), sim outputs,
and the real ``gate ctl`` and ``ControlClient`` talking to it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.control_client import ControlClient

from ..clikit import gate
from ..lanekit import Lane, wait_until
from ..ledgerkit import LedgerKit, code, signer, ticket_id, write_config


@pytest.fixture
def lane(tmp_path: Path) -> Iterator[Lane]:
    running = Lane(tmp_path)
    try:
        yield running
    finally:
        err = running.close()
        assert running.proc.returncode == 0, err


def test_status_and_lookup(lane: Lane) -> None:
    lane.scan(code("t0", lane.now))
    lane.wait_for(lambda e: e["event"] == "decision")
    status = lane.ctl("status", "--json")
    assert status.returncode == 0, status.stderr
    s = json.loads(status.stdout)
    assert s["device"] == "north-1" and s["mode"] == "normal"
    assert s["counters"]["admitted"] == 1 and s["counters"]["refused"] == 0
    assert s["counters"]["entries_per_minute"] == 0.2
    h = s["health"]
    assert h["ledger_height"] == 2 and h["ledger_age"] > 3600
    assert h["hub"] == "not configured" and h["upload_backlog"] == 1
    assert h["relay"] in ("open", "at rest") and h["decoder"]
    text = lane.ctl("status")
    assert text.returncode == 0 and "north-1 normal: 1 admitted" in text.stdout
    assert "alarms: none" in text.stdout

    by_id = json.loads(lane.ctl("lookup", ticket_id("t0"), "--json").stdout)["tickets"]
    assert [t["ticket"] for t in by_id] == [ticket_id("t0")]
    t0 = by_id[0]
    assert (t0["used"], t0["left"], t0["label"], t0["event"]) == (1, 0, "GA", "show")
    assert t0["holder"] == signer("t0").public_key.hex()[:16]
    assert t0["admissions"][0]["device"] == "north-1" and t0["admissions"][0]["seq"] == 1

    by_label = json.loads(lane.ctl("lookup", "box 7", "--json").stdout)["tickets"]
    assert [(t["ticket"], t["entries"], t["left"]) for t in by_label] == [(ticket_id("t2"), 2, 2)]
    many = json.loads(lane.ctl("lookup", "ga", "--json").stdout)["tickets"]
    assert sorted(t["ticket"] for t in many) == sorted(ticket_id(n) for n in ("t0", "t1", "t3"))
    t3 = next(t for t in many if t["ticket"] == ticket_id("t3"))
    assert t3["transfers"] == [{"from": signer("t3").public_key.hex()[:16], "height": 2}]
    assert t3["holder"] == signer("buyer").public_key.hex()[:16]
    words = lane.ctl("lookup", "Box 7")
    assert words.returncode == 0 and "0 of 2 used" in words.stdout
    assert "no ticket matches" in lane.ctl("lookup", "nobody").stdout


def test_open_once_and_modes(lane: Lane) -> None:
    opened = lane.ctl("open-once", "--as", "Ann", "--reason", "wheelchair gate", "--json")
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout) == {"seq": 1, "ticket": None}
    wait_until(lambda: True in lane.relay_states())  # pulsed like an admission
    override = lane.wait_for(lambda e: e["event"] == "override")
    assert (override["by"], override["reason"]) == ("Ann", "wheelchair gate")

    # With a ticket, by its label: it counts as that ticket's admission.
    opened = lane.ctl("open-once", "--as", "Ann", "--reason", "phone died", "--ticket", "Box 7")
    assert opened.returncode == 0 and "record 2" in opened.stdout, opened.stderr
    # Refused: no reason; a label naming three tickets; a ticket not on the ledger.
    refused = lane.ctl("open-once", "--as", "Ann")
    assert refused.returncode == 1 and "reason" in refused.stderr
    assert lane.ctl("open-once", "--as", "A", "--reason", "r", "--ticket", "GA").returncode == 1
    unknown = lane.ctl("open-once", "--as", "A", "--reason", "r", "--ticket", ticket_id("zz"))
    assert unknown.returncode == 1 and "no ticket matches" in unknown.stderr
    assert lane.ctl("mode", "closed", "--as", "Ann").returncode == 1  # no reason
    assert lane.ctl("mode", "party", "--as", "A", "--reason", "r").returncode == 2  # usage

    closed = lane.ctl("mode", "closed", "--as", "Ann", "--reason", "crush at the front")
    assert closed.returncode == 0 and "lane mode closed (was normal)" in closed.stdout
    mode_line = lane.wait_for(lambda e: e["event"] == "mode")
    assert (mode_line["by"], mode_line["reason"]) == ("Ann", "crush at the front")
    lane.scan(code("t0", lane.now))
    assert lane.wait_for(lambda e: e["event"] == "decision")["reason"] == "lane_closed"

    free = lane.ctl("mode", "free", "--as", "Ann", "--reason", "evacuation", "--json")
    assert json.loads(free.stdout) == {"mode": "free", "previous": "closed"}
    time.sleep(0.5)  # longer than a pulse: free mode holds the relay open
    assert lane.relay_states()[-1] is True
    assert json.loads(lane.ctl("status", "--json").stdout)["health"]["relay"] == "open"
    back = lane.ctl("mode", "normal", "--as", "Ann", "--reason", "all clear")
    assert back.returncode == 0
    wait_until(lambda: lane.relay_states()[-1] is False)
    lane.scan(code("t1", lane.now))
    wait_until(lambda: len(lane.decisions()) == 2)
    assert lane.decisions()[-1]["reason"] == "ok"

    export = gate(lane.config, "records", "export", "-")
    rows = [json.loads(x) for x in export.stdout.split("\n") if x]
    assert [(r["result"], r["reason"], r["ticket"], r["note"]) for r in rows[:2]] == [
        ("admitted", "override", None, "Ann: wheelchair gate"),
        ("admitted", "override", ticket_id("t2"), "Ann: phone died"),
    ]
    assert [r["reason"] for r in rows[2:]] == ["lane_closed", "ok"]
    t2 = json.loads(lane.ctl("lookup", ticket_id("t2"), "--json").stdout)["tickets"][0]
    assert (t2["used"], t2["left"]) == (1, 1)


def test_watchers_see_the_lane(lane: Lane) -> None:
    with ControlClient(lane.socket) as client:
        assert client.device == "north-1"
        client.watch()
        first = next(client.events(timeout=5))
        assert first["type"] == "status" and first["mode"] == "normal"
        lane.scan(code("t0", lane.now))
        lane.scan(code("t0", lane.now + 15))
        lane.scan("hello")
        wait_until(lambda: len(lane.decisions()) == 3)
        with ControlClient(lane.socket) as other:
            other.request("mode", mode="closed", reason="test", **{"as": "Bo"})
            assert other.request("lookup", query="GA")["tickets"]
        seen: list[dict] = []
        for event in client.events(timeout=5):
            seen.append(event)
            if event["type"] == "mode":
                break
        decisions = [e for e in seen if e["type"] == "decision"]
        assert [d["reason"] for d in decisions] == ["ok", "already_used", "not_a_ticket"]
        assert decisions[0]["label"] == "GA" and decisions[0]["event"] == "show"
        assert decisions[1]["first_device"] == "north-1"
        assert isinstance(decisions[0]["latency_ms"], float)
        mode = seen[-1]
        assert (mode["mode"], mode["previous"], mode["by"]) == ("closed", "normal", "Bo")
        status = next(e for e in client.events(timeout=5) if e["type"] == "status")
        assert status["mode"] == "closed" and status["counters"]["refused"] == 2


def test_bad_requests_answer_usage(lane: Lane) -> None:
    with ControlClient(lane.socket) as client:
        with pytest.raises(Exception) as info:
            client.request("reboot")
        assert type(info.value).__name__ == "InvalidArgument" and "unknown command" in str(
            info.value
        )
        raw = socket.socket(socket.AF_UNIX)
        raw.connect(str(lane.socket))
        raw.sendall(b"[1, 2]\nnot json\n")
        reader = raw.makefile()
        assert json.loads(reader.readline())["type"] == "hello"
        for _ in range(2):
            reply = json.loads(reader.readline())
            assert (reply["ok"], reply["code"]) == (False, "usage")
        raw.close()
        assert client.request("status")["device"] == "north-1"


def test_no_daemon_exits_4_naming_the_socket(tmp_path: Path) -> None:
    kit = LedgerKit()
    config = write_config(
        tmp_path / "gate.toml",
        ledger_key=kit.key,
        state_dir=tmp_path,
        extra=f'[control]\nsocket = "{tmp_path / "nobody.sock"}"\n',
    )
    for args in (["status"], ["watch"], ["mode", "closed", "--as", "a", "--reason", "b"]):
        run = gate(config, "ctl", *args)
        assert run.returncode == 4, run.stderr
        assert str(tmp_path / "nobody.sock") in run.stderr and "not running" in run.stderr
    usage = gate(config, "ctl", "mode")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_a_stale_socket_is_replaced_and_the_file_mode_is_0660(tmp_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tmp_path / "control.sock"))
    stale.close()  # a file nobody listens on: what a killed daemon leaves
    running = Lane(tmp_path)
    try:
        mode = (tmp_path / "control.sock").stat().st_mode & 0o777
        assert mode == 0o660 and (tmp_path / "control.sock").stat().st_gid == 0
        assert running.ctl("status").returncode == 0
    finally:
        assert running.close() is not None
    assert not (tmp_path / "control.sock").exists()  # removed on the way out


# -- who may connect -------------------------------------------------------------------------

NOBODY = 65534
HELLO_AS = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
print(s.makefile().readline().strip())
"""


def hello_as(sock: Path, *setpriv: str) -> dict:
    run = subprocess.run(
        ["setpriv", *setpriv, "/usr/bin/python3", "-c", HELLO_AS, str(sock)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_peers_outside_root_the_daemon_user_and_the_group_are_refused(tmp_path: Path) -> None:
    """The credential check behind the file mode: the test opens the socket file to
    everyone (chmod 0666, which the daemon never does) so that ``nobody`` gets as far as
    ``connect``, and the daemon must still refuse it unless it is in the control group
    (``users`` here), by its primary or a supplementary group."""
    where = Path(tempfile.mkdtemp(prefix="gh-ctl-"))
    try:
        where.chmod(0o755)
        running = Lane(tmp_path, group="users", socket_path=where / "control.sock")
        try:
            os.chmod(running.socket, 0o666)
            users = "100"
            outsider = hello_as(
                running.socket, "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"
            )
            assert outsider["type"] == "refused"
            assert f"uid {NOBODY}" in outsider["error"] and "users" in outsider["error"]
            member = hello_as(
                running.socket,
                *("--reuid", str(NOBODY), "--regid", str(NOBODY), "--groups", users),
            )
            assert member["type"] == "hello" and member["device"] == "north-1"
            primary = hello_as(
                running.socket, "--reuid", str(NOBODY), "--regid", users, "--clear-groups"
            )
            assert primary["type"] == "hello"
            assert hello_as(running.socket)["type"] == "hello"  # root
            # The lane went on deciding through all of it.
            running.scan(code("t0", running.now))
            running.wait_for(lambda e: e["event"] == "decision")
        finally:
            running.close()
    finally:
        shutil.rmtree(where)


def test_a_missing_group_falls_back_with_a_warning(tmp_path: Path) -> None:
    running = Lane(tmp_path, group="no-such-group-here")
    try:
        warning = running.wait_for(lambda e: e["event"] == "warning")
        assert "no-such-group-here" in warning["detail"] and "does not exist" in warning["detail"]
        assert (tmp_path / "control.sock").stat().st_gid == os.getgid()
        assert running.ctl("status").returncode == 0
    finally:
        running.close()


# -- a client that does not read -----------------------------------------------------------


def test_a_stalled_watcher_never_delays_the_lane_and_hears_what_it_missed(lane: Lane) -> None:
    stalled = socket.socket(socket.AF_UNIX)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(str(lane.socket))
    stalled.sendall(b'{"id": 1, "cmd": "watch"}\n')
    time.sleep(0.3)  # the watch is taken; from now on this client reads nothing
    n = 800
    for i in range(n):
        lane.scan(f"not-a-ticket-{i}")
    wait_until(lambda: len(lane.decisions()) == n, timeout=120)
    # Meanwhile another client is served at once.
    with ControlClient(lane.socket) as other:
        assert other.request("status")["counters"]["refused"] == n
    stalled.settimeout(10)
    reader = stalled.makefile()
    got: list[dict] = []
    while True:
        event = json.loads(reader.readline())
        got.append(event)
        if event.get("type") == "dropped":
            break
    got.append(json.loads(reader.readline()))  # and the stream goes on
    stalled.close()
    dropped = next(e for e in got if e.get("type") == "dropped")
    seen = [e for e in got if e.get("type") == "decision"]
    assert dropped["count"] > 0
    # Every decision was made and recorded; what the watcher missed, it was told about.
    assert len(seen) + dropped["count"] >= n
    assert [e["seq"] for e in seen] == sorted(e["seq"] for e in seen)
    export = gate(lane.config, "records", "export", "-")
    assert len(export.stdout.split()) == n
