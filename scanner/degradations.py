"""The degradations a synthetic frame may suffer: their names, how often and how strongly
each is drawn (a :class:`Tier`), and one function per degradation that applies it.

Names, probabilities and tiers are plain data, kept importable without OpenCV or numpy
so that a ``synthetic:`` URL's ``degrade=`` option can be checked without loading them
(``gate config check``); each function imports what it needs when it is called. The
renderer (scanner/render.py) draws the scene and calls these in the order light meets
them: on the screen (``moire``, ``glare``), through the lens (``motion_blur``,
``defocus``), at the sensor (``low_contrast``, ``sensor_noise``) and in the camera's
encoder (``jpeg``).

Two tiers. :data:`EASY` is a well-set-up lane (codes of 3.6 to 10 pixels a module,
moderate noise, MJPEG at quality 45-85): the default of ``synthetic:`` frames, the
demo and the decoders' main benchmark. :data:`HARD` is a phone screen as a gate camera
sees it on a bad day: the phone fills 45-95 % of the frame height and its code's
modules come down to 3 pixels, heavy sensor noise, glare, moire, low contrast, motion
blur, JPEG at quality 45, dark mode and tilt, drawn together at high rates
(bench/decode.py reports both tiers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: name -> probability that a frame gets it (the default mix of ``synthetic:`` frames,
#: the decode benchmark's easy tier and the demo)
DEGRADATIONS: dict[str, float] = {
    "perspective": 0.7,
    "motion_blur": 0.3,
    "defocus": 0.3,
    "noise": 0.8,
    "glare": 0.25,
    "low_contrast": 0.3,
    "dark_mode": 0.15,
    "moire": 0.2,
    "occlusion": 0.15,
    "jpeg": 0.4,
}

#: The hard tier's mix: most frames get several of these at once.
HARD_DEGRADATIONS: dict[str, float] = {
    "perspective": 0.8,
    "motion_blur": 0.5,
    "defocus": 0.3,
    "noise": 1.0,
    "glare": 0.5,
    "low_contrast": 0.5,
    "dark_mode": 0.35,
    "moire": 0.5,
    "occlusion": 0.15,
    "jpeg": 1.0,
}


@dataclass(frozen=True, slots=True)
class Tier:
    """How strongly each degradation is drawn: (low, high) ranges, drawn uniformly.

    Sizes in modules scale with the code's size in the frame, as physical quantities do.
    ``phone_share`` set: the phone's length is that share of the frame height and the
    module size follows from it, never below ``min_module_px``; unset: the module size
    is ``module_share`` of the frame height.
    """

    mix: dict[str, float]
    module_share: tuple[float, float] = (0.0075, 0.0145)
    phone_share: tuple[float, float] | None = None
    min_module_px: float = 3.0
    tilt_deg: float = 35.0
    motion_modules: tuple[float, float] = (0.3, 1.2)
    defocus_modules: tuple[float, float] = (0.15, 0.45)
    #: Largest combined blur (defocus and motion, as one standard deviation) in modules.
    blur_budget: float = 0.45
    noise_sigma: tuple[float, float] = (2.5, 9.0)
    glare_peak: tuple[float, float] = (90.0, 200.0)
    glare_radius: tuple[float, float] = (0.12, 0.3)  # of the code's width
    contrast: tuple[float, float] = (0.3, 0.6)
    moire_amplitude: tuple[float, float] = (8.0, 22.0)
    jpeg_quality: tuple[int, int] = (45, 85)  # inclusive


EASY = Tier(DEGRADATIONS)
HARD = Tier(
    HARD_DEGRADATIONS,
    phone_share=(0.45, 0.95),
    min_module_px=3.0,
    tilt_deg=40.0,
    motion_modules=(0.3, 1.5),
    blur_budget=0.55,
    noise_sigma=(6.0, 16.0),
    glare_peak=(120.0, 230.0),
    glare_radius=(0.15, 0.35),
    contrast=(0.25, 0.5),
    moire_amplitude=(12.0, 30.0),
    jpeg_quality=(45, 45),
)
TIERS = {"easy": EASY, "hard": HARD}


def moire(
    screen: np.ndarray,
    rng: np.random.Generator,
    module_px: float,
    amplitude: tuple[float, float] = EASY.moire_amplitude,
) -> None:
    """Colour bands from the camera's pixel grid beating with the screen's, in place
    (``screen`` BGR; drawn over the code and its quiet zone, all a decoder looks at), of
    an amplitude drawn from ``amplitude`` grey levels."""
    import numpy as np

    h, w = screen.shape[:2]
    period = module_px * rng.uniform(0.7, 3.0)
    angle = rng.uniform(0, math.pi)
    amp = rng.uniform(*amplitude)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = (xx * math.cos(angle) + yy * math.sin(angle)) * (2 * math.pi / period)
    envelope = 0.6 + 0.4 * np.sin(yy * (2 * math.pi / (period * rng.uniform(6, 14))))
    out = screen.astype(np.float32)
    for ch in range(3):
        out[:, :, ch] += amp * envelope * np.sin(phase + ch * rng.uniform(0.3, 1.2))
    screen[:] = np.clip(out, 0, 255).astype(np.uint8)


def glare(
    screen: np.ndarray,
    centre: tuple[float, float],
    radius: float,
    stretch: float,
    peak: float,
) -> None:
    """A ceiling light reflected in the glass, in place: a bright soft-edged blob of
    ``peak`` grey levels, ``stretch`` times wider than tall."""
    import numpy as np

    h, w = screen.shape[:2]
    gx, gy = centre
    sigma = radius / 1.5
    # Beyond 3.5 sigma the blob adds less than half a grey level: draw only its box.
    x0, x1 = max(0, int(gx - 3.5 * sigma * stretch)), min(w, int(gx + 3.5 * sigma * stretch) + 1)
    y0, y1 = max(0, int(gy - 3.5 * sigma)), min(h, int(gy + 3.5 * sigma) + 1)
    yy, xx = np.ogrid[y0:y1, x0:x1]
    d2 = (((xx - gx) / stretch) ** 2 + (yy - gy) ** 2).astype(np.float32)
    blob = peak * np.exp(-d2 / np.float32(2 * sigma**2))
    box = screen[y0:y1, x0:x1]
    box[:] = np.clip(box + (blob[:, :, None] if box.ndim == 3 else blob), 0, 255).astype(np.uint8)


def motion_blur(image: np.ndarray, length: float, angle: float) -> np.ndarray:
    """A straight smear of ``length`` pixels (at least 1.5) at ``angle`` radians."""
    import cv2
    import numpy as np

    length = max(1.5, length)
    k = math.ceil(length) | 1
    kernel = np.zeros((k + 2, k + 2), np.float32)
    c = (k + 1) / 2
    dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
    cv2.line(
        kernel,
        (round((c - dx) * 16), round((c - dy) * 16)),
        (round((c + dx) * 16), round((c + dy) * 16)),
        1.0,
        1,
        cv2.LINE_AA,
        shift=4,
    )
    return cv2.filter2D(image, -1, kernel / kernel.sum())


def defocus(image: np.ndarray, sigma: float) -> np.ndarray:
    """A lens focused nearer or farther than the phone: Gaussian blur of ``sigma`` px."""
    import cv2

    return cv2.GaussianBlur(image, (0, 0), sigma)


def low_contrast(image: np.ndarray, contrast: float, mid: float) -> np.ndarray:
    """Screen dimmed or exposure off: grey levels squeezed by ``contrast`` about ``mid``."""
    import cv2

    return cv2.addWeighted(image, contrast, image, 0, mid - 128 * contrast)


def sensor_noise(image: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Gain in a dim lane: Gaussian noise of ``sigma`` grey levels, the same on every
    channel (``image`` float32, returned float32)."""
    import numpy as np

    noise = rng.standard_normal(image.shape[:2], dtype=np.float32) * sigma
    return image + (noise[:, :, None] if image.ndim == 3 else noise)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """An MJPEG camera stream: the frame compressed at ``quality`` and decoded again."""
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        return image
    flag = cv2.IMREAD_COLOR if image.ndim == 3 else cv2.IMREAD_GRAYSCALE
    return cv2.imdecode(data, flag)
