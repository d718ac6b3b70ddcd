"""Live wallet codes drawn into camera-like frames: the scene a lane camera sees.

Tests, the decode benchmark and the demo need frames that look like a phone held under a
lane camera, showing real GH1 codes that a real ledger admits. This module draws them:
the code is made with segno in QR alphanumeric mode (what a wallet does; version 6-M
holds the 133 characters of a GH1 token), placed on a phone screen with a wallet-like
layout, and the phone is projected into the frame with OpenCV, over a cluttered lane
background. Every random choice comes from the ``numpy.random.Generator`` passed in,
so a frame is reproducible from its seed.

Degradations, each drawn per frame with the probability given in ``degradations``
(:data:`DEGRADATIONS` is the default mix), with strengths chosen to stay within what a
real lane produces. Those below are the easy tier's (:data:`EASY`, the default); the hard
tier (:data:`HARD`: 3-pixel modules, heavier noise, glare and moire, JPEG at 45) and the
function that applies each degradation are in scanner/degradations.py. Sizes in
"modules" scale with the code's size in the frame, as physical quantities do (a phone
moving at a given speed smears over more pixels when the code is larger in the image):

``perspective``   the phone tilted up to 35 degrees about each axis (it is always
                  rotated in its own plane; people hold phones at any angle)
``motion_blur``   a straight smear of 0.3 to 1.2 modules (a hand moving 15 cm/s during
                  an 8 ms exposure moves a 4 cm code about one module)
``defocus``       Gaussian blur of sigma 0.15 to 0.45 module (fixed-focus lens, phone
                  nearer or farther than the focus distance). With motion blur as well,
                  the two together are kept within :data:`BLUR_BUDGET` (0.45 module as
                  one standard deviation, the most defocus alone may reach): without
                  that limit both at their largest made frames no decoder reads (4 of
                  300 in bench/decode.py), and a lane that blurs that much has its
                  focus or exposure set wrong
``noise``         sensor noise, sigma 2.5 to 9 grey levels (gain in a dim lane)
``glare``         a reflection of a ceiling light on the phone glass: a bright blob of
                  up to 200 levels over 12-30 % of the code's width
``low_contrast``  screen brightness turned down or exposure off: contrast 0.3 to 0.6
``dark_mode``     a dark-mode wallet: light modules on a dark screen
``moire``         the camera's pixel grid beating with the screen's: colour bands of
                  8 to 22 levels
``occlusion``     a thumb over an edge of the code, up to 12 % of its width deep, on a
                  side without finder patterns (a thumb over a finder pattern makes the
                  code unreadable to any decoder; the attendee has to move it)
``jpeg``          compression of an MJPEG camera stream at quality 45-85

Frames with no code still hold clutter (signs, a phone showing no code) so that a
decoder's false reads are measured on something, not on a flat grey field.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import segno

from errors import InvalidArgument
from verifier.keys import Signer
from verifier.token import encode_token, step_of

from . import degradations as deg
from .degradations import DEGRADATIONS, EASY, HARD, Tier  # the mixes and strengths

__all__ = [
    "DEGRADATIONS",
    "DEMO_NAMESPACE",
    "EASY",
    "HARD",
    "PresentedScene",
    "Rendered",
    "SyntheticScene",
    "Tier",
    "Wallet",
    "qr_modules",
    "render_frame",
]

DEMO_NAMESPACE = "gatehouse-demo"
QUIET = 4  # modules of quiet zone each side, as the QR standard asks
#: Module size in the frame as a share of the frame height (the easy tier): at 640x480 a
#: code is 3.6 to 7 pixels a module (150 to 290 pixels wide), at 1280x720 5.4 to 10.4.
MODULE_SHARE = EASY.module_share
#: Largest combined blur (defocus and motion, as one standard deviation) in modules:
#: the most defocus alone may reach (the easy tier).
BLUR_BUDGET = EASY.blur_budget
FOCAL_SHARE = 0.785  # focal length / frame width: a lens of about 65 degrees across
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
_SIGNS = ("EXIT", "GATE 3", "NORTH", "TICKETS", "NO ENTRY", "LANE 2", "SCAN HERE", "A-F")


@dataclass(frozen=True, slots=True)
class Wallet:
    """A ticket holder's wallet: the holder key seed and the ticket id its codes are for."""

    holder_seed: bytes
    ticket: str

    @classmethod
    def named(cls, name: str, namespace: str = DEMO_NAMESPACE) -> Wallet:
        """A wallet derived from a name: the same derivation as tests/ledgerkit.py when
        ``namespace`` is ``"test"``, so a ledger built there admits its codes."""
        return cls(
            hashlib.sha256(f"{namespace}:{name}".encode()).digest(),
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}:{name}")),
        )

    @property
    def public_key(self) -> bytes:
        return Signer(self.holder_seed).public_key

    def code(self, unix_time: float) -> str:
        """The token text this wallet shows at ``unix_time``."""
        return encode_token(self.holder_seed, self.ticket, step_of(int(unix_time)))


