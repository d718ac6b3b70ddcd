"""Benchmark of the QR decoders on seeded corpora of degraded synthetic frames, in two
tiers: easy (a well set-up lane) and hard (a phone screen on a bad day), plus approach
clips (a phone coming closer, blurred as it moves).

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

The hard tier (scanner.degradations.HARD) has the phone fill 45-95 % of the frame
height with modules down to 3 pixels, heavy sensor noise, glare, moire, low contrast,
motion blur, JPEG at quality 45, dark mode and tilt, most frames several at once. Its
frames come from their own seeds (``[seed, size, code?, index, 1]``), so the easy
tier's frames, and its figures, are those of earlier runs. Beside every decoder the
benchmark times one plain zxing-cpp call on the same frame (``1call``: the gray
conversion and one ``read_barcodes``, nothing else), the unit of the hard tier's cost
targets: <= 3 calls' time on frames with a code and <= 1.25 on empty frames.

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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import cv2
import numpy as np

from errors import DriverUnavailable, UnknownScheme
from scanner import DEFAULT_DECODER, decoder_for_name
from scanner.decoders import DECODERS, check_decoder_name
from scanner.degradations import TIERS, Tier
from scanner.frame import Decoder
from scanner.render import DEGRADATIONS, HARD, Rendered, Wallet, render_frame

from .result import Row, add_json_option, print_table, verdict, write_json
from .verifier import cpu_model, percentile, section

SIZES = ((640, 480), (1280, 720))
REFERENCE = "zbar"
TARGET_READ = 0.99
TARGET_TIME_RATIO = 0.25  # of the reference's mean time per 1280x720 frame
START = 1_790_000_000  # the simulated clock of frame 0; each frame is one second later
WALLETS = 8
MULTI = 0.15  # share of frames with a code that hold two codes
ONE_CALL = "1call"  # one plain zxing-cpp call: the unit of the hard tier's cost targets
HARD_TARGET_READ = {(640, 480): 0.90, (1280, 720): 0.98}
HARD_TARGET_CODE_COST = 3.0  # mean time on frames with a code, in one-call times
HARD_TARGET_EMPTY_COST = 1.25  # mean time on empty frames, in one-call times
CLIP_FRAMES = 12  # frames of one approach clip


class OneCall:
    """One plain zxing-cpp call on the gray frame: the cost unit, not a decoder to use."""

    name = ONE_CALL

    def __init__(self) -> None:
        import zxingcpp

        self._zx = zxingcpp

    def decode(self, frame: np.ndarray) -> list[str]:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        found = self._zx.read_barcodes(
            gray,
            formats=self._zx.BarcodeFormat.QRCode,
            try_rotate=False,
            try_downscale=True,
            try_invert=True,
            text_mode=self._zx.TextMode.Plain,
        )
        return [b.text for b in found if b.valid]


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
    tier: str
    tallies: dict[str, Tally]
    with_degradation: Counter[str] = field(default_factory=Counter)
    read_with: dict[str, Counter[str]] = field(default_factory=dict)
    unread_by_all: list[tuple[int, frozenset[str], tuple[float, ...]]] = field(default_factory=list)


def corpus_render(
    seed: int,
    size_index: int,
    index: int,
    with_code: bool,
    wallets: Sequence[Wallet],
    tier: str = "easy",
) -> Rendered:
    """Frame ``index`` of a tier's corpus at one size: a pure function of its arguments."""
    key = [seed, size_index, int(with_code), index]
    rng = np.random.default_rng(key if tier == "easy" else [*key, 1])
    texts: list[str] = []
    if with_code:
        count = 2 if rng.random() < MULTI else 1
        chosen = rng.choice(len(wallets), count, replace=False)
        texts = [wallets[int(i)].code(START + index) for i in chosen]
    if tier == "easy":
        return render_frame(texts, rng, SIZES[size_index], DEGRADATIONS)
    return render_frame(texts, rng, SIZES[size_index], TIERS[tier].mix, tier=TIERS[tier])


