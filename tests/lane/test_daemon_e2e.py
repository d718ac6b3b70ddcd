"""The real ``gate run`` in a subprocess on recorded and synthetic frames, with real
decoders and sim hardware: decisions, records and relay pulses are what they must be."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from hardware import read_sim_log
from scanner.render import render_frame
from verifier import verify_records

from ..clikit import gate
from ..ledgerkit import LedgerKit, code, issue, show, signer, ticket_id, write_config

ROOT = Path(__file__).resolve().parent.parent.parent


def live_ledger(now: int, names: list[str]) -> LedgerKit:
    """A ledger whose tickets are valid around ``now`` (the daemon reads the real clock)."""
    kit = LedgerKit(time=now - 7200)
    kit.append([show(starts=now - 3600, ends=now + 7200)])
    kit.append([issue(n, valid_from=now - 3600, until=now + 7200) for n in names])
    if "t3" in names:
        kit.append(
            [
                {
                    "op": "transfer",
                    "ticket": ticket_id("t3"),
                    "holder": signer("buyer").public_key.hex(),
                }
            ]
        )
    return kit


def daemon_config(tmp_path: Path, kit: LedgerKit, camera: str, extra: str = "") -> Path:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (tmp_path / "ledger.jsonl").write_text("".join(kit.lines()), encoding="utf-8")
    relay_log = tmp_path / "relay.log"
    return write_config(
        tmp_path / "gate.toml",
        ledger_key=kit.key,
        state_dir=state,
        extra=f"""
