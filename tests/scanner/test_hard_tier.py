"""The hard tier (scanner/degradations.py) and the zxing-cascade decoder, for real: each
degradation makes an image of the right shape and type, the cascade reads hard frames a
plain zxing-cpp call misses, and spends nothing more on a frame with no code."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import segno
import zxingcpp

from scanner import decoder_for_name
from scanner import degradations as deg
from scanner.decoders.cascade import is_token_text
from scanner.render import HARD, render_frame

from .conftest import clean_frame

# Hard-tier frames at 640x480 (render_frame seed -> wallet t0..t2 of conftest's codes,
# seed % 3) that one plain zxing-cpp call does not read and the cascade does; 218 and
# 297 the ``zxing`` decoder (three full-frame looks) misses as well; 297, 256 and 310
# are read only by a retry around a symbol the first look located but could not read.
HARD_SAMPLES = (218, 256, 297, 310)


def plain_call(image: np.ndarray) -> list[str]:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    found = zxingcpp.read_barcodes(
        gray,
        formats=zxingcpp.BarcodeFormat.QRCode,
        try_rotate=False,
        try_downscale=True,
        try_invert=True,
        text_mode=zxingcpp.TextMode.Plain,
    )
    return [b.text for b in found if b.valid]


def hard_frame(texts: list[str], seed: int, size=(640, 480)) -> np.ndarray:
    return render_frame(texts, np.random.default_rng(seed), size, HARD.mix, tier=HARD).image


@pytest.fixture
def cascade():
    return decoder_for_name("zxing-cascade")


# -- the degradations -------------------------------------------------------------------


@pytest.fixture
def screen() -> np.ndarray:
    return np.ascontiguousarray(clean_frame([], seed=1)[100:300, 200:400])


def test_screen_degradations_work_in_place_and_keep_shape(screen: np.ndarray) -> None:
    before = screen.copy()
    deg.moire(screen, np.random.default_rng(0), 3.0, HARD.moire_amplitude)
    assert screen.shape == before.shape and screen.dtype == np.uint8
    assert not np.array_equal(screen, before)
    moired = screen.copy()
    deg.glare(screen, (100.0, 100.0), 40.0, 1.5, 200.0)
    assert screen.shape == before.shape and screen.dtype == np.uint8
    assert screen[100, 100].mean() > moired[100, 100].mean()  # brighter under the light
    gray = cv2.cvtColor(before, cv2.COLOR_BGR2GRAY)
    deg.glare(gray, (50.0, 50.0), 20.0, 1.0, 120.0)
    assert gray.shape == before.shape[:2]


@pytest.mark.parametrize("channels", [3, 1])
def test_camera_degradations_keep_shape_and_type(screen: np.ndarray, channels: int) -> None:
    image = screen if channels == 3 else cv2.cvtColor(screen, cv2.COLOR_BGR2GRAY)
    light = image.astype(np.float32)
    rng = np.random.default_rng(1)
    for out in (
        deg.motion_blur(light, 4.5, 0.7),
        deg.defocus(light, 1.2),
        deg.low_contrast(light, 0.25, 128.0),
        deg.sensor_noise(light, rng, 16.0),
    ):
        assert out.shape == image.shape and out.dtype == np.float32
    assert deg.low_contrast(light, 0.25, 128.0).std() < 0.3 * light.std()
    assert abs(float((deg.sensor_noise(light, rng, 16.0) - light).std()) - 16.0) < 1.0
    squeezed = deg.jpeg(image, 45)
    assert squeezed.shape == image.shape and squeezed.dtype == np.uint8


@pytest.mark.parametrize("size", [(640, 480), (1280, 720)])
def test_hard_frames_are_camera_frames_with_3_pixel_modules_or_more(codes, size) -> None:
    flat = {name: rate for name, rate in HARD.mix.items() if name != "perspective"}
    for seed in range(3):
        r = render_frame(codes[:1], np.random.default_rng(seed), size, flat, tier=HARD)
        assert r.image.shape == (size[1], size[0], 3) and r.image.dtype == np.uint8
        assert "jpeg" in r.applied and "noise" in r.applied  # always, in this tier
        assert all(m >= HARD.min_module_px for m in r.module_px)


def test_the_degradations_module_stays_light() -> None:
    # gate config check validates synthetic: URLs through it on units without OpenCV.
    code = "import sys, scanner.degradations; print(sorted({'numpy', 'cv2'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the cascade ------------------------------------------------------------------------


def test_the_cascade_reads_hard_frames_a_plain_call_misses(cascade, codes) -> None:
    zxing = decoder_for_name("zxing")
    missed_by_zxing = 0
    for seed in HARD_SAMPLES:
        image = hard_frame([codes[seed % 3]], seed)
        assert plain_call(image) == []
        assert cascade.decode(image) == [codes[seed % 3]]  # exactly, nothing else
        missed_by_zxing += zxing.decode(image) == []
    assert missed_by_zxing >= 2
    assert cascade.counts.retries > 0


def test_an_empty_frame_costs_one_call_and_no_retry(cascade) -> None:
    frames = [hard_frame([], seed) for seed in range(4)]
    frames += [hard_frame([], seed, (1280, 720)) for seed in range(2)]
    frames += [np.zeros((480, 640), np.uint8), np.full((720, 1280, 3), 200, np.uint8)]
    for frame in frames:
        assert cascade.decode(frame) == []
    assert (cascade.counts.first, cascade.counts.retries) == (len(frames), 0)


def test_no_false_reads_on_noise(cascade) -> None:
    rng = np.random.default_rng(5)
    for _ in range(4):
        noise = rng.integers(0, 256, (480, 640), dtype=np.uint8)
        assert cascade.decode(noise) == []
        blocks = cv2.resize(noise[:60, :80], (640, 480), interpolation=cv2.INTER_NEAREST)
        assert cascade.decode(blocks) == []


def test_only_gh1_shaped_texts_come_out(cascade, codes) -> None:
    # A QR code that is not a ticket (a poster's URL) is read by zxing, never reported
    # by the cascade; a GH1 token beside it still is.
    poster = segno.make_qr("https://example.org/tickets", error="m")
    art = np.array(poster.matrix, dtype=np.uint8)
    art = np.pad(np.where(art.astype(bool), 0, 255).astype(np.uint8), 4, constant_values=255)
    art = cv2.resize(art, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
    frame = cv2.cvtColor(clean_frame([codes[0]], seed=2, size=(1280, 720)), cv2.COLOR_BGR2GRAY)
    frame[20 : 20 + art.shape[0], 20 : 20 + art.shape[1]] = art
    assert "https://example.org/tickets" in decoder_for_name("zxing").decode(frame)
    assert cascade.decode(frame) == [codes[0]]
    assert is_token_text(codes[0])
    assert not is_token_text("GH1:abc")  # lower case is not Base45
    assert not is_token_text("HTTPS://GH1:ABC")