def corpus_frame(
    seed: int,
    size_index: int,
    index: int,
    with_code: bool,
    wallets: Sequence[Wallet],
    tier: str = "easy",
) -> tuple[np.ndarray, tuple[str, ...], frozenset[str], tuple[float, ...]]:
    """:func:`corpus_render`'s frame, texts, degradations and module sizes."""
    r = corpus_render(seed, size_index, index, with_code, wallets, tier)
    return r.image, r.texts, r.applied, r.module_px


def clip_tier(step: int) -> Tier:
    """The hard tier at step ``step`` of an approach clip: the phone comes from 30 % to
    80 % of the frame height, its smear shrinking from 2 modules to 0.3 as it slows."""
    p = step / (CLIP_FRAMES - 1)
    share = 0.30 + 0.50 * p
    smear = 2.0 - 1.7 * p
    return replace(
        HARD,
        mix={**HARD.mix, "motion_blur": 1.0},
        phone_share=(share, share),
        min_module_px=1.0,
        motion_modules=(smear, smear),
        blur_budget=1.0,
    )


def clip_frame(
    seed: int, size_index: int, clip: int, step: int, wallet: Wallet
) -> tuple[np.ndarray, str]:
    """Frame ``step`` of approach clip ``clip``: the same scene, phone and degradations in
    every frame (one seed a clip), the phone larger and sharper each frame."""
    rng = np.random.default_rng([seed, size_index, 2, clip])
    text = wallet.code(START + clip)
    tier = clip_tier(step)
    return render_frame([text], rng, SIZES[size_index], tier.mix, tier=tier).image, text


