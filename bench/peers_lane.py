"""Benchmark of the peer exchange's cost to the lane: is decide+commit as quick with it?

Run it with ``.venv/bin/python -m bench.peers_lane`` (bench/README.md explains the
figures). It follows ``bench.control``: a real ``gate.lane.Lane`` in this process (real
state, synced commits, sim relay) fed scanner text lines (``TextLine``: no decoder) with
the live code of a new attendee each, every ``--pace-ms`` (50 ms: 20 admissions a
second at this one lane, fifty times a lane's share of a busy venue, so that the
exchange's traffic overlaps every admission and every one of them is pushed).

Two conditions, alternating in ``--rounds`` rounds in one run:

- **with peers**: the gate's own ``gate peers run`` child, started as the daemon starts
  it (``gate.peer_worker.PeerWorker``: nice 5, its data memory capped) over the lane's
  state, listening on 127.0.0.20 with three peers in ``urls``; the three peers are real
  ``gate peers run`` processes over states of their own (on ``--peer-dir``, a tmpfs:
  their disks are other gates' disks, not this one's) at nice 10 (their CPU is other
  gates' CPU: they take what the lane leaves); and an admitter process (nice 10) that
  admits other attendees at the three peers, ``--peer-rate`` a second in total
  (``Checkpoint.admit`` on their states, as ``gate admit`` does). So both directions
  are loaded: the three peers push their admissions to the gate, which verifies and
  commits each into ``peers.db``, and the gate pushes each of its lane's admissions to
  the three of them, with the rounds' heads reads and pulls on top.
- **no peers**: all of those processes stopped (SIGSTOP: they use no CPU and do no I/O;
  SIGCONT at the next "with" round, where the gate's child first pushes the round's
  backlog, as after a partition).

Printed per run: p50/p99 of decide+commit and of the whole decision (with the relay)
per condition, the ratio with / without, and the noise (the no-peer rounds, odd against
even). Each place (the disk, then a tmpfs where fsync costs nothing and what is left is
the CPU the exchange takes from the lane) is run ``--repeat`` times; the verdict is on
the median run. Target: p99 ratio <= 1.2. The run also checks that the traffic was
there: the records the gate took from its peers, and its lane's records the peers hold.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gate.config import load_config
from gate.lane import Lane
from gate.outputs import Outputs
from gate.peer_worker import PeerWorker
from hardware import output_for_url
from scanner.frame import TextLine
from scanner.render import Wallet
from verifier import Checkpoint, Policy, make_block
from verifier.blocks import block_hash

from .control import Run, _NoDecoder, pct
from .lane import bench_checkpoint, build_ledger
from .result import Row, add_json_option, print_table, write_json
from .result import verdict as pass_or_miss
from .verifier import cpu_model, filesystem_of

TARGET_RATIO = 1.2
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
ROOT = Path(__file__).resolve().parent.parent
GATE = "bench-lane"
PEERS = ("peer-1", "peer-2", "peer-3")
POLICY = Policy(events=frozenset({"bench-show"}))
WITH, WITHOUT = "with peers", "no peers"


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def admitter(states: list[str], wallets: list[str], rate: float, key: bytes) -> None:
    """The other gates' admissions: ``rate`` a second in turn at the peers' states."""
    os.nice(10)
    views = [
        Checkpoint(Path(s), device=d, ledger_key=key, policy=POLICY)
        for s, d in zip(states, PEERS, strict=True)
    ]
    next_at = time.monotonic()
    for i, name in enumerate(wallets):
        # no catching up after a SIGSTOP: the rate stays the rate
        next_at = max(next_at + 1 / rate, time.monotonic()) if i else next_at
        time.sleep(max(0.0, next_at - time.monotonic()))
        wallet = Wallet.named(name, "bench")
        decision = views[i % len(views)].admit(wallet.code(int(time.time())), int(time.time()))
        if decision.reason != "ok":
            print(f"admitter: {name} {decision.reason}", file=sys.stderr, flush=True)
    print("admitter: out of tickets", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, workdir: Path, peer_dir: Path) -> dict[str, Any]:
    now = int(time.time())
    lane_names = [f"peers-lane-{i}" for i in range(2 * args.admissions)]
    with_s = args.admissions * args.pace_ms / 1000 + args.rounds * 1.0
    peer_names = [f"peers-lane-peer-{i}" for i in range(int(args.peer_rate * with_s * 2) + 100)]
    wallets = [Wallet.named(n, "bench") for n in lane_names + peer_names]
    states = {GATE: workdir / "state"} | {p: peer_dir / p / "state" for p in PEERS}
    authority, lines = build_ledger(wallets, now)
    keys = {}
    for device, state in states.items():
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir(mode=0o700, parents=True)
        with Checkpoint(state, device=device, ledger_key=authority.public_key, policy=POLICY) as cp:
            keys[device] = cp.public_key
    prev = block_hash(json.loads(lines[-1])).hex()
    devices = [
        {"op": "device", "device": d, "key": k.hex(), "active": True} for d, k in keys.items()
    ]
    lines.append(json.dumps(make_block(authority, len(lines), prev, now - 500, devices)) + "\n")
    hosts = {GATE: "127.0.0.20"} | {p: f"127.0.0.{21 + i}" for i, p in enumerate(PEERS)}
    configs: dict[str, Any] = {}
    ports: dict[str, str] = {}
    for device in states:  # ports first: every config names the others' URLs
        ports[device] = f"http://{hosts[device]}:{free_port(hosts[device])}"
    for device, state in states.items():
        with bench_checkpoint(state, device, authority, lines):
            pass
        home = state.parent
        urls = [ports[GATE]] if device != GATE else [ports[p] for p in PEERS]
        host, _, port = ports[device].rpartition(":")
        (home / "gate.toml").write_text(
            f'device = "{device}"\nledger_key = "{authority.public_key.hex()}"\n'
            f'state_dir = "{state}"\nevents = ["bench-show"]\n'
            '[camera]\nurl = "synthetic:"\n[relay]\nurl = "sim:relay"\n'
            f'[peers]\nlisten = "{host.removeprefix("http://")}:{port}"\n'
            "urls = [" + ", ".join(f'"{u}"' for u in urls) + "]\n",
            encoding="utf-8",
        )
        configs[device] = load_config(home / "gate.toml")

    peer_events: list[dict[str, Any]] = []
    started = threading.Event()

    def child_said(event: dict[str, Any]) -> None:
        peer_events.append(event)
        if event.get("event") == "peers_started":
            started.set()

    peers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gate",
                "-c",
                str(configs[p].path),
                "peers",
                "run",
                "--nice",
                "10",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        for p in PEERS
    ]
    context = multiprocessing.get_context("spawn")
    admit = context.Process(
        target=admitter,
        args=(
            [str(states[p]) for p in PEERS],
            peer_names,
            args.peer_rate,
            authority.public_key,
        ),
        daemon=True,
    )
    admit.start()
    worker = PeerWorker(configs[GATE], child_said)
    worker.start()
    if not started.wait(60):
        raise SystemExit(f"the gate's peer child did not start: {peer_events[-5:]}")
    child = worker.pid
    assert child is not None
    others = [p.pid for p in peers] + [admit.pid]

    def pause(stop: bool) -> None:
        sig = signal.SIGSTOP if stop else signal.SIGCONT
        order = [*others, child] if stop else [child, *others]
        for pid in order:
            os.kill(pid, sig)

    phases: dict[str, list[dict[str, float]]] = {
        WITHOUT: [],
        WITH: [],
        "no peers, even rounds": [],
        "no peers, odd rounds": [],
    }
    journal: list[dict[str, Any]] = []
    time.sleep(1.0)  # the three peers have started and read each other's heads
    try:
        with bench_checkpoint(states[GATE], GATE, authority, lines) as cp:
            relay = output_for_url("sim:relay?pulse_ms=5")
            lane = Lane(
                cp,
                Outputs(relay=relay),
                _NoDecoder(),
                debounce_s=0.0,
                emit=journal.append,
                clock=lambda: float(now),
            )
            codes = iter(w.code(now) for w in wallets[: len(lane_names)])
            per_round = max(1, args.admissions // args.rounds)
            pace = args.pace_ms / 1000
            for number in range(args.rounds):
                for phase in (WITHOUT, WITH):
                    pause(phase == WITHOUT)
                    time.sleep(0.3)
                    samples = []
                    next_at = time.monotonic()
                    for i in range(per_round):
                        time.sleep(max(0.0, next_at - time.monotonic()))
                        next_at += pace
                        before = len(journal)
                        text = next(codes)
                        item = TextLine(text, text.encode(), time.monotonic(), i)
                        decisions = lane.handle(item)
                        if [d.reason for d in decisions] != ["ok"]:
                            raise SystemExit(f"wrong decision: {[d.reason for d in decisions]}")
                        parts = next(e for e in journal[before:] if e["event"] == "decision")
                        samples.append(parts["latency_ms"])
                        lane.tick()
                    phases[phase] += samples
                    if phase == WITHOUT:
                        half = "even" if number % 2 == 0 else "odd"
                        phases[f"no peers, {half} rounds"] += samples
            pause(False)
            time.sleep(2.0)  # the last round's pushes land
            held = {d: s for d, (s, _) in cp.peer_heads().items()}
            relay.close()
    finally:
        pause(False)
        worker.stop()
        for proc in peers:
            proc.terminate()
        admit.terminate()
        for proc in peers:
            proc.wait(30)
        admit.join(30)
    reached = {}
    for p in PEERS:
        with Checkpoint(states[p], device=p, ledger_key=authority.public_key, policy=POLICY) as cp:
            reached[p] = cp.peer_heads().get(GATE, (0, ""))[0]
    exchanged = [e for e in peer_events if e.get("event") == "peers"]
    trouble = [e for e in peer_events if e.get("event") in ("warning", "alarm", "peers_error")]
    return {
        "phases": phases,
        "from_peers": sum(s for d, s in held.items() if d != GATE),
        "reached": reached,
        "pushed": exchanged[-1]["pushed"] if exchanged else 0,
        "pulled": exchanged[-1]["pulled"] if exchanged else 0,
        "trouble": trouble[:5],
    }


def report(result: dict[str, Any]) -> Run:
    """Print one run's table; return its p99 ratio (with / without peers) and noise."""
    phases = result["phases"]
    print(f"{'phase':<24}{'decide+commit p50':>19}{'p99':>9}{'decision p50':>14}{'p99':>9}")
    p99: dict[str, float] = {}
    for phase, samples in phases.items():
        dc50, dc99 = pct([s["decide"] + s["commit"] for s in samples])
        t50, t99 = pct([s["decide"] + s["commit"] + s["actuate"] for s in samples])
        p99[phase] = dc99
        print(f"{phase:<24}{dc50:>19.3f}{dc99:>9.3f}{t50:>14.3f}{t99:>9.3f}")
    for phase in (WITHOUT, WITH):
        d50, d99 = pct([s["decide"] for s in phases[phase]])
        c50, c99 = pct([s["commit"] for s in phases[phase]])
        print(f"  {phase}: decide p50 {d50:.3f} p99 {d99:.3f}; commit p50 {c50:.3f} p99 {c99:.3f}")
    ratio = p99[WITH] / p99[WITHOUT]
    noise = p99["no peers, odd rounds"] / p99["no peers, even rounds"]
    print(
        f"traffic: {result['from_peers']} peer records taken by the gate; its lane's records "
        f"held by the peers: {', '.join(f'{p} {s}' for p, s in result['reached'].items())}; "
        f"its child pushed {result['pushed']}, pulled {result['pulled']}"
    )
    for event in result["trouble"]:
        print(f"  the child said: {json.dumps(event)[:200]}")
    print(f"ratio p99 with / no peers: {ratio:.2f}; no peers odd / even rounds: {noise:.2f}")
    return Run(ratio, noise, p99[WITH], p99[WITHOUT])


