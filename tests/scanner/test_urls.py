"""Driver URL parsing is strict: every mistake is an error naming it."""

from __future__ import annotations

import pytest

from drivers import DriverURL
from errors import BadDriverURL, UnknownScheme
from scanner import source_for_url


def test_forms_of_the_path() -> None:
    assert DriverURL.parse("v4l2:/dev/video0").path == "/dev/video0"
    assert DriverURL.parse("v4l2:///dev/video0").path == "/dev/video0"
    assert DriverURL.parse("file:clip.mp4").path == "clip.mp4"
    assert DriverURL.parse("images:my%20dir/").path == "my dir/"
    assert DriverURL.parse("serial:loop://").path == "loop://"
    url = DriverURL.parse("V4L2:/dev/video0?width=1280&height=720")
    assert url.scheme == "v4l2" and url.options == {"width": "1280", "height": "720"}


@pytest.mark.parametrize(("url", "message"), [
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
])
def test_mistakes_are_named(url: str, message: str | None) -> None:
    with pytest.raises((BadDriverURL, UnknownScheme, ImportError)) as caught:
        source_for_url(url)
    if message is not None:
        assert caught.match(message)


def test_unknown_scheme_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        source_for_url("nothing:")
    assert issubclass(UnknownScheme, ValueError) and issubclass(BadDriverURL, ValueError)
