"""Benchmark of the lane: frame-to-relay latency and its parts, on the synthetic source.

Run it with ``.venv/bin/python -m bench.lane`` (bench/README.md explains every figure).

Each frame is a synthetic lane scene holding one live wallet code (degraded as
scanner.render.DEGRADATIONS describes) for a ticket not yet used, so every decision
is an admission and every one pays the whole path: decode, decide, the synced commit,
and the relay pulse. The frame's capture time is stamped just before the lane takes it,
as a camera thread would, and ``total`` runs from there to the relay command returning.

Floors, measured in the same run on the same frames and disk: the decoder alone on the
frame (the same ``decode`` call, a second time) and one empty synced SQLite commit. The
ratio total / (decode + commit floors) is what the pipeline adds on top. Frames the
decoder cannot read are counted and left out of the latency figures (no decision, no
relay), since the lane does nothing for them.

Exit 1 when any decision is wrong (a valid code not admitted); missing a target only
prints MISS.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gate.lane import Lane
from gate.outputs import Outputs
from hardware import output_for_url
from scanner import DEFAULT_DECODER, Frame, decoder_for_name
from scanner.render import DEGRADATIONS, Wallet, render_frame
from verifier import Checkpoint, Policy, Signer, make_block
from verifier.blocks import ZERO_HASH, block_hash, read_blocks

from .result import Row, add_json_option, print_table, verdict, write_json
from .verifier import cpu_model, filesystem_of, percentile

TARGET_P99_MS_720P = 20.0
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
SIZES = ((640, 480), (1280, 720))


@dataclass
class Sample:
    parts: dict[str, float]  # decode, decide, commit, actuate, total (ms)
    decode_floor: float
    commit_floor: float


def build_ledger(wallets: Sequence[Wallet], now: int) -> tuple[Signer, list[str]]:
    authority = Signer(bytes(range(32)))
    events = [
        {"op": "event", "event": "bench-show", "name": "Bench", "starts": now, "ends": now + 86_400}
    ]
    issues = [
        {
            "op": "issue",
            "ticket": w.ticket,
            "event": "bench-show",
            "holder": w.public_key.hex(),
            "from": now - 3600,
            "until": now + 86_400,
            "zones": [],
            "entries": 1,
            "label": "GA",
        }
        for w in wallets
    ]
    lines, prev = [], ZERO_HASH
    for height, body in enumerate((events, issues)):
        block = make_block(authority, height, prev, now - 600 + height, body)
        prev = block_hash(block).hex()
        lines.append(json.dumps(block) + "\n")
    return authority, lines


def bench_checkpoint(state: Path, device: str, authority: Signer, lines: list[str]) -> Checkpoint:
    """A gate over ``state`` holding the bench ledger ``lines`` (``build_ledger``); the
    caller closes it. A refused ledger ends the bench: its figures would mean nothing."""
    cp = Checkpoint(
        state,
        device=device,
        ledger_key=authority.public_key,
        policy=Policy(events=frozenset({"bench-show"})),
    )
    report = cp.apply_lines(read_blocks(lines))
    if report.error is not None:
        cp.close()
        raise SystemExit(f"bench ledger refused: {report.error}")
    return cp


def commit_floor(db: sqlite3.Connection, i: int) -> float:
    start = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO t(x) VALUES (?)", (i,))
    db.execute("COMMIT")
    return (time.perf_counter() - start) * 1000


def run_size(
    size: tuple[int, int], frames: int, seed: int, workdir: Path, decoder_name: str
) -> tuple[list[Sample], int, int]:
    """Render ``frames`` scenes at ``size`` and push them through a real lane."""
    now = int(time.time())
    wallets = [Wallet.named(f"lane-bench-{size[0]}-{i}", "bench") for i in range(frames)]
    authority, lines = build_ledger(wallets, now)
    state = workdir / f"state-{size[0]}x{size[1]}"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(mode=0o700, parents=True)
    print(f"  rendering {frames} frames at {size[0]}x{size[1]} (not timed)…", flush=True)
    images = []
    for i, wallet in enumerate(wallets):  # one new attendee a frame: every scan admits
        rendered = render_frame(
            [wallet.code(now)], np.random.default_rng([seed, i]), size, DEGRADATIONS
        )
        images.append((rendered.image, rendered.texts))
    decoder = decoder_for_name(decoder_name)
    events: list[dict[str, Any]] = []
    floor_db = sqlite3.connect(workdir / "commit-floor.db", isolation_level=None)
    floor_db.execute("PRAGMA journal_mode=WAL")
    floor_db.execute("PRAGMA synchronous=FULL")
    floor_db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, x INTEGER)")
    samples: list[Sample] = []
    unread = wrong = 0
    with bench_checkpoint(state, "bench-lane", authority, lines) as cp:
        relay = output_for_url("sim:relay?pulse_ms=5")
        green = output_for_url("sim:green?pulse_ms=5")
        # The lane decides "as of" the time the codes were made: rendering takes longer
        # than a code lives, and this measures latency, not the clock.
        lane = Lane(
            cp,
            Outputs(relay=relay, green=green),
            decoder,
            debounce_s=0.0,
            emit=events.append,
            clock=lambda: float(now),
        )
        try:
            for i, (image, texts) in enumerate(images):
                frame = Frame(image=image, timestamp=time.monotonic(), index=i)
                before = len(events)
                decisions = lane.handle(frame)
                if not decisions:
                    unread += 1
                    continue
                if (
                    [d.reason for d in decisions] != ["ok"]
                    or decisions[0].ticket != wallets[i].ticket
                    or texts[0] != wallets[i].code(now)
                ):
                    wrong += 1
                    continue
                parts = events[before]["latency_ms"]
                start = time.perf_counter()
                decoder.decode(image)
                decode_floor = (time.perf_counter() - start) * 1000
                samples.append(Sample(parts, decode_floor, commit_floor(floor_db, i)))
        finally:
            relay.close()
            green.close()
            floor_db.close()
    return samples, unread, wrong


def summarise(
    size: tuple[int, int], samples: list[Sample], unread: int, frames: int
) -> tuple[float, float]:
    def pct(values: list[float]) -> tuple[float, float]:
        ordered = sorted(values)
        return percentile(ordered, 50), percentile(ordered, 99)

    print(
        f"\n== {size[0]}x{size[1]}: {len(samples)} admissions from {frames} frames "
        f"({unread} frames the decoder could not read: no decision, relay untouched)"
    )
    print(f"{'part':<22}{'p50 ms':>10}{'p99 ms':>10}")
    for name in ("decode", "decide", "commit", "actuate", "total"):
        p50, p99 = pct([s.parts[name] for s in samples])
        print(f"{name:<22}{p50:>10.3f}{p99:>10.3f}")
    d50, d99 = pct([s.decode_floor for s in samples])
    c50, c99 = pct([s.commit_floor for s in samples])
    f50, f99 = pct([s.decode_floor + s.commit_floor for s in samples])
    print(f"{'floor: decode alone':<22}{d50:>10.3f}{d99:>10.3f}")
    print(f"{'floor: synced commit':<22}{c50:>10.3f}{c99:>10.3f}")
    print(f"{'floor: both':<22}{f50:>10.3f}{f99:>10.3f}")
    t50, t99 = pct([s.parts["total"] for s in samples])
    print(f"ratio total / floors: p50 {t50 / f50:.2f}  p99 {t99 / f99:.2f}")
    return t99, f99


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.lane",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--frames", type=int, default=400, help="frames per size (400)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--decoder", default=DEFAULT_DECODER)
    parser.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_CACHE / "lane",
        help="state and floor databases (on the disk a gate would use)",
    )
    add_json_option(parser)
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    print(
        "Gatehouse lane benchmark (frame to relay), "
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}"
    )
    print(
        f"machine: {cpu_model()}; numpy {np.__version__}; decoder {args.decoder}; "
        f"state on {filesystem_of(args.dir)}"
    )
    rows = []
    failed = 0
    for size in SIZES:
        samples, unread, wrong = run_size(size, args.frames, args.seed, args.dir, args.decoder)
        failed += wrong
        if not samples:
            print(f"{size}: no admissions measured")
            failed += 1
            continue
        t99, f99 = summarise(size, samples, unread, args.frames)
        rows.append((size, t99, f99))
    print("\n== summary")
    table = []
    for (w, h), t99, f99 in rows:
        target = f"<= {TARGET_P99_MS_720P:g} ms" if (w, h) == (1280, 720) else "-"
        result = "-" if target == "-" else verdict(t99 <= TARGET_P99_MS_720P)
        print(
            f"{w}x{h} frame-to-relay p99 {t99:.2f} ms; floors (decode + commit) p99 "
            f"{f99:.2f} ms; ratio {t99 / f99:.2f}; target {target} {result}"
        )
        table.append(
            Row(
                f"{w}x{h} frame-to-relay p99",
                f"{t99:.2f} ms",
                f"{f99:.2f} ms (decode + commit)",
                f"{t99 / f99:.2f}",
                "" if target == "-" else target,
                result,
            )
        )
    print()
    print_table(table)
    wrong = f"{failed} wrong or missing decision(s)" if failed else None
    write_json(args.json, "lane", table, frames=args.frames, decoder=args.decoder, wrong=wrong)
    if failed:
        print(f"FAILED: {failed} wrong or missing decision(s)")
        return 1
    shutil.rmtree(args.dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
