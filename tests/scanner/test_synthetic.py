"""The synthetic scene and the ``synthetic:`` source: real codes, reproducible frames."""

from __future__ import annotations

import numpy as np
import pytest

from errors import BadDriverURL
from scanner import decoder_for_name, source_for_url
from scanner.render import DEGRADATIONS, SyntheticScene, Wallet, qr_modules, render_frame
from verifier import parse_token

from ..ledgerkit import NOW, code, signer, ticket_id
from .conftest import WALLETS

URL = (
    "synthetic:?width=640&height=480&fps=0&seed=7&frames=6&wallets=t0,t1,t2"
    "&namespace=test&start=1790000010"
)


def test_wallets_named_in_the_test_namespace_are_ledgerkit_tickets() -> None:
    wallet = Wallet.named("t1", "test")
    assert wallet.ticket == ticket_id("t1")
    assert wallet.public_key == signer("t1").public_key
    assert wallet.code(NOW) == code("t1", NOW)


def test_codes_are_version_6_alphanumeric() -> None:
    modules = qr_modules(WALLETS[0].code(NOW))
    assert modules.shape == (41 + 8, 41 + 8)  # version 6 with the quiet zone


def test_a_frame_is_reproducible_from_its_seed(codes: list[str]) -> None:
    a = render_frame(codes[:2], np.random.default_rng(42), (1280, 720))
    b = render_frame(codes[:2], np.random.default_rng(42), (1280, 720))
    c = render_frame(codes[:2], np.random.default_rng(43), (1280, 720))
    assert a.image.shape == (720, 1280, 3) and a.image.dtype == np.uint8
    assert np.array_equal(a.image, b.image) and a.applied == b.applied
    assert not np.array_equal(a.image, c.image)


def test_the_source_replays_identically_for_a_seed() -> None:
    with source_for_url(URL) as one, source_for_url(URL) as two:
        first, second = list(one), list(two)
    assert len(first) == len(second) == 6
    for a, b in zip(first, second, strict=True):
        assert a.index == b.index and a.truth == b.truth
        assert np.array_equal(a.image, b.image)
    with source_for_url(URL.replace("seed=7", "seed=8")) as other:
        assert not np.array_equal(other.read().image, first[0].image)


def test_any_frame_renders_alone_and_the_same() -> None:
    scene = SyntheticScene(WALLETS, size=(640, 480), seed=3)
    again = SyntheticScene(WALLETS, size=(640, 480), seed=3)
    assert np.array_equal(scene.render(17, NOW).image, again.render(17, NOW).image)


def test_frames_carry_live_codes_that_rotate() -> None:
    scene = SyntheticScene(WALLETS, size=(640, 480), seed=1, empty=0.0, multi=0.0, degradations=())
    early, late = scene.render(0, NOW).texts[0], scene.render(0, NOW + 15).texts[0]
    assert early != late
    assert parse_token(late).step == parse_token(early).step + 1


def test_truth_matches_what_a_decoder_reads_on_clean_frames() -> None:
    decoder = decoder_for_name()
    url = URL.replace("frames=6", "frames=10") + "&degrade=none&empty=0.2&multi=0.2"
    with source_for_url(url) as source:
        for frame in source:
            assert sorted(decoder.decode(frame.image)) == sorted(frame.truth)


def test_every_degradation_renders_at_both_sizes(codes: list[str]) -> None:
    for i, name in enumerate(DEGRADATIONS):
        for size in ((640, 480), (1280, 720)):
            r = render_frame(codes[:1], np.random.default_rng(i), size, {name: 1.0})
            assert name in r.applied and r.image.shape == (size[1], size[0], 3)


def test_unknown_degradation_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown degradation"):
        render_frame([], np.random.default_rng(0), (640, 480), ["fog"])
    with pytest.raises(BadDriverURL, match="'fog'"):
        source_for_url("synthetic:?degrade=defocus,fog")


def test_paced_source_delivers_at_its_fps() -> None:
    import time

    with source_for_url(
        "synthetic:?width=320&height=240&fps=50&frames=5&degrade=none&wallets=a"
    ) as source:
        start = time.monotonic()
        frames = list(source)
    assert len(frames) == 5
    assert time.monotonic() - start >= 4 / 50 * 0.9


def test_a_presented_queue_shows_the_front_phone_until_it_is_lowered(tmp_path, codes) -> None:
    """``queue=``: another process holds phones up (the venue demo); the camera shows the
    first file's code, read by the real decoder, and the empty lane once it is removed."""
    queue = tmp_path / "north-1"
    queue.mkdir()
    url = f"synthetic:?queue={queue}&width=640&height=480&fps=0&degrade=none"
    decoder = decoder_for_name("zxing")
    with source_for_url(url) as camera:
        assert camera.read().truth == ()
        (queue / "0002.json").write_text(f'{{"texts": ["{codes[1]}"]}}')
        (queue / "0001.json").write_text(f'{{"texts": ["{codes[0]}"]}}')
        frame = camera.read()
        assert frame.truth == (codes[0],)
        assert decoder.decode(frame.image) == [codes[0]]
        (queue / "0001.json").unlink()
        assert camera.read().truth == (codes[1],)
        (queue / "0002.json").write_text("{not json")  # garbled: an empty view, an alarm
        (queue / "0002.json").rename(queue / "0003.json")
        assert camera.read().truth == ()
        assert "0003.json: not a presented phone" in camera.alarm
        (queue / "0003.json").unlink()
        assert camera.read().truth == () and camera.alarm is None
        queue.rmdir()
        assert camera.read().truth == ()
        assert "cannot read the queue" in camera.alarm
