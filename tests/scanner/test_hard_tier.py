"""The hard tier (scanner/degradations.py) and the zxing-cascade decoder, for real: each
degradation makes an image of the right shape and type, the cascade reads hard frames a
plain zxing-cpp call misses (around a symbol it located, or at dense fine detail where
it located nothing), and spends at most one retry on a frame with no code."""

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
from scanner.decoders.cascade import FIRST_LOOK_SIGMA, is_token_text, texture_peak
from scanner.decoders.zxing import read_qr
from scanner.render import HARD, render_frame

from .conftest import clean_frame

# Hard-tier frames at 640x480 (render_frame seed -> wallet t0..t2 of conftest's codes,
# seed % 3) that one plain zxing-cpp call does not read and the cascade does; 218 and
# 297 the ``zxing`` decoder (three full-frame looks) misses as well; 297, 256 and 310
# are read only by a retry around a symbol the first look located but could not read.
HARD_SAMPLES = (218, 256, 297, 310)
# Hard-tier frames (seed -> code seed % 3, as above) where the cascade's first look
# locates nothing at all and the texture retry reads the code; the ``zxing`` decoder's
# three full-frame looks miss every one of them.
TEXTURE_SAMPLES = {(640, 480): (2, 86, 97), (1280, 720): (61, 225, 241)}


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


@pytest.mark.parametrize("size", list(TEXTURE_SAMPLES))
def test_the_texture_retry_reads_codes_the_first_look_did_not_locate(cascade, codes, size) -> None:
    zxing = decoder_for_name("zxing")
    for seed in TEXTURE_SAMPLES[size]:
        image = hard_frame([codes[seed % 3]], seed, size)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        blurred = cv2.GaussianBlur(gray, (0, 0), FIRST_LOOK_SIGMA)
        assert read_qr(blurred, return_errors=True, downscale=False) == []  # no evidence
        assert zxing.decode(image) == []
        retries = cascade.counts.retries
        assert cascade.decode(image) == [codes[seed % 3]]
        assert cascade.counts.retries == retries + 1  # the texture retry alone
    assert cascade.counts.read_by["texture"] == len(TEXTURE_SAMPLES[size])


def test_the_texture_window_lies_on_the_code(codes) -> None:
    # Clean frames: the densest fine detail is the code (where zxing-cpp finds it), far
    # denser than the median cell.
    for seed in range(4):
        frame = cv2.cvtColor(clean_frame([codes[0]], seed=seed), cv2.COLOR_BGR2GRAY)
        (found,) = zxingcpp.read_barcodes(frame, formats=zxingcpp.BarcodeFormat.QRCode)
        corners = [
            found.position.top_left,
            found.position.top_right,
            found.position.bottom_right,
            found.position.bottom_left,
        ]
        xs, ys = [p.x for p in corners], [p.y for p in corners]
        score, x, y = texture_peak(cv2.GaussianBlur(frame, (0, 0), FIRST_LOOK_SIGMA))
        assert score > 5.6
        cell = 0.09 * 480  # TEXTURE_CELL_SHARE of the height: the window is 2 cells
        assert min(xs) - cell <= x <= max(xs) + cell
        assert min(ys) - cell <= y <= max(ys) + cell
    assert texture_peak(np.full((480, 640), 128, np.uint8))[0] < 1.0
    assert texture_peak(np.zeros((6, 6), np.uint8)) == (0.0, 0, 0)  # too small to judge


def test_an_empty_frame_costs_one_call_and_at_most_one_retry(cascade) -> None:
    blank = [np.zeros((480, 640), np.uint8), np.full((720, 1280, 3), 200, np.uint8)]
    for frame in blank:
        assert cascade.decode(frame) == []
    assert (cascade.counts.first, cascade.counts.retries) == (2, 0)  # no detail, no retry
    frames = [hard_frame([], seed) for seed in range(8)]
    frames += [hard_frame([], seed, (1280, 720)) for seed in range(4)]
    for frame in frames:
        before = cascade.counts.retries
        assert cascade.decode(frame) == []
        assert cascade.counts.retries - before <= 1
    assert cascade.counts.first == 2 + len(frames)
    assert cascade.counts.retries <= len(frames) // 2  # most empty frames: one call


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (7, 200), (15, 15), (40, 9), (16, 16)])
def test_tiny_frames_read_nothing_and_raise_nothing(cascade, shape) -> None:
    rng = np.random.default_rng(sum(shape))
    assert cascade.decode(rng.integers(0, 256, shape, dtype=np.uint8)) == []


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


# -- readability at the true position (bench/readable.py) -------------------------------


def test_render_reports_where_each_code_lies(codes) -> None:
    r = render_frame(codes[:2], np.random.default_rng(3), (1280, 720), degradations=())
    assert len(r.corners) == 2
    for text, corners in zip(r.texts, r.corners, strict=True):
        assert corners.shape == (4, 2)
        found = [
            b
            for b in zxingcpp.read_barcodes(r.image, formats=zxingcpp.BarcodeFormat.QRCode)
            if b.text == text
        ]
        centre = found[0].position.top_left
        x0, y0 = corners.min(axis=0)
        x1, y1 = corners.max(axis=0)
        assert x0 <= centre.x <= x1 and y0 <= centre.y <= y1


def test_a_code_reads_at_its_true_position_until_it_is_wiped(codes) -> None:
    from bench.readable import read_at

    r = render_frame(codes[:1], np.random.default_rng(4), (640, 480), degradations=())
    gray = cv2.cvtColor(r.image, cv2.COLOR_BGR2GRAY)
    assert read_at(gray, codes[0], r.corners[0]) == (True, 0.0)
    assert read_at(gray, codes[1], r.corners[0])[0] is False  # another code: no
    wiped = gray.copy()
    cv2.fillConvexPoly(wiped, r.corners[0].astype(np.int32), 128)
    assert read_at(wiped, codes[0], r.corners[0])[0] is False
