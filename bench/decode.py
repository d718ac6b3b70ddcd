"""Benchmark of the QR decoders on one seeded corpus of degraded synthetic frames.

Run it with ``.venv/bin/python -m bench.decode`` (bench/README.md explains every figure).

Why one corpus, interleaved: each decoder sees exactly the same frames, and for every
frame the decoders run one after the other (in an order that rotates), so a burst of
other work on the machine slows them alike; figures side by side from one run are
comparable, figures from two runs are not. The reference beside each time is pyzbar's
time on the same frames (the ``zbar`` decoder), because the target is a ratio to it.

Frames are rendered by scanner.render (real GH1 codes, made by verifier.encode_token,
drawn with segno and OpenCV and degraded as a lane camera degrades them), one at a
time, decoded by every decoder, and dropped: the corpus is never held whole (700 frames
at 1280x720 would be 2 GB). Rendering is not timed.

A false decode is a text that is not one of the frame's tokens, or any text on a frame
with no code. The default decoder reporting one is a wrong result: the benchmark then
exits 1. Missing a target only prints MISS.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import cv2
import numpy as np

from errors import DriverUnavailable, UnknownScheme
from scanner import DEFAULT_DECODER, decoder_for_name
from scanner.decoders import DECODERS, check_decoder_name
from scanner.frame import Decoder
from scanner.render import DEGRADATIONS, Wallet, render_frame

from .verifier import Row, cpu_model, percentile, print_table, section, verdict

SIZES = ((640, 480), (1280, 720))
REFERENCE = "zbar"
TARGET_READ = 0.99
TARGET_TIME_RATIO = 0.25  # of the reference's mean time per 1280x720 frame
START = 1_790_000_000  # the simulated clock of frame 0; each frame is one second later
WALLETS = 8
MULTI = 0.15  # share of frames with a code that hold two codes


@dataclass
class Tally:
    """One decoder's results at one frame size."""

    frames: int = 0  # frames with a code
    read: int = 0  # ... of which at least one of the frame's codes was read
    all_read: int = 0  # ... of which every code was read
    codes: int = 0
    codes_read: int = 0
    false_on_codes: int = 0  # texts not among the frame's tokens
    empty: int = 0
    false_on_empty: int = 0  # empty frames where anything was reported
    ms_code: list[float] = field(default_factory=list)
    ms_empty: list[float] = field(default_factory=list)
    missed_with: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.read / self.frames if self.frames else 0.0

    @property
    def ms_all(self) -> list[float]:
        return sorted(self.ms_code + self.ms_empty)


@dataclass
class SizeRun:
    size: tuple[int, int]
    tallies: dict[str, Tally]
    with_degradation: Counter[str] = field(default_factory=Counter)
    read_with: dict[str, Counter[str]] = field(default_factory=dict)
    unread_by_all: list[tuple[int, frozenset[str], tuple[float, ...]]] = field(default_factory=list)


def corpus_frame(
    seed: int, size_index: int, index: int, with_code: bool, wallets: Sequence[Wallet]
) -> tuple[np.ndarray, tuple[str, ...], frozenset[str], tuple[float, ...]]:
    """Frame ``index`` of the corpus at one size: a pure function of its arguments."""
    rng = np.random.default_rng([seed, size_index, int(with_code), index])
    texts: list[str] = []
    if with_code:
        count = 2 if rng.random() < MULTI else 1
        chosen = rng.choice(len(wallets), count, replace=False)
        texts = [wallets[int(i)].code(START + index) for i in chosen]
    r = render_frame(texts, rng, SIZES[size_index], DEGRADATIONS)
    return r.image, r.texts, r.applied, r.module_px


