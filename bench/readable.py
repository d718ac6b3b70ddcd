"""How many of the decode corpus's frames could be read at all: a reader handed the
code's true position (the renderer knows it) samples every module, thresholds it and
decodes the result, and the decoders are run beside it.

Run it with ``.venv/bin/python -m bench.readable --seed 1`` (hard tier by default).

Why: the hard tier's read targets (bench/decode.py) mean something only if the frames
still hold their codes. A decoder must first find the code (finder patterns, grid);
this reader is given the geometry free, so where it fails, the modules themselves are
lost (blur, noise, glare, JPEG at 2-3 pixels a module), not the decoder's search. It
is a yardstick, not a bound: it takes hard decisions (one mean a module, a local
threshold: the mean of the 9x9 or 15x15 modules around, or of the whole symbol), and a
decoder reads some frames it does not (zxing-cpp samples differently). So the share of
frames that neither it nor any decoder reads is what the report calls unreadable.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence

import cv2
import numpy as np

from scanner import decoder_for_name
from scanner.degradations import TIERS
from scanner.render import DEGRADATIONS, QUIET, Wallet, qr_modules

from .decode import SIZES, WALLETS, corpus_render
from .verifier import section

#: Pixels a module in the rectified code: the central half of each is averaged.
PPM = 8
#: Local thresholds tried, in modules (0: the symbol's mean).
WINDOWS = (9, 15, 0)


def read_at(gray: np.ndarray, text: str, corners: np.ndarray) -> tuple[bool, float]:
    """Whether the code of ``text`` at ``corners`` (render's, two modules out into the
    quiet zone) reads when sampled at its true module centres, and the least share of
    modules wrong among the thresholds tried."""
    import zxingcpp

    modules = qr_modules(text)
    n = modules.shape[0]
    square = np.float32([[2, 2], [n - 2, 2], [n - 2, n - 2], [2, n - 2]]) * PPM
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), square)
    flat = cv2.warpPerspective(
        gray, matrix, (n * PPM, n * PPM), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    ).astype(np.float32)
    c = PPM // 4
    cells = flat.reshape(n, PPM, n, PPM)[:, c : PPM - c, :, c : PPM - c].mean(axis=(1, 3))
    symbol = slice(QUIET, n - QUIET)
    truth = modules[symbol, symbol].astype(bool)
    wrong = 1.0
    for window in WINDOWS:
        if window:
            local = cv2.blur(cells, (window, window), borderType=cv2.BORDER_REPLICATE)
        else:
            local = np.full_like(cells, cells[symbol, symbol].mean())
        dark = (cells < local)[symbol, symbol]
        if np.mean(dark != truth) > 0.5:  # a dark-mode screen: light modules are ink
            dark = ~dark
        wrong = min(wrong, float(np.mean(dark != truth)))
        redrawn = np.pad(np.where(dark, 0, 255).astype(np.uint8), QUIET, constant_values=255)
        redrawn = cv2.resize(redrawn, None, fx=10, fy=10, interpolation=cv2.INTER_NEAREST)
        for pure in (True, False):  # a few wrong edge modules defeat the non-pure grid
            found = zxingcpp.read_barcodes(
                redrawn, formats=zxingcpp.BarcodeFormat.QRCode, is_pure=pure
            )
            if any(b.valid and b.text == text for b in found):
                return True, wrong
    return False, wrong


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.readable",
        description="Frames of the decode corpus a reader given the code's position reads, "
        "beside the decoders.",
    )
    p.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    p.add_argument("--frames", type=int, default=350, help="frames with a code a size")
    p.add_argument("--tier", default="hard", choices=sorted(TIERS))
    p.add_argument("--decoders", default="zxing,zxing-cascade")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.decoders.split(",") if n.strip()]
    decoders = {name: decoder_for_name(name) for name in names}
    wallets = [Wallet.named(f"bench-{i}", "bench") for i in range(WALLETS)]
    for size_index, (w, h) in enumerate(SIZES):
        given = decoded = either = 0
        read_by = Counter[str]()
        lost, frames_with = Counter[str](), Counter[str]()
        wrong: list[float] = []
        for index in range(args.frames):
            r = corpus_render(args.seed, size_index, index, True, wallets, args.tier)
            gray = cv2.cvtColor(r.image, cv2.COLOR_BGR2GRAY)
            results = [read_at(gray, t, c) for t, c in zip(r.texts, r.corners, strict=True)]
            ok = any(good for good, _ in results)
            wrong.append(min(share for _, share in results))
            by = {name for name, d in decoders.items() if set(r.texts) & set(d.decode(r.image))}
            read_by.update(by)
            given += ok
            decoded += bool(by)
            either += ok or bool(by)
            frames_with.update(r.applied)
            if not ok and not by:
                lost.update(r.applied)
        n = args.frames
        section(f"{args.tier} tier {w}x{h}, seed {args.seed}: {n} frames with a code")
        print(f"read at the true position          {given:>4}  {100 * given / n:6.2f}%")
        for name in names:
            print(f"read by {name:<26} {read_by[name]:>4}  {100 * read_by[name] / n:6.2f}%")
        print(f"read by a decoder                  {decoded:>4}  {100 * decoded / n:6.2f}%")
        print(f"read by either                     {either:>4}  {100 * either / n:6.2f}%")
        print(f"read by neither                    {n - either:>4}  {100 * (n - either) / n:6.2f}%")
        share = np.percentile(wrong, [50, 90, 99])
        print(
            f"modules wrong at the true position: median {100 * share[0]:.2f} %, 90th "
            f"{100 * share[1]:.2f} %, 99th {100 * share[2]:.2f} %"
        )
        print("read by neither, by degradation present:")
        for name in DEGRADATIONS:
            if frames_with[name]:
                print(
                    f"  {name:<13} {lost[name]:>4} of {frames_with[name]:<4} "
                    f"{100 * lost[name] / frames_with[name]:5.1f}%"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