def measure(label: str, base: Path, args: argparse.Namespace) -> list[Run]:
    print(f"\n== {label}: state on {filesystem_of(base)}; peers on {filesystem_of(args.peer_dir)}")
    results = []
    for number in range(args.repeat):
        workdir = base / f"peers-lane-run-{os.getpid()}-{number}"
        peer_dir = args.peer_dir / f"peers-lane-peers-{os.getpid()}-{number}"
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            result = run(args, workdir, peer_dir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            shutil.rmtree(peer_dir, ignore_errors=True)
        print(f"-- run {number + 1} of {args.repeat}: {args.admissions} admissions a condition")
        results.append(report(result))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers_lane",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--admissions", type=int, default=200, help="per condition (200)")
    parser.add_argument("--rounds", type=int, default=10, help="alternations (10)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per place (5)")
    parser.add_argument("--pace-ms", type=float, default=50.0, help="between admissions (50)")
    parser.add_argument(
        "--peer-rate", type=float, default=20.0, help="admissions/s at the peers in total (20)"
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--memory-dir",
        type=Path,
        default=Path("/dev/shm"),
        help="a tmpfs for the second pass, where fsync costs nothing (/dev/shm; 'none' skips)",
    )
    parser.add_argument(
        "--peer-dir", type=Path, default=Path("/dev/shm"), help="the peers' states (/dev/shm)"
    )
    add_json_option(parser)
    args = parser.parse_args(argv)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    print(f"cpu: {cpu_model()}; {os.cpu_count()} cores")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    places = [("disk (synced commits, as on the gate)", args.cache_dir)]
    if str(args.memory_dir) != "none" and args.memory_dir.is_dir():
        places.append(("memory (no fsync: the exchange's CPU)", args.memory_dir))
    summary: dict[str, dict[str, float]] = {}
    lines = []
    rows: list[Row] = []
    for label, base in places:
        results = measure(label, base, args)
        ratios = sorted(r.ratio for r in results)
        noises = sorted(r.noise for r in results)
        median_run = sorted(results, key=lambda r: r.ratio)[len(results) // 2]
        middle = median_run.ratio
        verdict = "ok" if middle <= TARGET_RATIO else "MISS"
        lines.append(
            f"{label}: p99 ratio per run {' '.join(f'{r:.2f}' for r in ratios)}; median "
            f"{middle:.2f} (target <= {TARGET_RATIO}: {verdict}); noise (no peers, odd / "
            f"even rounds) {' '.join(f'{n:.2f}' for n in noises)}"
        )
        summary[label.split()[0]] = {"median_ratio_p99": round(middle, 3)}
        rows.append(
            Row(
                f"decide+commit p99, with peers / none ({label.split()[0]})",
                f"{median_run.p99:.3f} ms",
                f"{median_run.p99_base:.3f} ms (no peers)",
                f"{middle:.2f}",
                f"ratio <= {TARGET_RATIO} (median of {len(results)} runs)",
                pass_or_miss(middle <= TARGET_RATIO),
            )
        )
    print()
    print("\n".join(lines))
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(json.dumps(summary))
    print()
    print_table(rows)
    write_json(args.json, "peers_lane", rows, summary=summary, repeat=args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