def run_size(
    size_index: int, args: argparse.Namespace, decoders: dict, wallets: Sequence[Wallet]
) -> SizeRun:
    size = SIZES[size_index]
    run = SizeRun(
        size=size,
        tallies={name: Tally() for name in decoders},
        read_with={name: Counter() for name in decoders},
    )
    names = list(decoders)
    clock = time.perf_counter_ns
    plan = [(i, True) for i in range(args.frames)] + [(i, False) for i in range(args.empty)]
    render_s = 0.0
    for n, (index, with_code) in enumerate(plan):
        t0 = time.perf_counter()
        image, texts, applied, module_px = corpus_frame(
            args.seed, size_index, index, with_code, wallets
        )
        render_s += time.perf_counter() - t0
        truth = set(texts)
        if with_code:
            run.with_degradation.update(applied)
        order = names[n % len(names) :] + names[: n % len(names)]
        read_by_any = False
        for name in order:
            t = run.tallies[name]
            start = clock()
            found = decoders[name].decode(image)
            ms = (clock() - start) / 1e6
            if with_code:
                t.frames += 1
                t.codes += len(truth)
                good = truth.intersection(found)
                t.codes_read += len(good)
                t.false_on_codes += len(set(found) - truth)
                if good:
                    t.read += 1
                    read_by_any = True
                    run.read_with[name].update(applied)
                else:
                    t.missed_with.update(applied)
                t.all_read += good == truth
                t.ms_code.append(ms)
            else:
                t.empty += 1
                t.false_on_empty += bool(found)
                t.ms_empty.append(ms)
        if with_code and not read_by_any:
            run.unread_by_all.append((index, applied, module_px))
        if (n + 1) % 100 == 0:
            print(f"  {size[0]}x{size[1]}: {n + 1}/{len(plan)} frames", flush=True)
    print(
        f"  {size[0]}x{size[1]}: {len(plan)} frames rendered in {render_s:.1f} s (not timed)",
        flush=True,
    )
    return run


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def report_size(run: SizeRun, names: list[str]) -> None:
    w, h = run.size
    section(
        f"{w}x{h}: {run.tallies[names[0]].frames} frames with a code, "
        f"{run.tallies[names[0]].empty} with none"
    )
    ref = run.tallies.get(REFERENCE)
    header = (
        f"{'decoder':<8} {'frames read':>17} {'all codes':>10} {'codes':>9} "
        f"{'false':>6} {'empty:false':>11} {'mean ms':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'mean vs zbar':>12}"
    )
    print(header)
    print("-" * len(header))
    for name in names:
        t = run.tallies[name]
        ms = t.ms_all
        ratio = f"{mean(ms) / mean(ref.ms_all):.3f}" if ref else "-"
        print(
            f"{name:<8} {t.read:>5}/{t.frames:<4} {100 * t.rate:6.2f}% {t.all_read:>10} "
            f"{t.codes_read:>4}/{t.codes:<4} {t.false_on_codes:>6} "
            f"{t.false_on_empty:>5}/{t.empty:<5} {mean(ms):8.2f} {percentile(ms, 50):7.2f} "
            f"{percentile(ms, 99):7.2f} {ratio:>12}"
        )
    print("\nframes read, by degradation present (a frame has several):")
    print(f"{'degradation':<13} {'frames':>6} " + " ".join(f"{n:>8}" for n in names))
    for deg in DEGRADATIONS:
        total = run.with_degradation[deg]
        if total:
            cells = " ".join(f"{100 * run.read_with[n][deg] / total:7.1f}%" for n in names)
            print(f"{deg:<13} {total:>6} {cells}")
    unread = run.unread_by_all
    print(f"\nframes with a code that no decoder read: {len(unread)}")
    for index, applied, module_px in unread:
        sizes = ", ".join(f"{m:.1f}" for m in module_px)
        print(f"  #{index}: {', '.join(sorted(applied))}; module {sizes} px")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.decode",
        description="Decode rate, false decodes and time per frame of each QR decoder on "
        "one seeded corpus of degraded synthetic frames, side by side.",
    )
    p.add_argument(
        "--frames",
        type=int,
        default=350,
        help="frames with a code at each size (default 350: 700 in all)",
    )
    p.add_argument(
        "--empty", type=int, default=60, help="frames with no code at each size (default 60)"
    )
    p.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    p.add_argument(
        "--decoders",
        default=",".join(DECODERS),
        help=f"comma-separated decoders (default {','.join(DECODERS)})",
    )
    args = p.parse_args(argv)
    if args.frames < 1 or args.empty < 0:
        p.error("--frames must be >= 1 and --empty >= 0")
    for name in args.decoders.split(","):
        try:
            check_decoder_name(name.strip())
        except UnknownScheme as exc:
            p.error(str(exc))
    return args


