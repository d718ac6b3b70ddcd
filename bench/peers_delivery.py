"""The CPU of one peer delivery, alone: one record from one gate taken by another.

Run it with ``.venv/bin/python -m bench.peers_delivery`` (a few seconds a way).

``bench.peers_scale`` measures the exchange among fifty daemons, where the cores are
shared by all of them and the figures move with whatever else the machine runs. This
one takes the delivery apart in one process, on CPU time (``time.process_time``: every
thread, sender and receiver both), so that the ways of sending compare in one run:

- ``floor``: ``Checkpoint.accept_peer_records`` called directly with one record: its
  parsing, signature check and commit into ``peers.db``, no HTTP. What every delivery
  costs however it travels.
- ``new connection``: ``POST /v1/peer/records`` with one record, on a new TCP connection
  each (``Connection: close``), served on a new thread each: how the exchange sent
  before its connections were kept alive.
- ``kept alive``: the same POST on one HTTP/1.1 connection kept open.
- ``kept alive, N a request``: N records in one POST (a round's relays, or records that
  piled up while a push was on its way).

Each way gets a fresh state directory and the same records: ``--devices`` peers (49) of
a ledger that names them, ``--per-device`` records each (20), sent interleaved as a
venue's admissions arrive.

Then the projection to ``--lanes`` (200), each admitting ``--lane-rate`` a second (0.4:
20 a second over 50 lanes): every gate takes every other lane's admissions, a(L-1) a
second, and sends its own to every peer, as many; one delivery's CPU (both ends, as
measured here) times that is the exchange's CPU per gate for the pushes, on this
machine's cores, with nothing else on them (``bench.peers_scale`` adds the rounds).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from gate.peer_service import RECORDS_PATH, PeerService
from sync.throttle import Throttle
from tests.ledgerkit import LedgerKit, device, issue, show
from tests.peerkit import PeerChain
from tests.statekit import apply, gate

from .verifier import cpu_model

Send = Callable[[list[str]], None]


def ledger(devices: int, per_device: int) -> LedgerKit:
    kit = LedgerKit()
    kit.append([show()])
    kit.append([issue(f"t{i}") for i in range(devices * per_device)])
    kit.append([device(f"peer-{d}") for d in range(devices)])
    return kit


def records(devices: int, per_device: int) -> list[str]:
    """Interleaved: the first record of every device, then the second, and so on."""
    chains = [PeerChain(f"peer-{d}") for d in range(devices)]
    out = []
    for i in range(per_device):
        for d, chain in enumerate(chains):
            out.append(chain.admit(f"t{d * per_device + i}"))
    return out


def timed(root: Path, kit: LedgerKit, lines: list[str], per: int, way: str) -> tuple[float, float]:
    """(CPU ms, wall ms) per record of sending ``lines``, ``per`` a request, ``way``."""
    state = Path(tempfile.mkdtemp(dir=root))
    cp = gate(state, kit)
    assert apply(cp, kit).error is None
    batches = [lines[i : i + per] for i in range(0, len(lines), per)]
    try:
        if way == "floor":
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for batch in batches:
                report = cp.accept_peer_records(batch, int(time.time()))
                assert report.accepted == len(batch), report
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            return 1000 * cpu / len(lines), 1000 * wall / len(lines)
        # One sender at full speed is no flood: a throttle that never runs dry (its
        # bookkeeping still costs what it costs every request).
        throttle = Throttle(10**9, 1.0, time.monotonic)
        with PeerService(lambda: gate(state, kit), host="127.0.0.1", throttle=throttle) as service:
            conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for batch in batches:
                body = "".join(line + "\n" for line in batch).encode("utf-8")
                if way == "new connection":
                    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
                    headers = {"Connection": "close"}
                else:
                    headers = {}
                conn.request("POST", RECORDS_PATH, body=body, headers=headers)
                reply = conn.getresponse()
                assert reply.status == 200, reply.read()
                reply.read()
                if way == "new connection":
                    conn.close()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            conn.close()
            return 1000 * cpu / len(lines), 1000 * wall / len(lines)
    finally:
        cp.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers_delivery", description=__doc__)
    parser.add_argument("--devices", type=int, default=49, help="peers sending (49)")
    parser.add_argument("--per-device", type=int, default=20, help="records each (20)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every way (3)")
    parser.add_argument("--batch", type=int, default=8, help="records a request, batched (8)")
    parser.add_argument("--lanes", type=int, default=200, help="lanes projected to (200)")
    parser.add_argument("--lane-rate", type=float, default=0.4, help="admissions/s a lane (0.4)")
    args = parser.parse_args(argv)
    print(f"cpu: {cpu_model()}")
    kit = ledger(args.devices, args.per_device)
    lines = records(args.devices, args.per_device)
    ways = [
        ("floor", 1, "floor (accept_peer_records, no HTTP)"),
        ("new connection", 1, "new connection a request"),
        ("kept alive", 1, "kept alive"),
        ("kept alive", args.batch, f"kept alive, {args.batch} a request"),
    ]
    results: dict[str, list[tuple[float, float]]] = {label: [] for _, _, label in ways}
    with tempfile.TemporaryDirectory() as root:
        # Interleaved repeats: a machine that gets busier halfway weighs on every way.
        for _, (way, per, label) in itertools.product(range(args.repeat), ways):
            results[label].append(timed(Path(root), kit, lines, per, way))
    print(f"{len(lines)} records, {args.repeat} runs each; median of the runs, per record")
    deliveries = args.lane_rate * (args.lanes - 1)  # taken (and sent) a second, per gate
    print(
        f"projected: {args.lanes} lanes at {args.lane_rate:g}/s each, {deliveries:.1f} "
        "deliveries a second per gate"
    )
    print(f"{'way':<40}{'CPU ms':>10}{'wall ms':>10}{'% of a core':>14}{'requests/s':>12}")
    for (_, per, label), runs in zip(ways, results.values(), strict=True):
        cpu = statistics.median(c for c, _ in runs)
        wall = statistics.median(w for _, w in runs)
        requests = "" if label.startswith("floor") else f"{deliveries / per:.1f}"
        print(f"{label:<40}{cpu:>10.3f}{wall:>10.3f}{deliveries * cpu / 10:>14.1f}{requests:>12}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