@dataclass(frozen=True, slots=True, eq=False)
class Rendered:
    """A rendered frame (BGR uint8), the texts drawn into it, and what was done to it."""

    image: np.ndarray
    texts: tuple[str, ...]
    applied: frozenset[str]
    module_px: tuple[float, ...] = ()  # module size of each code in the frame, pixels
    #: Where each code lies in the frame: four corners (x, y; clockwise from the top
    #: left of the code as drawn) two modules out into its quiet zone, float32 4x2.
    #: Only measurements read it (bench/readable.py), never a decoder.
    corners: tuple[np.ndarray, ...] = ()


@lru_cache(maxsize=256)
def qr_modules(text: str) -> np.ndarray:
    """The code's modules with the quiet zone, 1 = dark; alphanumeric mode when it fits."""
    mode = "alphanumeric" if text and set(text) <= _ALNUM else None
    qr = segno.make_qr(text, mode=mode, error="m", boost_error=False)
    modules = np.pad(np.array(qr.matrix, dtype=np.uint8), QUIET)
    modules.setflags(write=False)
    return modules


def _rates(degradations: Mapping[str, float] | Iterable[str]) -> dict[str, float]:
    if isinstance(degradations, Mapping):
        rates = dict(degradations)
    else:
        rates = {name: DEGRADATIONS.get(name, 0.0) for name in degradations}
    unknown = set(rates) - set(DEGRADATIONS)
    if unknown:
        raise InvalidArgument(
            f"unknown degradation(s) {', '.join(sorted(unknown))}; known: {', '.join(DEGRADATIONS)}"
        )
    return rates


def render_frame(
    texts: Sequence[str],
    rng: np.random.Generator,
    size: tuple[int, int] = (1280, 720),
    degradations: Mapping[str, float] | Iterable[str] = DEGRADATIONS,
    *,
    clutter: bool = True,
    tier: Tier = EASY,
) -> Rendered:
    """Draw each of ``texts`` on its own phone into a ``size`` (width, height) frame.

    ``degradations`` maps a name to the probability it is applied (a plain list of
    names uses the default probabilities; ``()`` gives a clean frame; ``tier.mix`` is
    the tier's own). ``tier`` sets how large the code is and how strong each
    degradation (scanner/degradations.py). ``clutter`` adds signs and, on frames with
    no code, sometimes a phone showing no code.
    """
    width, height = size
    rates = _rates(degradations)
    applied = {name for name in DEGRADATIONS if rng.random() < rates.get(name, 0.0)}
    frame = _background(rng, width, height, clutter=clutter)
    nominal = _nominal_module(rng, height, tier)
    module_px: list[float] = []
    corners: list[np.ndarray] = []
    placed: list[tuple[np.ndarray, np.ndarray]] = []
    for i, text in enumerate(texts):
        # Several people: each phone in its own vertical strip of the view.
        strip = (i / len(texts), (i + 1) / len(texts))
        module_px.append(
            _place_phone(frame, rng, placed, qr_modules(text), nominal, applied, strip, tier)
        )
        corners.append(placed[-1][1])
        nominal = _nominal_module(rng, height, tier)
    if not texts and clutter and rng.random() < 0.5:
        _place_phone(frame, rng, placed, None, nominal, applied, tier=tier)
    if not texts:
        applied -= {"dark_mode", "glare", "moire", "occlusion"}
    scale = float(np.mean(module_px)) if module_px else nominal
    image = _camera(frame, rng, applied, scale, tier)
    return Rendered(
        image=image,
        texts=tuple(texts),
        applied=frozenset(applied),
        module_px=tuple(module_px),
        corners=tuple(corners),
    )