def load_decoders(names: Sequence[str]) -> tuple[dict[str, Decoder], dict[str, str]]:
    """The decoders of ``names`` that load here, and why each of the others does not.

    A machine without libzbar0 (or zxing-cpp) still measures what it can: the missing
    one is reported on a line of its own, not as a traceback that ends the run.
    """
    loaded: dict[str, Decoder] = {}
    skipped: dict[str, str] = {}
    for name in names:
        try:
            loaded[name] = decoder_for_name(name)
        except DriverUnavailable as exc:
            skipped[name] = str(exc)
    return loaded, skipped


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = [n.strip() for n in args.decoders.split(",") if n.strip()]
    decoders, skipped = load_decoders(wanted)
    if not decoders:
        for name, why in skipped.items():
            print(f"skipped decoder {name}: {why}", file=sys.stderr)
        print("no decoder could be loaded; nothing to measure", file=sys.stderr)
        return 2
    names = list(decoders)
    wallets = [Wallet.named(f"bench-{i}", "bench") for i in range(WALLETS)]

    print(f"Gatehouse decode benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    print(
        f"machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, OpenCV "
        f"{cv2.__version__} ({cv2.getNumThreads()} threads)"
    )
    print(
        f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        "(other work on this machine skews every figure)"
    )
    print(
        f"corpus: seed {args.seed}; at each of {', '.join(f'{w}x{h}' for w, h in SIZES)}: "
        f"{args.frames} frames with a code ({100 * MULTI:.0f}% of them two codes) and "
        f"{args.empty} with none; degradation mix {DEGRADATIONS}"
    )
    print(
        f"decoders: {', '.join(names)} (default in scanner: {DEFAULT_DECODER}; "
        f"reference: {REFERENCE})"
    )
    for name, why in skipped.items():
        print(f"skipped decoder {name}: {why}")

    for decoder in decoders.values():  # first calls allocate; not what is measured
        decoder.decode(corpus_frame(args.seed + 1, 0, 0, True, wallets)[0])

    section("decoding (each frame by every decoder in turn)")
    runs = [run_size(i, args, decoders, wallets) for i in range(len(SIZES))]
    for run in runs:
        report_size(run, names)

    rows: list[Row] = []
    for run in runs:
        w, h = run.size
        ref = run.tallies.get(REFERENCE)
        for name in names:
            t = run.tallies[name]
            is_default = name == DEFAULT_DECODER
            rows.append(
                Row(
                    f"{name} {w}x{h} frames read",
                    f"{100 * t.rate:.2f}%",
                    f"{100 * ref.rate:.2f}% (zbar)" if ref else "-",
                    f"{t.rate / ref.rate:.2f}" if ref and ref.rate else "-",
                    f">= {100 * TARGET_READ:.0f}%" if is_default else "",
                    verdict(t.rate >= TARGET_READ) if is_default else "-",
                )
            )
            false = t.false_on_codes + t.false_on_empty
            rows.append(
                Row(
                    f"{name} {w}x{h} false decodes",
                    f"{false}",
                    f"{ref.false_on_codes + ref.false_on_empty} (zbar)" if ref else "-",
                    "",
                    "0" if is_default else "",
                    verdict(false == 0) if is_default else "-",
                )
            )
            ms, ref_ms = mean(t.ms_all), mean(ref.ms_all) if ref else 0.0
            timed = is_default and (w, h) == (1280, 720) and ref is not None
            rows.append(
                Row(
                    f"{name} {w}x{h} mean ms/frame",
                    f"{ms:.2f} ms",
                    f"{ref_ms:.2f} ms (zbar)" if ref else "-",
                    f"{ms / ref_ms:.3f}" if ref_ms else "-",
                    f"<= {TARGET_TIME_RATIO:g} x zbar" if timed else "",
                    verdict(ms <= TARGET_TIME_RATIO * ref_ms) if timed else "-",
                )
            )

    def score(name: str) -> tuple[bool, float, float]:
        rate = min(run.tallies[name].rate for run in runs)
        big = mean(runs[-1].tallies[name].ms_all)
        return (rate >= TARGET_READ, rate, -big)

    best = max(names, key=score)
    section(f"summary (load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    print_table(rows)
    unread = sum(len(run.unread_by_all) for run in runs)
    frames = sum(run.tallies[names[0]].frames for run in runs)
    print(f"\nframes with a code no decoder read: {unread} of {frames} (listed above)")
    print(
        f"by this run the default should be: {best} (meets the read target at both "
        f"sizes first, then reads most, then is fastest at 1280x720); scanner's "
        f"DEFAULT_DECODER is {DEFAULT_DECODER}"
        + ("" if best == DEFAULT_DECODER else "  <-- they differ")
    )
    if DEFAULT_DECODER in decoders and any(
        run.tallies[DEFAULT_DECODER].false_on_codes + run.tallies[DEFAULT_DECODER].false_on_empty
        for run in runs
    ):
        print(
            f"\nFAILED: the default decoder {DEFAULT_DECODER} reported a text that is not "
            "in the frame",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