def run_size(
    size_index: int,
    tier: str,
    args: argparse.Namespace,
    decoders: dict,
    wallets: Sequence[Wallet],
) -> SizeRun:
    size = SIZES[size_index]
    run = SizeRun(
        size=size,
        tier=tier,
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
            args.seed, size_index, index, with_code, wallets, tier
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
            print(f"  {tier} {size[0]}x{size[1]}: {n + 1}/{len(plan)} frames", flush=True)
    print(
        f"  {tier} {size[0]}x{size[1]}: {len(plan)} frames rendered in {render_s:.1f} s "
        "(not timed)",
        flush=True,
    )
    return run


def run_clips(
    size_index: int, args: argparse.Namespace, decoders: dict, wallets: Sequence[Wallet]
) -> dict[str, list[int | None]]:
    """Frames to the first read of each approach clip, per decoder (None: never read)."""
    first: dict[str, list[int | None]] = {name: [] for name in decoders}
    for clip in range(args.clips):
        wallet = wallets[clip % len(wallets)]
        pending = set(decoders)
        for step in range(CLIP_FRAMES):
            image, text = clip_frame(args.seed, size_index, clip, step, wallet)
            for name in list(pending):
                if text in decoders[name].decode(image):
                    first[name].append(step + 1)
                    pending.discard(name)
            if not pending:
                break
        for name in pending:
            first[name].append(None)
    return first


def report_clips(size: tuple[int, int], first: dict[str, list[int | None]]) -> None:
    w, h = size
    clips = len(next(iter(first.values()))) if first else 0
    section(
        f"approach clips {w}x{h}: {clips} clips of {CLIP_FRAMES} frames (hard tier; the "
        "phone from 30 % to 80 % of the frame height, smear 2 -> 0.3 module)"
    )
    print(f"{'decoder':<14} {'median':>7} {'mean':>6} {'never read':>11}  frames to first read")
    for name, got in first.items():
        read = sorted(n for n in got if n is not None)
        never = len(got) - len(read)
        med = f"{read[len(read) // 2]}" if read else "-"
        avg = f"{mean(read):.1f}" if read else "-"
        print(f"{name:<14} {med:>7} {avg:>6} {never:>11}  {' '.join(map(str, read))}")


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def cost_ratios(t: Tally, one: Tally | None) -> tuple[str, str]:
    """Mean time on frames with a code and on empty frames, in one-call times."""
    if one is None:
        return "-", "-"
    code = f"{mean(t.ms_code) / mean(one.ms_code):.2f}" if one.ms_code else "-"
    empty = f"{mean(t.ms_empty) / mean(one.ms_empty):.2f}" if one.ms_empty else "-"
    return code, empty


def report_size(run: SizeRun, names: list[str]) -> None:
    w, h = run.size
    section(
        f"{run.tier} tier, {w}x{h}: {run.tallies[names[0]].frames} frames with a code, "
        f"{run.tallies[names[0]].empty} with none"
    )
    ref = run.tallies.get(REFERENCE)
    one = run.tallies.get(ONE_CALL)
    header = (
        f"{'decoder':<14} {'frames read':>17} {'all codes':>10} {'codes':>9} "
        f"{'false':>6} {'empty:false':>11} {'mean ms':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'mean vs zbar':>12} {'code/1call':>10} {'empty/1call':>11}"
    )
    print(header)
    print("-" * len(header))
    for name in names:
        t = run.tallies[name]
        ms = t.ms_all
        ratio = f"{mean(ms) / mean(ref.ms_all):.3f}" if ref else "-"
        code_cost, empty_cost = cost_ratios(t, one)
        print(
            f"{name:<14} {t.read:>5}/{t.frames:<4} {100 * t.rate:6.2f}% {t.all_read:>10} "
            f"{t.codes_read:>4}/{t.codes:<4} {t.false_on_codes:>6} "
            f"{t.false_on_empty:>5}/{t.empty:<5} {mean(ms):8.2f} {percentile(ms, 50):7.2f} "
            f"{percentile(ms, 99):7.2f} {ratio:>12} {code_cost:>10} {empty_cost:>11}"
        )
    print("\nframes read, by degradation present (a frame has several):")
    print(f"{'degradation':<13} {'frames':>6} " + " ".join(f"{n:>14}" for n in names))
    for deg in DEGRADATIONS:
        total = run.with_degradation[deg]
        if total:
            cells = " ".join(f"{100 * run.read_with[n][deg] / total:13.1f}%" for n in names)
            print(f"{deg:<13} {total:>6} {cells}")
    unread = run.unread_by_all
    print(f"\nframes with a code that no decoder read: {len(unread)}")
    for index, applied, module_px in unread:
        sizes = ", ".join(f"{m:.1f}" for m in module_px)
        print(f"  #{index}: {', '.join(sorted(applied))}; module {sizes} px")


def hard_rows(run: SizeRun, names: Sequence[str]) -> list[Row]:
    """The hard tier's targets, for every decoder: read rate, false reads, and cost in
    one-call times on frames with a code and on empty frames."""
    w, h = run.size
    one = run.tallies.get(ONE_CALL)
    plain = run.tallies.get("zxing")
    target = HARD_TARGET_READ[run.size]
    rows: list[Row] = []
    for name in names:
        t = run.tallies[name]
        rows.append(
            Row(
                f"hard {name} {w}x{h} frames read",
                f"{100 * t.rate:.2f}%",
                f"{100 * plain.rate:.2f}% (zxing)" if plain else "-",
                f"{t.rate / plain.rate:.2f}" if plain and plain.rate else "-",
                f">= {100 * target:.0f}%",
                verdict(t.rate >= target),
            )
        )
        false = t.false_on_codes + t.false_on_empty
        rows.append(
            Row(f"hard {name} {w}x{h} false decodes", f"{false}", "", "", "0", verdict(false == 0))
        )
        if one is None:
            continue
        for label, mine, unit, bound in (
            ("code frame", t.ms_code, one.ms_code, HARD_TARGET_CODE_COST),
            ("empty frame", t.ms_empty, one.ms_empty, HARD_TARGET_EMPTY_COST),
        ):
            if not mine or not unit:
                continue
            ratio = mean(mine) / mean(unit)
            rows.append(
                Row(
                    f"hard {name} {w}x{h} mean ms/{label}",
                    f"{mean(mine):.2f} ms",
                    f"{mean(unit):.2f} ms (1call)",
                    f"{ratio:.2f}",
                    f"<= {bound:g} x 1call",
                    verdict(ratio <= bound),
                )
            )
    return rows


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
        "--tiers", default="easy,hard", help="comma-separated tiers: easy, hard (default both)"
    )
    p.add_argument(
        "--clips",
        type=int,
        default=20,
        help=f"approach clips of {CLIP_FRAMES} frames at each size (default 20; 0: none)",
    )
    p.add_argument(
        "--decoders",
        default=",".join(DECODERS),
        help=f"comma-separated decoders (default {','.join(DECODERS)})",
    )
    add_json_option(p)
    args = p.parse_args(argv)
    if args.frames < 1 or args.empty < 0 or args.clips < 0:
        p.error("--frames must be >= 1, --empty and --clips >= 0")
    args.tiers = [t.strip() for t in args.tiers.split(",") if t.strip()]
    if not args.tiers or set(args.tiers) - set(TIERS):
        p.error(f"--tiers takes names from {', '.join(TIERS)}")
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
    try:
        decoders[ONE_CALL] = OneCall()
    except ImportError as exc:
        skipped[ONE_CALL] = f"no zxing-cpp, so no cost unit: {exc}"
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
        f"{args.empty} with none; tiers {', '.join(args.tiers)} (easy mix {DEGRADATIONS}; "
        f"hard: {HARD})"
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
    all_runs = [
        run_size(i, tier, args, decoders, wallets) for tier in args.tiers for i in range(len(SIZES))
    ]
    for run in all_runs:
        report_size(run, names)
    clips = [run_clips(i, args, decoders, wallets) for i in range(len(SIZES))] if args.clips else []
    for i, first in enumerate(clips):
        report_clips(SIZES[i], first)
    runs = [run for run in all_runs if run.tier == "easy"]
    hard = [run for run in all_runs if run.tier == "hard"]

    rows: list[Row] = []
    for run in hard:
        rows += hard_rows(run, [n for n in names if n != ONE_CALL])
    for run in runs:
        w, h = run.size
        ref = run.tallies.get(REFERENCE)
        for name in [n for n in names if n != ONE_CALL]:
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

    def beats(name: str, incumbent: str) -> bool:
        """Reads no fewer frames at any size of either tier, more on the hard tier in
        all, and keeps the hard tier's empty-frame bound (one-call times)."""
        if name == incumbent:
            return False
        for run in all_runs:
            if run.tallies[name].read < run.tallies[incumbent].read:
                return False
        for run in hard:
            unit = run.tallies.get(ONE_CALL)
            empty = mean(run.tallies[name].ms_empty)
            if unit is None or empty > HARD_TARGET_EMPTY_COST * mean(unit.ms_empty):
                return False
        return sum(run.tallies[name].read for run in hard) > sum(
            run.tallies[incumbent].read for run in hard
        )

    candidates = [n for n in names if n != ONE_CALL]
    best = max(candidates, key=score) if runs else DEFAULT_DECODER
    if runs and hard and DEFAULT_DECODER in decoders:
        # With a hard tier the default changes only to a decoder that beats it there
        # (and the easy tier is needed to judge that: a hard tier alone keeps it).
        challengers = [n for n in candidates if score(n)[0] and beats(n, DEFAULT_DECODER)]
        best = (
            max(challengers, key=lambda n: sum(run.tallies[n].read for run in hard))
            if challengers
            else DEFAULT_DECODER
        )
    section(f"summary (load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    print_table(rows)
    write_json(
        args.json,
        "decode",
        rows,
        decoders=[n for n in names if n != ONE_CALL],
        skipped=skipped,
        default_decoder=DEFAULT_DECODER,
        chosen_by_run=best,
    )
    unread = sum(len(run.unread_by_all) for run in all_runs)
    frames = sum(run.tallies[names[0]].frames for run in all_runs)
    print(f"\nframes with a code no decoder read: {unread} of {frames} (listed above)")
    print(
        f"by this run the default should be: {best} (easy tier alone: meets the read "
        "target at both sizes, then reads most, then is fastest at 1280x720; with the hard "
        "tier: the default unless another meets the easy target, reads no fewer frames at "
        "any size of either tier, more of the hard tier's, and keeps its empty-frame cost "
        "bound); scanner's "
        f"DEFAULT_DECODER is {DEFAULT_DECODER}"
        + ("" if best == DEFAULT_DECODER else "  <-- they differ")
    )
    if DEFAULT_DECODER in decoders and any(
        run.tallies[DEFAULT_DECODER].false_on_codes + run.tallies[DEFAULT_DECODER].false_on_empty
        for run in all_runs
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