#: A phone's length in modules of its code, as _draw_phone lays it out (the code with its
#: quiet zone is 49 modules; the screen 1.1-1.35 times as wide and about twice as tall,
#: with the bezels): a tier with ``phone_share`` sizes the code from the phone's length.
PHONE_MODULES = 49 * 1.22 * 2.02 * 1.1


def _nominal_module(rng: np.random.Generator, height: int, tier: Tier) -> float:
    """The code's module size in frame pixels, before tilt."""
    if tier.phone_share is None:
        return rng.uniform(*tier.module_share) * height
    return max(tier.min_module_px, rng.uniform(*tier.phone_share) * height / PHONE_MODULES)


# -- the lane behind the phone ---------------------------------------------------------


def _background(rng: np.random.Generator, width: int, height: int, *, clutter: bool) -> np.ndarray:
    """Smooth uneven lighting over a floor or counter, with turnstile parts and signs."""
    coarse = rng.uniform(40, 190, size=(3, 4, 1)) + rng.uniform(-15, 15, size=(3, 4, 3))
    frame = cv2.resize(
        np.clip(coarse, 0, 255).astype(np.uint8), (width, height), interpolation=cv2.INTER_CUBIC
    )
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1 = x0 + int(rng.integers(width // 20, width // 3))
        y1 = y0 + int(rng.integers(height // 20, height // 2))
        colour = tuple(int(c) for c in rng.integers(30, 230, size=3))
        cv2.rectangle(frame, (x0, y0), (x1, y1), colour, -1)
    for _ in range(int(rng.integers(1, 4))):
        p0 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(
            frame,
            p0,
            p1,
            tuple(int(c) for c in rng.integers(0, 255, size=3)),
            int(rng.integers(2, 12)),
            cv2.LINE_AA,
        )
    if clutter:
        for _ in range(int(rng.integers(0, 3))):
            text = _SIGNS[int(rng.integers(len(_SIGNS)))]
            scale = height / 480 * rng.uniform(0.6, 1.6)
            org = (int(rng.integers(0, width * 3 // 4)), int(rng.integers(height // 8, height)))
            shade = int(rng.integers(0, 256))
            cv2.putText(
                frame,
                text,
                org,
                cv2.FONT_HERSHEY_SIMPLEX,
                scale,
                (shade, shade, shade),
                max(1, round(2 * scale)),
                cv2.LINE_AA,
            )
    return frame


# -- the phone -------------------------------------------------------------------------


@dataclass
class _Phone:
    image: np.ndarray  # BGR, phone space
    code_box: tuple[int, int, int] = (0, 0, 0)  # x, y, side (with quiet zone), phone px
    has_code: bool = True
    screen: tuple[int, int, int, int] = (0, 0, 0, 0)
    extra: dict[str, float] = field(default_factory=dict)


def _draw_phone(
    rng: np.random.Generator,
    modules: np.ndarray | None,
    px: int,
    applied: set[str],
    tier: Tier = EASY,
) -> _Phone:
    """A phone showing a wallet screen, in its own pixels (``px`` a module)."""
    n = modules.shape[0] if modules is not None else 49
    side = n * px
    screen_w = int(side * rng.uniform(1.1, 1.35))
    screen_h = int(screen_w * rng.uniform(1.9, 2.15))
    bezel = max(2, int(screen_w * rng.uniform(0.03, 0.06)))
    body = int(rng.integers(12, 60))
    image = np.empty((screen_h + 4 * bezel, screen_w + 2 * bezel, 3), np.uint8)
    image[:] = (body, body + int(rng.integers(0, 8)), body + int(rng.integers(0, 8)))
    sx, sy = bezel, 2 * bezel
    dark = "dark_mode" in applied and modules is not None
    ground = int(rng.integers(15, 45)) if dark else int(rng.integers(225, 256))
    ink = int(rng.integers(200, 236)) if dark else int(rng.integers(0, 36))
    screen = image[sy : sy + screen_h, sx : sx + screen_w]
    screen[:] = ground
    header = int(screen_h * rng.uniform(0.07, 0.12))
    screen[:header] = tuple(int(c) for c in rng.integers(40, 220, size=3))
    cx = (screen_w - side) // 2 + int(rng.integers(-bezel, bezel + 1))
    cx = min(max(cx, 0), screen_w - side)
    cy = int(screen_h * rng.uniform(0.22, 0.4))
    for k in range(int(rng.integers(2, 5))):  # lines of text under the code
        y = cy + side + int(screen_h * 0.04) + k * int(screen_h * 0.045)
        w = int(screen_w * rng.uniform(0.3, 0.8))
        x = (screen_w - w) // 2
        shade = (ink + ground) // 2
        cv2.rectangle(
            screen, (x, y), (x + w, y + max(2, int(screen_h * 0.018))), (shade, shade, shade), -1
        )
    phone = _Phone(
        image=image,
        code_box=(sx + cx, sy + cy, side),
        has_code=modules is not None,
        screen=(sx, sy, screen_w, screen_h),
    )
    if modules is None:
        return phone
    patch = np.where(modules.astype(bool), np.uint8(ink), np.uint8(ground))
    code = screen[cy : cy + side, cx : cx + side]
    code[:] = cv2.resize(patch, (side, side), interpolation=cv2.INTER_NEAREST)[:, :, None]
    if "moire" in applied:
        deg.moire(code, rng, px, tier.moire_amplitude)
    if "glare" in applied:
        _glare(rng, screen, cx, cy, side, tier)
    if "occlusion" in applied:
        _thumb(rng, image, sx + cx, sy + cy, side, QUIET * px)
    return phone


def _glare(
    rng: np.random.Generator, screen: np.ndarray, cx: int, cy: int, side: int, tier: Tier
) -> None:
    """A ceiling light reflected in the glass, somewhere over the code."""
    centre = (cx + side * rng.uniform(0.1, 0.9), cy + side * rng.uniform(0.1, 0.9))
    radius = side * rng.uniform(*tier.glare_radius)
    stretch = rng.uniform(1.0, 2.0)
    deg.glare(screen, centre, radius, stretch, rng.uniform(*tier.glare_peak))


def _thumb(
    rng: np.random.Generator, image: np.ndarray, x: int, y: int, side: int, quiet: int
) -> None:
    """A thumb reaching over the right or bottom edge of the code, away from the
    finder patterns (top-left, top-right, bottom-left)."""
    inner = side - 2 * quiet  # the modules proper
    depth = inner * rng.uniform(0.03, 0.12)
    half = inner * rng.uniform(0.16, 0.24)
    length = inner * rng.uniform(0.5, 0.8)
    along = rng.uniform(0.45, 0.9)
    skin = (int(rng.integers(90, 170)), int(rng.integers(120, 190)), int(rng.integers(170, 236)))
    if rng.random() < 0.5:  # from the right
        edge = x + quiet + inner
        centre = (int(edge - depth + length), int(y + quiet + inner * along))
        axes = (int(length), int(half))
    else:  # from below
        edge = y + quiet + inner
        centre = (int(x + quiet + inner * along), int(edge - depth + length))
        axes = (int(half), int(length))
    cv2.ellipse(image, centre, axes, 0, 0, 360, skin, -1, cv2.LINE_AA)
    shade = tuple(max(0, c - 35) for c in skin)
    cv2.ellipse(image, centre, axes, 0, 0, 360, shade, max(1, int(half * 0.08)), cv2.LINE_AA)


def _rotation(
    rng: np.random.Generator, tilt: bool, upright: bool, tilt_deg: float = 35.0
) -> np.ndarray:
    # Alone, a phone is held at any angle; side by side with another, roughly upright.
    theta = rng.uniform(-math.pi / 6, math.pi / 6) if upright else rng.uniform(0, 2 * math.pi)
    a = math.radians(rng.uniform(-tilt_deg, tilt_deg)) if tilt else 0.0
    b = math.radians(rng.uniform(-tilt_deg, tilt_deg)) if tilt else 0.0
    rz = np.array(
        [[math.cos(theta), -math.sin(theta), 0], [math.sin(theta), math.cos(theta), 0], [0, 0, 1]]
    )
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    return rx @ ry @ rz


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    return cv2.intersectConvexConvex(a, b)[0] > 0


def _place_phone(
    frame: np.ndarray,
    rng: np.random.Generator,
    placed: list[tuple[np.ndarray, np.ndarray]],
    modules: np.ndarray | None,
    module_px: float,
    applied: set[str],
    strip: tuple[float, float] = (0.0, 1.0),
    tier: Tier = EASY,
) -> float:
    """Project a phone into ``frame`` with its code wholly in view and not covering a
    code already placed (``placed`` holds (body, code) quads and gets this one's); returns
    the code's module size in frame pixels on its most foreshortened side."""
    height, width = frame.shape[:2]
    focal = FOCAL_SHARE * width
    px = max(3, round(module_px * 1.15) + 1)  # a little finer than the frame, for its optics
    phone = _draw_phone(rng, modules, px, applied, tier)
    x, y, side = phone.code_box
    misses = {"behind the camera": 0, "code out of view": 0, "code covered": 0}
    for attempt in range(200):
        if attempt and attempt % 10 == 0:
            module_px *= 0.9  # crowded: a smaller code (a phone held farther away)
        ccx, ccy = x + side / 2, y + side / 2
        s = module_px / px
        rot = _rotation(
            rng, "perspective" in applied, upright=strip != (0.0, 1.0), tilt_deg=tier.tilt_deg
        )
        ph, pw = phone.image.shape[:2]
        margin = QUIET * px - 2 * px  # keep two modules of quiet zone in view
        corners = np.array(
            [
                [0, 0],
                [pw, 0],
                [pw, ph],
                [0, ph],
                [x + margin, y + margin],
                [x + side - margin, y + margin],
                [x + side - margin, y + side - margin],
                [x + margin, y + side - margin],
            ],
            np.float64,
        )
        pts = (
            np.column_stack(
                [(corners[:, 0] - ccx) * s, (corners[:, 1] - ccy) * s, np.zeros(len(corners))]
            )
            @ rot.T
        )
        depth = focal + pts[:, 2]
        if np.any(depth < 0.3 * focal):
            misses["behind the camera"] += 1
            continue
        offsets = focal * pts[:, :2] / depth[:, None]  # about the code's centre
        # The whole code in view, and within its own strip of the frame.
        low = [strip[0] * width + 2, 2] - offsets[4:].min(axis=0)
        high = [strip[1] * width - 3, height - 3] - offsets[4:].max(axis=0)
        if np.any(low >= high):
            misses["code out of view"] += 1
            continue
        uv = rng.uniform(low, high) + offsets
        code = uv[4:].astype(np.float32)
        body = uv[:4].astype(np.float32)
        # Phones may overlap (two people reaching in), but no code may be covered: this
        # phone goes on top if its body leaves the other codes clear, else beneath the
        # others if its own code is clear of their bodies.
        on_top = not any(_overlap(body, c) for _, c in placed)
        if not on_top and any(_overlap(code, b) for b, _ in placed):
            misses["code covered"] += 1
            continue
        if modules is not None and "perspective" in applied:
            # Effective module size on the most foreshortened side of the code.
            sides = np.linalg.norm(code - np.roll(code, 1, axis=0), axis=1)
            effective = float(sides.min()) / (modules.shape[0] - 2 * QUIET + 4)
        else:
            effective = module_px
        matrix = cv2.getPerspectiveTransform(corners[:4].astype(np.float32), body)
        if on_top:
            cv2.warpPerspective(
                phone.image,
                matrix,
                (width, height),
                dst=frame,
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_TRANSPARENT,
            )
        else:
            layer = cv2.warpPerspective(
                phone.image, matrix, (width, height), flags=cv2.INTER_LINEAR
            )
            own = np.zeros((height, width), np.uint8)
            cv2.fillConvexPoly(own, body.astype(np.int32), 1)
            for other, _ in placed:
                cv2.fillConvexPoly(own, other.astype(np.int32), 0)
            np.copyto(frame, layer, where=own.astype(bool)[:, :, None])
        placed.append((body, code))
        return effective
    raise InvalidArgument(
        f"could not place a code of {module_px:.1f} px a module in a "
        f"{width}x{height} frame ({misses})"
    )


# -- the camera ------------------------------------------------------------------------


def _camera(
    frame: np.ndarray,
    rng: np.random.Generator,
    applied: set[str],
    module_px: float,
    tier: Tier = EASY,
) -> np.ndarray:
    """Optics, exposure, sensor and compression, in the order light meets them."""
    if not applied & {"motion_blur", "defocus", "low_contrast", "noise"}:
        image = frame
    else:
        image = frame.astype(np.float32)
        length = module_px * rng.uniform(*tier.motion_modules) if "motion_blur" in applied else 0.0
        sigma = module_px * rng.uniform(*tier.defocus_modules) if "defocus" in applied else 0.0
        # Both at once: a lane in spec keeps the combined blur (standard deviations added
        # in quadrature; a smear of length L has L/sqrt(12)) within the tier's budget.
        # Beyond it some frames are read by no decoder at all: the installation needs
        # fixing (focus, a shorter exposure with more light), not a better decoder.
        total = math.hypot(sigma, length / math.sqrt(12)) / module_px
        if total > tier.blur_budget:
            length, sigma = length * tier.blur_budget / total, sigma * tier.blur_budget / total
        if length:
            image = deg.motion_blur(image, length, rng.uniform(0, math.pi))
        if sigma:
            image = deg.defocus(image, sigma)
        if "low_contrast" in applied:
            contrast = rng.uniform(*tier.contrast)
            image = deg.low_contrast(image, contrast, rng.uniform(90, 170))
        if "noise" in applied:
            image = deg.sensor_noise(image, rng, rng.uniform(*tier.noise_sigma))
        image = np.clip(image, 0, 255).astype(np.uint8)
    if "jpeg" in applied:
        low, high = tier.jpeg_quality
        image = deg.jpeg(image, int(rng.integers(low, high + 1)))
    return image


# -- a scene: frames over time ---------------------------------------------------------


@dataclass
class SyntheticScene:
    """Wallets presented to a camera, frame after frame.

    Frame ``index`` at ``unix_time`` is a pure function of (seed, index, unix_time):
    each frame has its own generator seeded with ``[seed, index]``, so any frame can be
    rendered again alone, in any order. A share ``empty`` of frames hold no code, a
    share ``multi`` hold two codes of different wallets, the rest one code.
    """

    wallets: Sequence[Wallet]
    size: tuple[int, int] = (1280, 720)
    seed: int = 0
    degradations: Mapping[str, float] | Iterable[str] = field(
        default_factory=lambda: dict(DEGRADATIONS)
    )
    empty: float = 0.1
    multi: float = 0.05
    _codes: dict[tuple[int, int], str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.degradations = _rates(self.degradations)
        if not self.wallets:
            raise InvalidArgument("a scene needs at least one wallet")

    def code(self, wallet: int, unix_time: float) -> str:
        """Wallet number ``wallet``'s code at ``unix_time`` (signed once per 15 s step)."""
        key = (wallet, step_of(int(unix_time)))
        text = self._codes.get(key)
        if text is None:
            if len(self._codes) > 4 * len(self.wallets):
                self._codes.clear()
            text = self._codes[key] = self.wallets[wallet].code(unix_time)
        return text

    def render(self, index: int, unix_time: float) -> Rendered:
        rng = np.random.default_rng([self.seed, index])
        draw = rng.random()
        if draw < self.empty:
            chosen: list[int] = []
        elif draw < self.empty + self.multi and len(self.wallets) > 1:
            chosen = [int(i) for i in rng.choice(len(self.wallets), 2, replace=False)]
        else:
            chosen = [int(rng.integers(len(self.wallets)))]
        texts = [self.code(i, unix_time) for i in chosen]
        return render_frame(texts, rng, self.size, self.degradations)


@dataclass
class PresentedScene:
    """Phones held up to the camera by another process: the venue demo's attendees.

    ``queue`` is a directory; each file ``*.json`` in it is one attendee at the lane,
    ``{"texts": [TOKEN, ...]}`` (one text, or two for two phones at once). The first
    file by name is in view until it is removed (the attendee lowers the phone when the
    lamp answers); with no file the lane sees its empty background. A writer makes the
    file whole and renames it into place, so a half-written file is never read; a file
    that is not such JSON is shown as an empty view and named by :attr:`problem`.
    Frame ``index`` is drawn with the generator seeded ``[seed, index]``, as in
    :class:`SyntheticScene`.
    """

    queue: Path
    size: tuple[int, int] = (1280, 720)
    seed: int = 0
    degradations: Mapping[str, float] | Iterable[str] = field(
        default_factory=lambda: dict(DEGRADATIONS)
    )
    problem: str | None = None
    _shown: tuple[str, tuple[str, ...]] = ("", ())

    def __post_init__(self) -> None:
        self.degradations = _rates(self.degradations)

    def in_view(self) -> tuple[str, ...]:
        """The texts of the attendee at the front of the queue (none: an empty view)."""
        try:
            names = sorted(n for n in os.listdir(self.queue) if n.endswith(".json"))
        except OSError as exc:
            self.problem = f"cannot read the queue {self.queue}: {exc.strerror or exc}"
            return ()
        self.problem = None
        if not names:
            return ()
        if names[0] != self._shown[0]:
            self._shown = (names[0], self._read(self.queue / names[0]))
        return self._shown[1]

    def _read(self, path: Path) -> tuple[str, ...]:
        try:
            texts = json.loads(path.read_text(encoding="utf-8"))["texts"]
        except FileNotFoundError:  # lowered between the listing and the read
            return ()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.problem = f"{path}: not a presented phone ({exc})"
            return ()
        if not (isinstance(texts, list) and all(isinstance(t, str) for t in texts)):
            self.problem = f"{path}: not a presented phone (texts is not a list of strings)"
            return ()
        return tuple(texts[:2])

    def render(self, index: int, unix_time: float) -> Rendered:
        """The frame in view now (``unix_time`` is unused: the texts are as presented)."""
        rng = np.random.default_rng([self.seed, index])
        return render_frame(self.in_view(), rng, self.size, self.degradations)
