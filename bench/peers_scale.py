"""Benchmark of the peer exchange at venue scale: fifty gates, no hub, 20 admissions/s.

Run it with ``.venv/bin/python -m bench.peers_scale`` (bench/README.md explains the
figures); ``--gates 5 --seconds 10`` is a quick look.

``--gates`` real ``gate run`` daemons (the test suite's ``tests.peers.venue.Venue``: one
ledger naming every gate's device key, sim relay, a serial scanner on a pty that gets
no input but the codes below, so no camera frames), each with its ``[peers]`` child
listening on its own loopback address 127.0.0.N with every other gate in ``urls``.
They are started in waves (``--wave`` at a time) and each is waited for until its
journal says ``peers_started``.

Then ``--idle`` seconds with no admission (the exchange's own cost: ticks and heads
rounds), then ``--seconds`` of admissions at ``--rate`` per second in total, each at a
random gate: a one-entry ticket's live code written to that gate's scanner pty, as a
wallet under a serial scanner would (the pty keeps the rate easily: a write per
admission). For every admission three other random gates are watched: the bench holds
a read-only ``Checkpoint`` open on each gate's state (as ``gate check`` reads it) and
polls ``check(code, now)`` every ``--poll-ms``; the **window** is the time from the
write to the pty to the first ``already_used`` naming the admitting gate, so the
admitting lane's decision and commit are inside it. Target: p99 <= 2 s.

Per gate: RSS (``VmRSS``) of the daemon and of its ``gate peers run`` child, at the
end; CPU (utime + stime of each, from ``/proc/PID/stat``) over the idle period and over
the loaded period; records pushed and pulled (the exchange's ``peers`` journal line,
every 5 s). Messages: the requests each exchange sent (its ``peers`` line counts them;
as many were received) and the TCP connections it opened for them (a peer's connection
is kept alive, so far fewer); the machine's ``Tcp: ActiveOpens`` (``/proc/net/snmp``)
and loopback bytes (``/proc/net/dev``) over a period, over the gates. The two machine
counters are machine-wide: as root the run gets a network namespace of its own.

From these the benchmark projects a gate's cost at ``--project`` lanes (200) at the same
admission rate per lane: a push per admission per peer, plus the rounds' heads reads
(``fanout`` per ``interval``), which do not grow with the venue.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import json
import os
import random
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.peers.venue import Venue, VenueLane, live_code

from .result import ROW_KEYS, Row, print_table, verdict
from .verifier import cpu_model, filesystem_of, percentile

TARGET_WINDOW_S = 2.0
WATCHED = 3  # other gates watched per admission
GIVE_UP_S = 10.0  # a refusal not seen by then is counted as missed
STOP_S = 120.0  # a daemon has this long to stop after its SIGTERM
SAVE_EVERY_S = 5.0  # gate.peer_exchange.SAVE_EVERY_S: how often the `peers` line comes
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "peers_scale.json"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- /proc --------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found


def peers_child(pid: int) -> int | None:
    """The daemon's ``gate ... peers run`` child."""
    for child in children(pid):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"peers" in argv and b"run" in argv:
            return child
    return None


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_mib(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tcp_active_opens() -> int:
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Tcp:")]
    return int(rows[1][rows[0].index("ActiveOpens")])


def loopback_bytes() -> int:
    with open("/proc/net/dev") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name.strip() == "lo":
                return int(rest.split()[0])  # received on lo = sent on lo
    return 0


def pressure_us(what: str = "cpu") -> int:
    """Microseconds some task waited for a core (``cpu``) or for I/O (``io``): PSI,
    ``/proc/pressure/WHAT``; 0 where the kernel has none."""
    try:
        with open(f"/proc/pressure/{what}") as f:
            some = f.readline().split()
    except OSError:
        return 0
    return int(some[-1].partition("=")[2])


def own_network_namespace() -> bool:
    """Move this process (and the daemons it starts) into a network namespace of its
    own with only ``lo``, up: the TCP and loopback counters then count this benchmark's
    gates alone, not whatever else the machine runs. Needs root (CAP_SYS_ADMIN)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, 0x8913, request))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP
    return True


class Gates:
    """The daemons' and peer children's pids, and snapshots of their counters."""

    def __init__(self, venue: Venue) -> None:
        self.lanes = venue.lanes
        self.pids = {name: lane.proc.pid for name, lane in self.lanes.items()}
        self.children = {name: peers_child(pid) for name, pid in self.pids.items()}
        missing = [name for name, child in self.children.items() if child is None]
        if missing:
            raise SystemExit(f"no `gate peers run` child found under the daemons of {missing}")

    def snapshot(self) -> dict[str, Any]:
        exchanged = {name: last_peers_line(lane) for name, lane in self.lanes.items()}
        return {
            "at": time.monotonic(),
            "opens": tcp_active_opens(),
            "lo_bytes": loopback_bytes(),
            "cpu": {
                name: (cpu_seconds(pid), cpu_seconds(self.children[name]))
                for name, pid in self.pids.items()
            },
            "pushed": sum(e.get("pushed", 0) for e in exchanged.values()),
            "relayed": {name: e.get("relayed", 0) for name, e in exchanged.items()},
            "requests": sum(e.get("requests", 0) for e in exchanged.values()),
            "connections": sum(e.get("connections", 0) for e in exchanged.values()),
            "pulled": sum(e.get("pulled", 0) for e in exchanged.values()),
            "bench_cpu": sum(os.times()[:2]),
            "pressure_us": pressure_us("cpu"),
            "io_pressure_us": pressure_us("io"),
        }

    def rss(self) -> dict[str, tuple[float, float]]:
        return {
            name: (rss_mib(pid), rss_mib(self.children[name])) for name, pid in self.pids.items()
        }


def last_peers_line(lane: VenueLane) -> dict[str, Any]:
    with lane._cond:
        for event in reversed(lane.journal):
            if event["event"] == "peers":
                return event
    return {}


def period(
    before: dict[str, Any], after: dict[str, Any], gates: int, relays: set[str]
) -> dict[str, Any]:
    """Per-gate figures between two snapshots: CPU as % of one core, messages per s;
    the peer children's CPU also apart for the ``relays`` and the other gates."""
    seconds = after["at"] - before["at"]
    daemon = [100 * (after["cpu"][n][0] - before["cpu"][n][0]) / seconds for n in before["cpu"]]
    child = {n: 100 * (after["cpu"][n][1] - before["cpu"][n][1]) / seconds for n in before["cpu"]}
    others = [pct for n, pct in child.items() if n not in relays]
    relaying = [pct for n, pct in child.items() if n in relays]
    relayed = sum(after["relayed"].get(n, 0) - before["relayed"].get(n, 0) for n in relays)
    return {
        "peers_cpu_pct_relays_mean": statistics.fmean(relaying) if relaying else 0.0,
        "peers_cpu_pct_relays_max": max(relaying, default=0.0),
        "peers_cpu_pct_others_mean": statistics.fmean(others) if others else 0.0,
        "records_relayed_per_s": relayed / seconds,
        "seconds": round(seconds, 2),
        "daemon_cpu_pct_mean": statistics.fmean(daemon),
        "daemon_cpu_pct_max": max(daemon),
        "peers_cpu_pct_mean": statistics.fmean(child.values()),
        "peers_cpu_pct_max": max(child.values()),
        "requests_per_gate_per_s": (after["requests"] - before["requests"]) / gates / seconds,
        "connections_per_gate_per_s": (after["opens"] - before["opens"]) / gates / seconds,
        "lo_kib_per_gate_per_s": (after["lo_bytes"] - before["lo_bytes"]) / 1024 / gates / seconds,
        "records_pushed": after["pushed"] - before["pushed"],
        "records_pulled": after["pulled"] - before["pulled"],
        "bench_cpu_pct": 100 * (after["bench_cpu"] - before["bench_cpu"]) / seconds,
        "cpu_pressure_pct": (after["pressure_us"] - before["pressure_us"]) / 1e4 / seconds,
        "io_pressure_pct": (after["io_pressure_us"] - before["io_pressure_us"]) / 1e4 / seconds,
    }


# -- the run ------------------------------------------------------------------------------


def shut_down(venue: Venue) -> list[str]:
    """One SIGTERM to every daemon at once, then wait for all (in parallel, draining
    their output); a daemon still running after :data:`STOP_S` is killed, with its peer
    child, and named in the result. Never a second SIGTERM: a daemon that gets one
    while its handler runs can hang (see bench/README.md)."""
    lanes = [lane for lane in venue.lanes.values() if hasattr(lane, "proc")]
    for lane in lanes:
        if lane.proc.poll() is None:
            lane.proc.send_signal(signal.SIGTERM)
    stuck: list[str] = []

    def finish(lane: VenueLane) -> None:
        try:
            lane.proc.communicate(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            stuck.append(lane.name)
            child = peers_child(lane.proc.pid)
            lane.proc.kill()
            lane.proc.communicate()
            if child is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
        os.close(lane.master)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(finish, lanes))
    return sorted(stuck)


def admit_and_watch(
    venue: Venue, total: int, rate: float, poll_s: float, rng: random.Random
) -> tuple[list[float], list[float], int, dict[str, int]]:
    """``total`` admissions at ``rate``/s at random gates; the windows seen at
    ``WATCHED`` other gates each; the times until the admitting gate's own state held
    the admission (its lane's read, decision and commit); the refusals missed at the
    other gates; admissions per gate."""
    names = list(venue.lanes)
    views = {name: lane.checkpoint() for name, lane in venue.lanes.items()}
    windows: list[float] = []
    own: list[float] = []
    missed = 0
    per_gate = dict.fromkeys(names, 0)
    pending: list[tuple[str, float, str, set[str]]] = []  # code, sent, gate, watched
    try:
        start = time.monotonic()
        done = 0
        while done < total or pending:
            now = time.monotonic()
            if done < total and now >= start + done / rate:
                gate = rng.choice(names)
                watched = set(
                    rng.sample([n for n in names if n != gate], min(WATCHED, len(names) - 1))
                ) | {gate}
                code = live_code(f"t{done}")
                sent = time.monotonic()
                venue.lanes[gate].scan(code)
                pending.append((code, sent, gate, watched))
                per_gate[gate] += 1
                done += 1
                continue
            at = int(time.time())
            still = []
            for code, sent, gate, watched in pending:
                for other in list(watched):
                    decision = views[other].check(code, at)
                    if decision.reason == "already_used":
                        seen = time.monotonic()
                        if decision.first_device != gate:
                            raise SystemExit(
                                f"{other} refused a code admitted at {gate} naming "
                                f"{decision.first_device}"
                            )
                        (own if other == gate else windows).append(seen - sent)
                        watched.discard(other)
                if watched and time.monotonic() - sent > GIVE_UP_S:
                    missed += len(watched - {gate})
                elif watched:
                    still.append((code, sent, gate, watched))
            pending = still
            wake = start + done / rate if done < total else time.monotonic() + poll_s
            time.sleep(max(0.0, min(wake, time.monotonic() + poll_s) - time.monotonic()))
    finally:
        for view in views.values():
            view.close()
    return windows, own, missed, per_gate


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    total = int(args.rate * args.seconds)
    names = [f"g{i:03d}" for i in range(args.gates)]
    began = time.monotonic()
    print(f"making {args.gates} gates over one ledger of {total + 50} tickets ...", flush=True)
    extra = "".join(
        f"{key} = {value}\n"
        for key, value in (
            ("fanout", args.fanout),
            ("interval", args.interval),
            ("direct_peers", args.direct_peers),
        )
        if value is not None
    )
    venue = Venue(workdir, names, tickets=total + 50, jobs=2, peers_extra=extra)
    made = time.monotonic()
    print(f"  made in {made - began:.0f} s; starting them, {args.wave} at a time ...", flush=True)
    try:
        venue.start(wave=args.wave)
        started = time.monotonic()
        print(f"  all {args.gates} peer children started in {started - made:.0f} s", flush=True)
        gates = Gates(venue)
        time.sleep(SAVE_EVERY_S + 1)  # every gate has read every peer's heads once
        idle0 = gates.snapshot()
        time.sleep(args.idle)
        idle1 = gates.snapshot()
        print(
            f"idle {args.idle:g} s measured; admitting {total} at {args.rate:g}/s ...", flush=True
        )
        windows, own, missed, per_gate = admit_and_watch(
            venue, total, args.rate, args.poll_ms / 1000, random.Random(args.seed)
        )
        time.sleep(SAVE_EVERY_S + 1)  # the `peers` lines catch up with the last pushes
        loaded1 = gates.snapshot()
        relays = sorted(n for n, r in loaded1["relayed"].items() if r > idle1["relayed"].get(n, 0))
        rss = gates.rss()
        admitted = sum(
            sum(d["result"] == "admitted" for d in lane.decisions())
            for lane in venue.lanes.values()
        )
        other = sorted(
            {d["reason"] for lane in venue.lanes.values() for d in lane.decisions()} - {"ok"}
        )
    finally:
        stuck = shut_down(venue)
    return {
        "stuck": stuck,
        "total": total,
        "admitted": admitted,
        "other_reasons": other,
        "per_gate_admissions": per_gate,
        "windows": windows,
        "own": own,
        "missed": missed,
        "relays": relays,
        "idle": period(idle0, idle1, args.gates, set(relays)),
        "loaded": period(idle1, loaded1, args.gates, set(relays)),
        "rss": rss,
        "startup_s": round(started - made, 1),
    }


def project(
    result: dict[str, Any],
    gates: int,
    rate: float,
    lanes: int,
    lane_rate: float,
    fanout: int,
    interval: float,
) -> dict[str, Any]:
    """Per-gate cost at ``lanes`` lanes, each admitting ``lane_rate`` per second (the
    measured column: this run's ``gates`` at ``rate / gates`` each).

    When every gate pushed to every peer (no relay in the run: a venue of at most
    ``direct_peers`` peers):
        requests/s per gate = a * (L - 1) * m  +  h
        CPU of the peer child = c_idle + a * (L - 1) * c_pair
    where a is the admissions per second per lane, m the requests per admission per
    peer (one push: measured), h the rounds' requests per second (measured idle; about
    fanout / interval), c_pair the peer children's CPU per admission per peer (its
    push on one side and its verification and commit on the other, over both).

    Through relays (R = 2 of them per record, each passing on at most every T = 0.5 s;
    V = a * L the venue's admissions a second, b = min(1/T, V) batches a second a
    relay sends each peer):
        a gate that does not relay sends a * R pushes + h, and receives R * b batches
        holding R * V records; its peer child's CPU above idle is c_rec * R * V, c_rec
        measured as all of it per record received (an upper bound: the batches a
        second do not grow with the venue);
        a relay receives about V pushes and sends (L - 1) * b batches, V * (L - 1)
        records; its CPU above idle is measured here and scaled between two bounds:
        by the batches it sends (all of its cost per request) and by the records it
        sends (all of it per record)."""
    idle, loaded = result["idle"], result["loaded"]
    admissions = result["total"]
    seconds = loaded["seconds"]
    a = rate / gates
    h = idle["requests_per_gate_per_s"]
    c_admit = (
        (loaded["daemon_cpu_pct_mean"] - idle["daemon_cpu_pct_mean"])
        / 100
        * gates
        * seconds
        / admissions
    )
    out: dict[str, Any] = {
        "mode": "relays" if result["relays"] else "direct",
        "relays": result["relays"],
        "a_per_lane_per_s": a,
        "a_projected_per_lane_per_s": lane_rate,
        "h_round_requests_per_s": h,
        "h_expected_fanout_over_interval": fanout / interval,
        "c_admit_ms": 1000 * c_admit,
    }
    if not result["relays"]:
        pairs = admissions * (gates - 1)
        m = (loaded["requests_per_gate_per_s"] - h) * gates * seconds / pairs
        c_pair = (
            (loaded["peers_cpu_pct_mean"] - idle["peers_cpu_pct_mean"])
            / 100
            * gates
            * seconds
            / pairs
        )
        kib_pair = (
            (loaded["lo_kib_per_gate_per_s"] - idle["lo_kib_per_gate_per_s"])
            * gates
            * seconds
            / pairs
        )

        def direct(n: int, a: float) -> dict[str, float]:
            return {
                "lanes": n,
                "admissions_per_s_venue": a * n,
                "pushes_sent_per_s": a * (n - 1) * m,
                "pushes_received_per_s": a * (n - 1) * m,
                "rounds_requests_per_s": h,
                "requests_sent_per_s": a * (n - 1) * m + h,
                "lo_kib_per_s": a * (n - 1) * kib_pair + idle["lo_kib_per_gate_per_s"],
                "peers_cpu_pct": idle["peers_cpu_pct_mean"] + 100 * a * (n - 1) * c_pair,
                "daemon_cpu_pct": idle["daemon_cpu_pct_mean"] + 100 * a * c_admit,
            }

        out |= {
            "m_requests_per_admission_per_peer": m,
            "c_pair_ms": 1000 * c_pair,
            "kib_per_admission_per_peer": kib_pair,
            "measured": direct(gates, a),
            "projected": direct(lanes, lane_rate),
        }
        return out
    from gate.peer_exchange import RELAY_EVERY_S, RELAYS

    measured_v = rate
    d_other = loaded["peers_cpu_pct_others_mean"] - idle["peers_cpu_pct_others_mean"]
    d_relay = loaded["peers_cpu_pct_relays_mean"] - idle["peers_cpu_pct_relays_mean"]
    c_rec = d_other / 100 / (RELAYS * measured_v)
    batches_m = (gates - 1) * min(1 / RELAY_EVERY_S, measured_v)
    records_m = measured_v * (gates - 1)

    def relayed(n: int, a: float) -> dict[str, float]:
        v = a * n
        b = min(1 / RELAY_EVERY_S, v)
        return {
            "lanes": n,
            "admissions_per_s_venue": v,
            "pushes_sent_per_s": a * RELAYS,
            "batches_received_per_s": RELAYS * b,
            "records_received_per_s": RELAYS * v,
            "rounds_requests_per_s": h,
            "requests_sent_per_s": a * RELAYS + h,
            "peers_cpu_pct": idle["peers_cpu_pct_others_mean"] + 100 * c_rec * RELAYS * v,
            "relay_pushes_received_per_s": v,
            "relay_batches_sent_per_s": (n - 1) * b,
            "relay_records_sent_per_s": v * (n - 1),
            "relay_cpu_pct_low": idle["peers_cpu_pct_relays_mean"]
            + d_relay * (n - 1) * b / batches_m,
            "relay_cpu_pct_high": idle["peers_cpu_pct_relays_mean"]
            + d_relay * v * (n - 1) / records_m,
            "daemon_cpu_pct": idle["daemon_cpu_pct_mean"] + 100 * a * c_admit,
        }

    out |= {
        "c_rec_ms": 1000 * c_rec,
        "records_relayed_per_s": loaded["records_relayed_per_s"],
        "measured": relayed(gates, a),
        "projected": relayed(lanes, lane_rate),
    }
    return out


def report(
    result: dict[str, Any], proj: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    windows = sorted(result["windows"])
    w = {
        "count": len(windows),
        "missed": result["missed"],
        "median_ms": 1000 * statistics.median(windows) if windows else None,
        "p99_ms": 1000 * percentile(windows, 99) if windows else None,
        "max_ms": 1000 * windows[-1] if windows else None,
    }
    ok = bool(windows) and not result["missed"] and w["p99_ms"] <= 1000 * TARGET_WINDOW_S
    own = sorted(result["own"])
    w["admitting_gate_median_ms"] = 1000 * statistics.median(own) if own else None
    w["admitting_gate_p99_ms"] = 1000 * percentile(own, 99) if own else None
    print()
    print(
        f"admissions: {result['total']} written, {result['admitted']} admitted"
        + (
            f" (other reasons: {', '.join(result['other_reasons'])})"
            if result["other_reasons"]
            else ""
        )
        + f"; gates started in {result['startup_s']:g} s"
    )
    print(
        f"window over {w['count']} refusals ({WATCHED} gates watched per admission): "
        f"median {w['median_ms']:.0f} ms, p99 {w['p99_ms']:.0f} ms, max {w['max_ms']:.0f} ms; "
        f"missed {w['missed']} (target p99 <= {TARGET_WINDOW_S:g} s: {'ok' if ok else 'MISS'})"
    )
    if own:
        print(
            f"of which the admitting gate itself (pty to its own committed record, {len(own)}):"
            f" median {w['admitting_gate_median_ms']:.0f} ms, p99 "
            f"{w['admitting_gate_p99_ms']:.0f} ms"
        )
    rss_d = [d for d, _ in result["rss"].values()]
    rss_c = [c for _, c in result["rss"].values()]
    print()
    print(f"{'per gate (' + str(args.gates) + ' gates)':<34}{'mean':>10}{'max':>10}")
    rows = [
        ("daemon RSS, MiB", statistics.fmean(rss_d), max(rss_d)),
        ("peers child RSS, MiB", statistics.fmean(rss_c), max(rss_c)),
    ]
    for label, key in (("idle", "idle"), ("loaded", "loaded")):
        p = result[key]
        rows += [
            (f"daemon CPU {label}, % of a core", p["daemon_cpu_pct_mean"], p["daemon_cpu_pct_max"]),
            (f"peers child CPU {label}, %", p["peers_cpu_pct_mean"], p["peers_cpu_pct_max"]),
        ]
    for label, mean, top in rows:
        print(f"{label:<34}{mean:>10.2f}{top:>10.2f}")
    for key in ("idle", "loaded"):
        p = result[key]
        print(
            f"{key} {p['seconds']:g} s: {p['requests_per_gate_per_s']:.2f} requests sent/s per "
            f"gate (as many received) over {p['connections_per_gate_per_s']:.2f} new "
            f"connections/s, {p['lo_kib_per_gate_per_s']:.1f} KiB/s on loopback "
            f"per gate; "
            f"records pushed {p['records_pushed']}, pulled {p['records_pulled']}; "
            f"this bench's own CPU {p['bench_cpu_pct']:.0f} % of a core; CPU pressure "
            f"{p['cpu_pressure_pct']:.0f} %, I/O pressure {p['io_pressure_pct']:.0f} % (of the "
            "time, some task on the machine waited for a core, for the disk)"
        )
    if result["loaded"]["cpu_pressure_pct"] > 50:
        print(
            "WARNING: the cores were saturated during the admissions: the exchange was "
            "starved, its pushes coalesced (m < 1) and its CPU figures are what it got, not "
            "what it wanted; the projection below understates"
        )
    print()
    print_projection(proj)
    return {
        "gates": args.gates,
        "rate": args.rate,
        "seconds": args.seconds,
        "admitted": result["admitted"],
        "window": {k: (round(v, 1) if isinstance(v, float) else v) for k, v in w.items()},
        "window_ok": ok,
        "rss_mib": {
            "daemon_mean": round(statistics.fmean(rss_d), 1),
            "daemon_max": round(max(rss_d), 1),
            "peers_mean": round(statistics.fmean(rss_c), 1),
            "peers_max": round(max(rss_c), 1),
        },
        "relays": result["relays"],
        "idle": _rounded(result["idle"]),
        "loaded": _rounded(result["loaded"]),
        "projection": _rounded(proj),
    }


def print_projection(proj: dict[str, Any]) -> None:
    m, p = proj["measured"], proj["projected"]
    if proj["mode"] == "direct":
        print(
            "projection (every gate pushes to every peer): a = admissions/s per lane; "
            "L = lanes; per gate\n"
            "  requests sent/s (= received/s) = a*(L-1)*m + h\n"
            "  peers child CPU = idle + a*(L-1)*c_pair;  daemon CPU = idle + a*c_admit\n"
            f"  measured: a = {proj['a_per_lane_per_s']:.3f}/s (projected: "
            f"{proj['a_projected_per_lane_per_s']:.3f}/s), m = "
            f"{proj['m_requests_per_admission_per_peer']:.3f} requests per admission per "
            f"peer, h = {proj['h_round_requests_per_s']:.2f}/s (fanout/interval = "
            f"{proj['h_expected_fanout_over_interval']:g}), c_pair = "
            f"{proj['c_pair_ms']:.3f} ms, c_admit = {proj['c_admit_ms']:.2f} ms, "
            f"{proj['kib_per_admission_per_peer']:.2f} KiB per admission per peer"
        )
        rows = (
            ("venue admissions/s", "admissions_per_s_venue"),
            ("pushes sent/s (= received/s)", "pushes_sent_per_s"),
            ("rounds requests/s", "rounds_requests_per_s"),
            ("requests sent/s", "requests_sent_per_s"),
            ("loopback KiB/s", "lo_kib_per_s"),
            ("peers child CPU, % of a core", "peers_cpu_pct"),
            ("daemon CPU, % of a core", "daemon_cpu_pct"),
        )
    else:
        print(
            f"projection (through relays: {', '.join(proj['relays'])} relayed here): "
            "a = admissions/s per lane; L = lanes; V = a*L; R = 2 relays a record; "
            "b = min(2, V) batches/s a relay sends each peer\n"
            "  a gate: sends a*R pushes + h; receives R*b batches of R*V records; "
            "peers child CPU = idle + c_rec*R*V (c_rec: all of it per record received)\n"
            "  a relay: receives ~V pushes; sends (L-1)*b batches of V*(L-1) records; "
            "CPU above idle scaled by the batches (low) or by the records (high)\n"
            f"  measured: a = {proj['a_per_lane_per_s']:.3f}/s (projected: "
            f"{proj['a_projected_per_lane_per_s']:.3f}/s), h = "
            f"{proj['h_round_requests_per_s']:.2f}/s, c_rec = {proj['c_rec_ms']:.3f} ms, "
            f"c_admit = {proj['c_admit_ms']:.2f} ms, records relayed "
            f"{proj['records_relayed_per_s']:.0f}/s"
        )
        rows = (
            ("venue admissions/s", "admissions_per_s_venue"),
            ("a gate: pushes sent/s", "pushes_sent_per_s"),
            ("a gate: rounds requests/s", "rounds_requests_per_s"),
            ("a gate: batches received/s", "batches_received_per_s"),
            ("a gate: records received/s", "records_received_per_s"),
            ("a gate: peers child CPU, %", "peers_cpu_pct"),
            ("a relay: pushes received/s", "relay_pushes_received_per_s"),
            ("a relay: batches sent/s", "relay_batches_sent_per_s"),
            ("a relay: records sent/s", "relay_records_sent_per_s"),
            ("a relay: CPU, % (low)", "relay_cpu_pct_low"),
            ("a relay: CPU, % (high)", "relay_cpu_pct_high"),
            ("daemon CPU, % of a core", "daemon_cpu_pct"),
        )
    print(f"{'per gate':<34}{str(m['lanes']) + ' lanes':>12}{str(p['lanes']) + ' lanes':>12}")
    for label, key in rows:
        print(f"{label:<34}{m[key]:>12.2f}{p[key]:>12.2f}")


def summary_rows(summary: dict[str, Any]) -> list[Row]:
    """The run's figures as the common table's rows (bench.result)."""
    w = summary["window"]
    if w["p99_ms"] is None:
        return [Row("window p99", "no refusal seen", "", "", "", verdict(False))]
    own = w["admitting_gate_p99_ms"]
    loaded = summary["loaded"]
    return [
        Row(
            f"window p99 ({summary['gates']} gates, {summary['rate']:g}/s)",
            f"{w['p99_ms']:.0f} ms",
            f"{own:.0f} ms (admitting gate)" if own else "",
            f"{w['p99_ms'] / own:.2f}" if own else "",
            f"<= {1000 * TARGET_WINDOW_S:.0f} ms, none missed",
            verdict(summary["window_ok"]),
        ),
        Row("  window median", f"{w['median_ms']:.0f} ms", "", "", "", "-"),
        Row("  refusals missed", f"{w['missed']} of {w['count'] + w['missed']}", "", "", "", "-"),
        Row(
            "  peers child CPU loaded",
            f"{loaded['peers_cpu_pct_mean']:.2f} % (mean)",
            f"{summary['idle']['peers_cpu_pct_mean']:.2f} % (idle)",
            "",
            "",
            "-",
        ),
        *(
            [
                Row(
                    f"  of a relay ({len(summary['relays'])})",
                    f"{loaded['peers_cpu_pct_relays_mean']:.2f} % (mean)",
                    f"{summary['idle']['peers_cpu_pct_relays_mean']:.2f} % (idle)",
                    "",
                    "",
                    "-",
                )
            ]
            if summary["relays"]
            else []
        ),
    ]


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 4) if isinstance(value, float) else value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers_scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--gates", type=int, default=50, help="gate daemons (50)")
    parser.add_argument("--rate", type=float, default=20.0, help="admissions/s in total (20)")
    parser.add_argument("--seconds", type=float, default=60.0, help="of admissions (60)")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds measured idle (10)")
    parser.add_argument("--wave", type=int, default=5, help="daemons started at once (5)")
    parser.add_argument("--poll-ms", type=float, default=20.0, help="window polling (20)")
    parser.add_argument("--project", type=int, default=200, help="lanes to project to (200)")
    parser.add_argument(
        "--lane-rate",
        type=float,
        default=20 / 50,
        help="admissions/s per lane in the projection (0.4: 20/s over 50 lanes)",
    )
    parser.add_argument(
        "--shared-network",
        action="store_true",
        help="stay in the machine's network namespace (the message counters then count "
        "everything on the machine; by default, as root, the run gets one of its own)",
    )
    parser.add_argument("--fanout", type=int, help="[peers] fanout (default: the gate's)")
    parser.add_argument("--interval", type=float, help="[peers] interval (default: the gate's)")
    parser.add_argument(
        "--direct-peers",
        type=int,
        help="[peers] direct_peers (default: the gate's, 8: fifty gates go through relays)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the JSON")
    parser.add_argument("--keep-state", action="store_true")
    args = parser.parse_args(argv)
    if not 2 <= args.gates <= 240:
        parser.error("--gates must be from 2 to 240 (loopback addresses 127.0.0.10 on)")
    workdir = args.cache_dir / f"peers-scale-{os.getpid()}"
    workdir.mkdir(parents=True, mode=0o700)
    print(f"cpu: {cpu_model()}; {os.cpu_count()} cores")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"state on {filesystem_of(workdir)}")
    isolated = not args.shared_network and own_network_namespace()
    print(
        "network: a namespace of this run's own (the message counters are the gates' alone)"
        if isolated
        else "network: the machine's (WARNING: the message counters count all its TCP traffic)"
    )
    try:
        result = run(args, workdir)
    finally:
        if not args.keep_state:
            shutil.rmtree(workdir, ignore_errors=True)
    proj = project(result, args.gates, args.rate, args.project, args.lane_rate, 3, 1.0)
    summary = report(result, proj, args)
    if result["stuck"]:
        print(
            f"WARNING: {len(result['stuck'])} daemon(s) did not stop within {STOP_S:g} s of "
            f"their SIGTERM and were killed: {', '.join(result['stuck'])}"
        )
    summary["stuck_at_stop"] = result["stuck"]
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = summary_rows(summary)
    print()
    print_table(rows)
    summary = {
        "bench": "peers_scale",
        "rows": [{k: getattr(r, k) for k in ROW_KEYS} for r in rows],
        **summary,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(summary))
    return 0 if result["admitted"] == result["total"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
