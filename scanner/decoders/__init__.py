"""QR decoders chosen by name, imported only when chosen (python-can's ``BACKENDS``).

A Pi configured for ``zxing`` never imports pyzbar, so it needs neither pyzbar nor
libzbar0; a missing package is reported when that decoder is chosen, naming what to
install.
"""

from __future__ import annotations

import importlib

from errors import UnknownScheme

from ..frame import Decoder

#: name -> (module, class). Order is the order listed in error messages and the bench.
DECODERS: dict[str, tuple[str, str]] = {
    "zxing": ("scanner.decoders.zxing", "ZXingDecoder"),
    "zbar": ("scanner.decoders.zbar", "ZBarDecoder"),
    "opencv": ("scanner.decoders.opencv", "OpenCVDecoder"),
}

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
DEFAULT_DECODER = "zxing"


def decoder_for_name(name: str = DEFAULT_DECODER) -> Decoder:
    """A new decoder instance; :class:`UnknownScheme` lists the known names, and
    :class:`DriverUnavailable` names the package (or library) to install."""
    try:
        module_name, class_name = DECODERS[name]
    except KeyError:
        raise UnknownScheme(f"unknown decoder {name!r}; known decoders: "
                            f"{', '.join(DECODERS)}") from None
    module = importlib.import_module(module_name)
    return getattr(module, class_name)()
