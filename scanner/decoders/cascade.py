"""``zxing-cascade``: zxing-cpp with targeted second looks where a code was seen but not
read, or where the frame holds detail as dense as a small code (pip package
``zxing-cpp``).

Most frames at an idle lane hold nothing, so the first look is one zxing-cpp call on the
lightly blurred frame, without zxing-cpp's downscaled passes (a hard frame's modules are
2-5 pixels: halving them cannot help), asked to return the symbols it located but could
not decode as well (``return_errors``). Then, only on evidence:

- Where it saw a symbol it could not read (a checksum or format error, which carries
  the symbol's corners): the region cropped with a margin and upscaled (modules of 2-3
  pixels become 5-7, which zxing-cpp's binarizer resolves), the same after a light blur
  (sensor noise, JPEG blocks, moire), the texture retry below (the corners of a failed
  read are sometimes those of a wrong triple of finder patterns, and the crop then
  misses the code), and last the whole frame enlarged and smoothed.
- Where it located nothing (most frames a plain call misses: 2-4 pixel modules under
  noise, JPEG and blur give zxing-cpp's finder no pattern to find): the texture
  retry, if the frame's densest fine detail (:func:`texture_peak`, about a tenth of a
  call) is dense enough to be a small code. It crops around that detail, upscales 3
  times and smooths. About one empty frame in ten pays for it.

Tried and dropped, on the tuning sample (bench/decode.py hard tier, seed 100, 300 frames
with a code at each size): the global-histogram binarizer, CLAHE, a median or bilateral
filter and more blur on the whole frame read at most 5 of the 96 frames the cascade then
missed at 640x480, where the whole frame upscaled 3 times and smoothed read 22 (the
texture retry does that on a crop); a third crop around a located symbol, at 3 times
with more smoothing, read one more; the region rectified from the four corners (1 read
in 58 calls) and the enlarged frame unsmoothed (2 in 29, each 4 calls' worth at 640x480)
were dropped for cost; a wider margin around a located symbol (1.2 of its size) read
nothing more at four times the pixels. The texture statistic from a 4x4-mean shrink of
the raw frame separated as well but cost five times as much; a Gaussian pyramid's shrink
smoothed the code's detail away and separated worse.

Measured on corpus seeds the tuning never saw (bench/decode.py, seeds 1-3, 350 frames
with a code and 60 without a size and tier; docs/scanner.md has the table): hard
frames read 73-75 % at 640x480 and 80-83 % at 1280x720 (``zxing`` 68-70 % and 69-71 %,
one plain call 45-46 % and 53-59 %), no false read, in 1.8-2.1 and 0.9-1.1 one-call
times on frames with a code and 1.0 and 0.8 on empty frames. The hard tier's read
targets (90 and 98 %) are out of reach: 12-19 % of its frames are read neither by any
decoder nor by a reader handed the code's true position (bench/readable.py).

Dark-mode screens are covered at every step by zxing-cpp's own ``try_invert``. Every
text returned must start ``GH1:`` and use only the characters a GH1 token is made of:
a retry on a noisy crop is the place a misread would come from, and the token format
is the cheapest check against one (the gate then verifies the signature anyway).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import cv2
import numpy as np

from errors import DecodeError

from .base import to_gray, unique
from .zxing import read_qr

#: The start of every GH1 entry token (PROTOCOL.md section 1; verifier.token.PREFIX,
#: which scanner may not import) and the characters of its Base45 body.
TOKEN_PREFIX = "GH1:"
TOKEN_ALPHABET = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
#: The crop around a located symbol reaches this share of the symbol's size beyond it
#: each side: the corners of a failed read may be those of a wrong triple of finder
#: patterns inside the code, not the code's own. 1.2 read no more frames of the tuning
#: sample than 0.6 and made the crops, upscaled, four times the pixels (at 640x480 the
#: mean time on frames with a code went from 2.55 to 2.13 one-call times); the texture
#: retry, which follows, covers the code wherever the corners were.
MARGIN = 0.6
MIN_MARGIN_PX = 16
#: Crops are upscaled until the symbol is about this many pixels across (a version-6
#: code is 41 modules: about 7 pixels a module) and never more than 4 times.
TARGET_SIDE_PX = 300
MAX_SCALE = 4.0
#: The first look reads the frame lightly blurred (standard deviation in pixels): sensor
#: noise, JPEG blocks and moire break up zxing-cpp's binarizer on small modules, and on
#: the tuning sample (bench/decode.py hard tier, seed 100, 60 frames at 640x480) the
#: blurred look read 27 frames where the raw one read 19, located (read or not) 45
#: against 42, and took less time (fewer false finder candidates to follow).
FIRST_LOOK_SIGMA = 0.8
#: Frames at most this wide get, as a last retry on evidence, a look at twice the size.
UPSCALE_MAX_WIDTH = 960
#: Texture evidence, for frames where the first look located nothing: the first look's
#: lightly blurred frame is shrunk 4 times (bilinear: after the blur, a cheap and
#: fair sample), its fine detail (less its 3x3 mean) averaged over cells of this share
#: of the frame height, and the densest window of 2x2 cells compared with the median
#: cell, or with :data:`TEXTURE_FLOOR` if that is more. A code of 2-4 pixel modules is
#: the densest detail a gate camera sees; signs, cables and a phone showing no code are
#: mostly sparser. The window's centre is where the crop goes.
TEXTURE_CELL_SHARE = 0.09
#: The least median detail (grey levels) the window is compared with: a clean, quiet
#: frame's median cell holds almost none, and against it any sign or cable looked like
#: a code (half of the easy tier's empty frames paid for a retry; with the floor, 7-10 %).
TEXTURE_FLOOR = 3.0
#: Texture retry only at or above this ratio, for frames at most
#: :data:`UPSCALE_MAX_WIDTH` wide and for wider ones. Set so that about one empty frame
#: in ten pays for the retry (tuning sample: bench/decode.py hard tier, seed 100, 400
#: empty frames a size); above it were 53 % (640x480) and 58 % (1280x720) of the frames
#: with a code whose first look located nothing. The two differ because the small
#: frames' empty scenes score higher (the same cells hold fewer pixels to average the
#: noise over).
TEXTURE_THRESHOLD_SMALL = 5.6
TEXTURE_THRESHOLD_LARGE = 3.8
#: The texture retry's crop reaches this share of the frame height each side of the
#: window's centre (a hard-tier code is 20-27 % of the height across, with its quiet
#: zone, and the window is only roughly on it), and is upscaled this many times and
#: smoothed by this share of a frame pixel.
TEXTURE_HALF_SHARE = 0.25
TEXTURE_SCALE = 3.0
TEXTURE_SIGMA = 0.67
#: At most this many located-but-unread symbols get second looks in one frame.
MAX_REGIONS = 3


def is_token_text(text: str) -> bool:
    """Whether ``text`` could be a GH1 token: the prefix, then Base45 characters only."""
    return text.startswith(TOKEN_PREFIX) and set(text) <= TOKEN_ALPHABET


@dataclass
class Counts:
    """How many zxing-cpp calls the decoder made: first looks and retries (tests and
    the benchmark read these; an empty frame must cost no retry)."""

    first: int = 0
    retries: int = 0
    #: retry step name -> frames it read (the first look's reads are not counted)
    read_by: Counter[str] = field(default_factory=Counter)


class CascadeDecoder:
    """QR codes through ``zxingcpp.read_barcodes``, with retries only on evidence."""

    name = "zxing-cascade"

    def __init__(self) -> None:
        self.counts = Counts()

    def _call(self, gray: np.ndarray) -> list:
        return read_qr(gray, return_errors=True, downscale=False)

    def _retry(self, step: str, gray: np.ndarray) -> list[str]:
        self.counts.retries += 1
        texts = [b.text for b in self._call(gray) if b.valid]
        if texts:
            self.counts.read_by[step] += 1
        return texts

    def decode(self, frame: np.ndarray) -> list[str]:
        gray = to_gray(frame)
        try:
            texts = self._decode(gray)
        except cv2.error as exc:
            raise DecodeError(
                f"zxing-cascade failed on a {gray.shape[1]}x{gray.shape[0]} frame: {exc}"
            ) from exc
        except Exception as exc:
            raise DecodeError(
                f"zxing-cpp failed on a {gray.shape[1]}x{gray.shape[0]} frame: {exc}"
            ) from exc
        return unique([t for t in texts if is_token_text(t)])

    def _decode(self, gray: np.ndarray) -> list[str]:
        self.counts.first += 1
        blurred = cv2.GaussianBlur(gray, (0, 0), FIRST_LOOK_SIGMA)
        found = self._call(blurred)
        texts = [b.text for b in found if b.valid]
        if texts and all(is_token_text(t) for t in texts):
            return texts
        quads = [_quad(b.position) for b in found if not b.valid]
        if not quads:
            return texts + self._retry_texture(gray, blurred, threshold=True)
        covered: list[tuple[int, int, int, int]] = []
        for quad in _largest(quads, MAX_REGIONS):
            cx, cy = quad.mean(axis=0)
            if any(x0 <= cx < x1 and y0 <= cy < y1 for x0, y0, x1, y1 in covered):
                continue  # another view of a symbol already looked at
            more = self._around(gray, quad, covered)
            if more:
                return texts + more
        more = self._retry_texture(gray, blurred, threshold=False)
        if more:
            return texts + more
        scale = 2.0 if gray.shape[1] <= UPSCALE_MAX_WIDTH else 1.5
        larger = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        return texts + self._retry("frame enlarged", cv2.GaussianBlur(larger, (0, 0), 0.6 * scale))

    def _retry_texture(
        self, gray: np.ndarray, blurred: np.ndarray, *, threshold: bool
    ) -> list[str]:
        """One look, upscaled and smoothed, at the frame's densest fine detail: where the
        first look located nothing, only if that detail is dense enough to be a small
        code (``threshold``); as the last retry on a located symbol, always (the
        symbol's corners may have been those of something else)."""
        score, cx, cy = texture_peak(blurred)
        wide = gray.shape[1] > UPSCALE_MAX_WIDTH
        if threshold and score < (TEXTURE_THRESHOLD_LARGE if wide else TEXTURE_THRESHOLD_SMALL):
            return []
        h, w = gray.shape
        half = int(TEXTURE_HALF_SHARE * h)
        crop = np.ascontiguousarray(
            gray[max(0, cy - half) : min(h, cy + half), max(0, cx - half) : min(w, cx + half)]
        )
        up = cv2.resize(
            crop, None, fx=TEXTURE_SCALE, fy=TEXTURE_SCALE, interpolation=cv2.INTER_CUBIC
        )
        return self._retry("texture", cv2.GaussianBlur(up, (0, 0), TEXTURE_SIGMA * TEXTURE_SCALE))

    def _around(
        self, gray: np.ndarray, quad: np.ndarray, covered: list[tuple[int, int, int, int]]
    ) -> list[str]:
        """Second looks at the region of one located but unread symbol (its box is
        added to ``covered``)."""
        crop, scale, box = _crop(gray, quad)
        if crop is None:
            return []
        covered.append(box)
        up = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        sigma = 0.45 * scale  # about half a frame pixel, in upscaled pixels
        smooth = cv2.GaussianBlur(up, (0, 0), sigma)
        return self._retry("crop", up) or self._retry("crop smoothed", smooth)


def texture_peak(blurred: np.ndarray) -> tuple[float, int, int]:
    """How dense the densest fine detail of a lightly blurred frame is against the
    median or :data:`TEXTURE_FLOOR` (a ratio), and the centre of that window in frame
    pixels (x, y); see :data:`TEXTURE_CELL_SHARE`."""
    h, w = blurred.shape
    if h < 16 or w < 16:  # too small to hold a code worth a retry (and to shrink)
        return 0.0, 0, 0
    small = cv2.resize(blurred, (w // 4, h // 4), interpolation=cv2.INTER_LINEAR)
    detail = cv2.absdiff(small, cv2.blur(small, (3, 3)))
    cell = max(2, int(TEXTURE_CELL_SHARE * small.shape[0]))
    rows, cols = small.shape[0] // cell, small.shape[1] // cell
    if rows < 2 or cols < 2:  # a frame too small to hold a code worth a retry
        return 0.0, 0, 0
    grid = cv2.resize(detail, (cols, rows), interpolation=cv2.INTER_AREA).astype(np.float32)
    windows = cv2.blur(grid, (2, 2), anchor=(1, 1), borderType=cv2.BORDER_REPLICATE)
    y, x = divmod(int(windows.argmax()), cols)
    score = float(windows[y, x]) / max(float(np.median(grid)), TEXTURE_FLOOR)
    return score, 4 * cell * x, 4 * cell * y


def _quad(position) -> np.ndarray:
    """The four corners of a zxing-cpp position (top-left, top-right, bottom-right,
    bottom-left), as float32 x, y."""
    return np.float32(
        [
            [p.x, p.y]
            for p in (
                position.top_left,
                position.top_right,
                position.bottom_right,
                position.bottom_left,
            )
        ]
    )


def _largest(quads: list[np.ndarray], count: int) -> list[np.ndarray]:
    return sorted(quads, key=lambda q: -cv2.contourArea(q))[:count]


def _crop(
    gray: np.ndarray, quad: np.ndarray
) -> tuple[np.ndarray | None, float, tuple[int, int, int, int]]:
    """The region of ``quad`` with its margin, the scale that brings the symbol to about
    :data:`TARGET_SIDE_PX` across, and the region's box (x0, y0, x1, y1); None for a
    degenerate quad."""
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    size = max(x1 - x0, y1 - y0)
    if size < 4:
        return None, 1.0, (0, 0, 0, 0)
    margin = max(MIN_MARGIN_PX, MARGIN * size)
    h, w = gray.shape
    left, top = max(0, int(x0 - margin)), max(0, int(y0 - margin))
    right, bottom = min(w, int(x1 + margin) + 1), min(h, int(y1 + margin) + 1)
    scale = min(MAX_SCALE, max(1.0, TARGET_SIDE_PX / size))
    crop = np.ascontiguousarray(gray[top:bottom, left:right])
    return crop, scale, (left, top, right, bottom)
