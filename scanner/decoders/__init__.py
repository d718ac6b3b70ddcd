"""QR decoders chosen by name, imported only when chosen (python-can's ``BACKENDS``).

A Pi configured for ``zxing`` never imports pyzbar, so it needs neither pyzbar nor
libzbar0; a missing package is reported when that decoder is chosen, naming what to
install. This table is the one place the decoder names and the default come from: the
configuration's ``[decoder] name``, ``gate config check`` and the benchmark read them
here. Checking a name (``check_decoder_name``) imports no decoder library.
"""

from __future__ import annotations

from drivers import Backend, Registry

from ..frame import Decoder

#: name -> (module, class, what to install). Order is the order listed in error messages
#: and the bench.
DECODERS = Registry(
    "decoder",
    {
        "zxing": Backend(
            "scanner.decoders.zxing",
            "ZXingDecoder",
            "the Python package zxing-cpp (pip install zxing-cpp)",
        ),
        "zbar": Backend(
            "scanner.decoders.zbar",
            "ZBarDecoder",
            "the Python package pyzbar (pip install pyzbar) and the system library "
            "libzbar0 (sudo apt-get install libzbar0)",
        ),
        "opencv": Backend(
            "scanner.decoders.opencv",
            "OpenCVDecoder",
            "the Python package opencv-python-headless (pip install opencv-python-headless)",
        ),
        "zxing-cascade": Backend(
            "scanner.decoders.cascade",
            "CascadeDecoder",
            "the Python package zxing-cpp (pip install zxing-cpp)",
        ),
    },
)

#: Chosen by measurement: ``python -m bench.decode`` (seed 1; 350 degraded frames with a
#: code and 60 without at each size), 2-CPU Xeon build machine, 2026-11-22:
#:
#:   frames read       640x480   1280x720    false decodes   mean ms 640x480 / 1280x720
#:   zxing              99.71 %    99.43 %     0                3.10 /   6.65
#:   zbar               74.29 %    80.57 %     0               64.40 / 105.61
#:   opencv             77.43 %    75.43 %     0              111.49 / 167.49
#:
#: zxing takes 0.063 of zbar's time per 1280x720 frame (target <= 0.25); its 3 missed
#: frames are frames no decoder read (strong defocus with tilt and noise).
#:
#: ``zxing-cascade`` was measured against it on both tiers (2026-12-03, seeds 1-3,
#: docs/scanner.md): it reads as many or more easy frames, 73-75 % of hard 640x480
#: frames against 68-70 % and 80-83 % of hard 1280x720 ones against 69-71 %, and keeps
#: empty frames at about one zxing-cpp call's time. By bench/decode.py's rule each of
#: those runs would make it the default; the default stays ``zxing`` until that is
#: changed on purpose (every lane runs it, and with seeds 2 and 3 the cascade left one
#: and two more 640x480 approach clips unread).
DEFAULT_DECODER = "zxing"


def check_decoder_name(name: str) -> str:
    """``name`` if it is a known decoder; ``UnknownScheme`` lists the known names."""
    return DECODERS.check_name(name)


def decoder_for_name(name: str = DEFAULT_DECODER) -> Decoder:
    """A new decoder instance; :class:`UnknownScheme` lists the known names, and
    :class:`DriverUnavailable` names the package (or library) to install."""
    decoder: Decoder = DECODERS.create(name)
    return decoder


__all__ = ["DECODERS", "DEFAULT_DECODER", "check_decoder_name", "decoder_for_name"]