[camera]
url = "{camera}"
[relay]
url = "sim:relay?log={relay_log}&pulse_ms=100"
[indicators]
green = "sim:green?pulse_ms=100"
red = "sim:red?pulse_ms=100"
[lane]
debounce = 3.0
[control]
socket = "{tmp_path / "control.sock"}"
group = "root"
"""
        + extra,
    )


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def write_frames(directory: Path, frames: list[list[str]]) -> None:
    directory.mkdir()
    rng = np.random.default_rng(20261122)
    for i, texts in enumerate(frames):
        image = render_frame(texts, rng, (640, 480), degradations=()).image
        cv2.imwrite(str(directory / f"{i:03d}.png"), image)


def test_gate_run_on_recorded_frames(tmp_path: Path) -> None:
    now = int(time.time())
    kit = live_ledger(now, ["t0", "t1", "t2", "t3"])
    frames = tmp_path / "frames"
    write_frames(
        frames,
        [
            [code("t0", now)],  # valid
            [code("t0", now)],  # the same code in the next frame: one scan
            [code("t0", now + 15)],  # a fresh code for a used ticket
            [code("t1", now, holder="mallory")],  # forged
            [code("t2", now - 120)],  # a screenshot from two minutes ago
            [code("t3", now)],  # the seller's code after a transfer
            [code("t3", now, holder="buyer")],  # the buyer's code
            [],  # nobody there
            ["https://example.com/ticket/1"],  # some other QR code
        ],
    )
    # Five frames a second: each admission's 100 ms pulse ends before the next frame.
    config = daemon_config(tmp_path, kit, f"images:{frames}?fps=5")
    assert gate(config, "ledger", "apply", str(tmp_path / "ledger.jsonl")).returncode == 0

    run = gate(config, "run")
    assert run.returncode == 0, run.stderr
    out = events(run.stdout)
    decisions = [e for e in out if e["event"] == "decision"]
    assert [d["reason"] for d in decisions] == [
        "ok",
        "already_used",
        "bad_signature",
        "expired_code",
        "transferred",
        "ok",
        "not_a_ticket",
    ]
    assert decisions[0]["ticket"] == ticket_id("t0")
    assert all(set(d["latency_ms"]) >= {"decode", "decide", "commit", "actuate"} for d in decisions)
    assert out[0]["event"] == "started" and out[-1]["event"] == "stopped"
    assert out[-1]["why"] == "source ended" and out[-1]["admitted"] == 2

    # The relay opened exactly twice and is at rest.
    states = [s for _, s in read_sim_log(tmp_path / "relay.log")]
    assert states.count(True) == 2 and states[-1] is False

    # Every decision is in the signed record log, in order, once.
    export = gate(config, "records", "export", "-")
    lines = export.stdout.splitlines()
    assert [json.loads(x)["reason"] for x in lines] == [d["reason"] for d in decisions]
    key = bytes.fromhex(json.loads(gate(config, "device", "show", "--json").stdout)["public_key"])
    assert verify_records(lines, key) == 7


def test_gate_run_on_the_synthetic_source(tmp_path: Path) -> None:
    now = int(time.time())
    names = [f"t{i}" for i in range(4)]
    kit = live_ledger(now, names)
    camera = (
        "synthetic:?wallets=t0,t1,t2&namespace=test&seed=5&frames=40&fps=5"
        "&width=640&height=480&empty=0.2&multi=0&degrade=none"
    )
    config = daemon_config(tmp_path, kit, camera)
    assert gate(config, "ledger", "apply", str(tmp_path / "ledger.jsonl")).returncode == 0
    run = gate(config, "run")
    assert run.returncode == 0, run.stderr
    decisions = [e for e in events(run.stdout) if e["event"] == "decision"]
    admitted = sorted(d["ticket"] for d in decisions if d["reason"] == "ok")
    # Each wallet is admitted exactly once; anything else seen is a refusal.
    assert admitted == sorted(ticket_id(n) for n in ("t0", "t1", "t2"))
    assert {d["reason"] for d in decisions} <= {"ok", "already_used", "replayed"}
    assert [s for _, s in read_sim_log(tmp_path / "relay.log")].count(True) == 3


def test_sigkill_mid_pulse_then_relay_reset(tmp_path: Path) -> None:
    now = int(time.time())
    kit = live_ledger(now, ["t0"])
    frames = tmp_path / "frames"
    write_frames(frames, [[code("t0", now)]])
    config = daemon_config(tmp_path, kit, f"images:{frames}?loop=1&fps=5")
    text = config.read_text().replace("pulse_ms=100", "pulse_ms=20000")
    config.write_text(text)
    assert gate(config, "ledger", "apply", str(tmp_path / "ledger.jsonl")).returncode == 0
    env = {**os.environ, "GATEHOUSE_CONFIG": str(config)}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "gate", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    relay_log = tmp_path / "relay.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = read_sim_log(relay_log)
        if states and states[-1][1] is True:
            break
        time.sleep(0.05)
    else:
        daemon.kill()
        pytest.fail("the relay never opened")
    daemon.send_signal(signal.SIGKILL)  # in the middle of a 20 s pulse
    daemon.communicate()
    assert read_sim_log(relay_log)[-1][1] is True  # the board latched the open state
    reset = gate(config, "relay", "reset")
    assert reset.returncode == 0, reset.stderr
    assert read_sim_log(relay_log)[-1][1] is False
    records = [json.loads(x) for x in gate(config, "records", "export", "-").stdout.split()]
    admitted = [r for r in records if r["result"] == "admitted"]
    assert len(admitted) == 1 and admitted[0]["ticket"] == ticket_id("t0")


def test_gate_run_without_camera_or_relay(tmp_path: Path) -> None:
    kit = live_ledger(int(time.time()), ["t0"])
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    config = write_config(tmp_path / "gate.toml", ledger_key=kit.key, state_dir=state)
    run = gate(config, "run")
    assert run.returncode == 2 and "camera.url" in run.stderr
    assert "Traceback" not in run.stderr


def test_dead_camera_raises_an_alarm_and_sigterm_stops_cleanly(tmp_path: Path) -> None:
    kit = live_ledger(int(time.time()), ["t0"])
    config = daemon_config(tmp_path, kit, "v4l2:/dev/video77")
    env = {**os.environ, "GATEHOUSE_CONFIG": str(config)}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "gate", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert daemon.stdout is not None
    seen: list[dict] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = daemon.stdout.readline()
        if line.startswith("{"):
            seen.append(json.loads(line))
            if seen[-1]["event"] == "alarm":
                break
    assert seen and seen[-1]["event"] == "alarm" and "/dev/video77" in seen[-1]["alarm"]
    assert daemon.poll() is None  # still running: the lane waits for its camera
    daemon.send_signal(signal.SIGTERM)
    out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    stopped = events(out)[-1]
    assert stopped["event"] == "stopped" and stopped["why"] == "SIGTERM"
    assert read_sim_log(tmp_path / "relay.log")[-1][1] is False


@pytest.mark.parametrize(
    ("sensor", "voided"),
    [
        ("sim:", 2),  # nobody ever walks through
        ("sim:?follow=relay&delay_ms=30", 0),  # everyone admitted walks through
    ],
)
def test_passage_sensor_voids_admissions_nobody_used(
    tmp_path: Path, sensor: str, voided: int
) -> None:
    now = int(time.time())
    kit = live_ledger(now, ["t0", "t1"])
    frames = tmp_path / "frames"
    write_frames(frames, [[code("t0", now)], [code("t1", now)]])
    config = daemon_config(
        tmp_path,
        kit,
        f"images:{frames}?fps=5",
        extra=f'[sensor]\nurl = "{sensor}"\npassage_timeout = 1\n',
    )
    assert gate(config, "ledger", "apply", str(tmp_path / "ledger.jsonl")).returncode == 0
    run = gate(config, "run")
    assert run.returncode == 0, run.stderr
    assert len([e for e in events(run.stdout) if e["event"] == "voided"]) == voided
    records = [json.loads(x) for x in gate(config, "records", "export", "-").stdout.split()]
    voids = [r for r in records if r["result"] == "voided"]
    assert len(voids) == voided
    assert all(v["reason"] == "no_passage" and v["ref"] in (1, 2) for v in voids)
    status = json.loads(gate(config, "ledger", "status", "--json").stdout)
    assert status["admissions"] == 2 - voided  # a voided ticket may be used again


def test_daemon_talks_to_systemd(tmp_path: Path) -> None:
    """READY once started, WATCHDOG while looping, STOPPING at the end (sd_notify)."""
    import socket

    now = int(time.time())
    kit = live_ledger(now, ["t0"])
    frames = tmp_path / "frames"
    write_frames(frames, [[code("t0", now)], [], [], [], [], []])
    config = daemon_config(tmp_path, kit, f"images:{frames}?fps=4")
    notify = tmp_path / "notify.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(notify))
    server.settimeout(0.2)
    env = {
        **os.environ,
        "GATEHOUSE_CONFIG": str(config),
        "NOTIFY_SOCKET": str(notify),
        "WATCHDOG_USEC": "400000",
    }  # ping every 0.2 s
    run = subprocess.run(
        [sys.executable, "-m", "gate", "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    messages: list[str] = []
    while True:
        try:
            messages.append(server.recv(512).decode())
        except TimeoutError:
            break
    server.close()
    kinds = [m.split("=")[0] for m in messages]
    assert kinds[0] == "READY" and "lane north-1 ready" in messages[0]
    assert kinds.count("WATCHDOG") >= 3 and kinds[-1] == "STOPPING"


def test_clip_cut_off_mid_run_alarms_and_the_daemon_recovers(tmp_path: Path) -> None:
    """The camera's clip is truncated while the daemon plays it, then made whole: an
    alarm, then its end, and the admissions after the cut still happen, no restart."""
    now = int(time.time())
    kit = live_ledger(now, ["t0", "t1"])
    clip = tmp_path / "lane.avi"
    rng = np.random.default_rng(4)
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    first = render_frame([code("t0", now)], rng, (640, 480), degradations=()).image
    last = render_frame([code("t1", now)], rng, (640, 480), degradations=()).image
    for i in range(60):
        image = (
            first
            if i < 3
            else last
            if i >= 55
            else render_frame([], rng, (640, 480), degradations=("noise",)).image
        )
        writer.write(image)
    writer.release()
    whole = clip.read_bytes()
    config = daemon_config(tmp_path, kit, f"file:{clip}?fps=20&retry=0.3")
    assert gate(config, "ledger", "apply", str(tmp_path / "ledger.jsonl")).returncode == 0
    env = {**os.environ, "GATEHOUSE_CONFIG": str(config)}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "gate", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert daemon.stdout is not None
    seen: list[dict] = []

    def until(kind: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = daemon.stdout.readline()
            if not line:
                break
            if line.startswith("{"):
                seen.append(json.loads(line))
                if seen[-1]["event"] == kind:
                    return
        daemon.kill()
        pytest.fail(f"no {kind} event; saw {[e['event'] for e in seen]}")

    until("decision")  # t0, from the first frames
    clip.write_bytes(whole[: len(whole) // 3])  # the clip is cut off under the daemon
    until("alarm")
    time.sleep(0.5)
    clip.write_bytes(whole)
    until("alarm_cleared")
    until("decision")  # t1, from the last frames: the run went on
    until("stopped")
    daemon.wait(timeout=30)
    assert daemon.returncode == 0
    decisions = [e for e in seen if e["event"] == "decision"]
    assert [(d["reason"], d["ticket"]) for d in decisions] == [
        ("ok", ticket_id("t0")),
        ("ok", ticket_id("t1")),
    ]
