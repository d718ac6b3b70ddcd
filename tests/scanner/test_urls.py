"""Driver URL parsing is strict: every mistake is an error naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from drivers import DriverURL
from errors import BadDriverURL, UnknownScheme
from scanner import check_decoder_name, check_source_url, source_for_url


def test_forms_of_the_path() -> None:
    assert DriverURL.parse("v4l2:/dev/video0").path == "/dev/video0"
    assert DriverURL.parse("v4l2:///dev/video0").path == "/dev/video0"
    assert DriverURL.parse("file:clip.mp4").path == "clip.mp4"
    assert DriverURL.parse("images:my%20dir/").path == "my dir/"
    assert DriverURL.parse("serial:loop://").path == "loop://"
    url = DriverURL.parse("V4L2:/dev/video0?width=1280&height=720")
    assert url.scheme == "v4l2" and url.options == {"width": "1280", "height": "720"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("webcam:/dev/video0", r"unknown source scheme 'webcam'; known: v4l2:, picamera2:, file:"),
        ("/dev/video0", None),
        ("v4l2:/dev/video0?widht=1280", r"unknown option 'widht'; v4l2: takes width, height"),
        ("v4l2:/dev/video0?width=wide", r"width='wide' is invalid; expected an integer"),
        ("v4l2:/dev/video0?width=1280&width=640", r"'width' is given twice"),
        ("v4l2:/dev/video0?width", r"options must be name=value"),
        ("v4l2:/dev/video0?fourcc=MJPEG", r"fourcc='MJPEG' is invalid"),
        ("v4l2:?width=640", r"no device given \(e.g. v4l2:/dev/video0\)"),
        ("v4l2://host/dev/video0", r"a host part is not supported"),
        ("file:clip.mp4?loop=maybe", r"loop='maybe' is invalid; expected 1/0"),
        ("images:frames/?speed=2", r"unknown option 'speed'; images: takes fps, loop"),
        ("serial:/dev/ttyACM0?baud=fast", r"baud='fast' is invalid"),
        ("serial:/dev/ttyACM0?parity=E", r"unknown option 'parity'"),
        ("synthetic:?fps=-1", r"fps='-1' is invalid; expected a number from 0"),
        ("synthetic:somewhere", r"takes no path"),
        ("synthetic:?wallets=a,,b", r"a comma-separated list"),
        ("synthetic:?empty=0.7&multi=0.5", r"empty \+ multi is more than 1"),
        ("picamera2:?width=640&colour=1", None),
    ],
)
def test_mistakes_are_named(url: str, message: str | None) -> None:
    with pytest.raises((BadDriverURL, UnknownScheme, ImportError)) as caught:
        source_for_url(url)
    if message is not None:
        assert caught.match(message)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("webcam:/dev/video0", r"known: v4l2:, picamera2:, file:, images:, synthetic:, serial:"),
        ("/dev/video0", r"has no scheme"),
        ("v4l2:/dev/video0?widht=1280", r"unknown option 'widht'; v4l2: takes width, height"),
        ("v4l2:/dev/video0?fps=0", r"fps='0' is invalid; expected a number from 1 to 240"),
        ("v4l2:/dev/video0?retry=0", r"retry='0' is invalid"),
        (
            "picamera2:?width=640&colour=1",
            r"unknown option 'colour'; picamera2: takes width, "
            r"height, fps, retry",
        ),
        ("picamera2:front", r"the path is a camera number"),
        ("file:clip.mp4?speed=2", r"unknown option 'speed'; file: takes fps, loop, retry"),
        ("file:?fps=1", r"no video file given"),
        ("images:?fps=1", r"no folder given"),
        ("images:frames/?fps=1001", r"fps='1001' is invalid"),
        ("synthetic:?degrade=fog", r"unknown degradation 'fog'; known: all, none, perspective"),
        ("synthetic:?width=100", r"width='100' is invalid; expected an integer from 160"),
        ("synthetic:?start=-5", r"start='-5' is invalid"),
        ("synthetic:?empty=0.7&multi=0.5", r"empty \+ multi is more than 1"),
        ("synthetic:?queue=", r"option queue= needs a directory"),
        ("synthetic:?queue=q&wallets=a", r"option wallets does not apply with queue="),
        ("serial:/dev/ttyACM0?maxline=8", r"maxline='8' is invalid"),
        ("serial:?baud=9600", r"no serial port given"),
    ],
)
def test_checking_names_the_mistake_without_opening(url: str, message: str) -> None:
    with pytest.raises(BadDriverURL) as caught:
        check_source_url(url)
    assert caught.match(message)


@pytest.mark.parametrize(
    "url",
    [
        "v4l2:/dev/video-gatehouse-absent?width=640&height=480&fps=15&fourcc=MJPG&retry=1",
        "v4l2:0",
        "picamera2:1?width=640&height=480&fps=25&retry=2",
        "file:/nonexistent/clip.mp4?fps=30&loop=1&retry=0.5",
        "images:/nonexistent/frames/?fps=10&loop=yes",
        "synthetic:?width=640&height=480&fps=0&seed=7&frames=30&wallets=t0,t1&namespace=test"
        "&start=1790000010&empty=0.2&multi=0.1&degrade=noise,jpeg",
        "synthetic:?degrade=none",
        "serial:/dev/ttyACM-gatehouse-absent?baud=115200&maxline=4096&retry=1",
        "serial:loop://",
    ],
)
def test_every_source_option_checks_without_opening(url: str) -> None:
    """Each scheme's every option is accepted by the check, which opens nothing (the
    devices and files above do not exist, and picamera2 is not installed here)."""
    assert check_source_url(url).text == url


def test_decoder_names_check_without_importing_them() -> None:
    assert check_decoder_name("zbar") == "zbar"
    with pytest.raises(UnknownScheme, match="known decoders: zxing, zbar, opencv"):
        check_decoder_name("quirc")


def test_importing_and_checking_loads_no_heavy_library() -> None:
    """``import scanner`` (and checking every scheme) loads no OpenCV, numpy, segno,
    decoder, pyserial or crypto: the configuration and the CLI stay light."""
    code = (
        "import sys, scanner, hardware, drivers\n"
        "for url in ('v4l2:/dev/video0', 'picamera2:', 'file:c.mp4', 'images:d',\n"
        "            'synthetic:?degrade=noise', 'serial:/dev/ttyACM0'):\n"
        "    scanner.check_source_url(url)\n"
        "scanner.check_decoder_name('zxing')\n"
        "heavy = ('cv2', 'numpy', 'segno', 'zxingcpp', 'pyzbar', 'serial', 'nacl',\n"
        "         'picamera2')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_unknown_scheme_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        source_for_url("nothing:")
    assert issubclass(UnknownScheme, ValueError) and issubclass(BadDriverURL, ValueError)
