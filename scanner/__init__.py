"""scanner: where frames come from and how QR texts are read from them.

The lane pipeline needs four names::

    source = source_for_url(config.camera, on_alarm=alarm)     # frames or texts
    decoder = decoder_for_name(config.decoder)                 # default DEFAULT_DECODER
    item = source.read(timeout=0.5)                            # Frame | TextLine | None
    texts = texts_of(item, decoder)                            # the QR texts to decide on

and the configuration two more, which check without opening anything:
``check_source_url(url)`` and ``check_decoder_name(name)``.

Sources (scanner/sources/, one module per URL scheme) and decoders
(scanner/decoders/, one module per library) are imported only when chosen, and
``import scanner`` loads neither OpenCV nor numpy. The synthetic scene
(scanner/render.py: OpenCV, numpy, segno and the verifier's keys) draws real GH1 wallet
codes into camera-like frames for tests, the decode benchmark and the demo; it is not
part of this package's face: import it as ``from scanner.render import ...``. This
package never imports ``gate``.
"""

from drivers import DriverURL

from .decoders import DECODERS, DEFAULT_DECODER, check_decoder_name, decoder_for_name
from .frame import Decoder, Frame, Item, TextLine, texts_of
from .sources import SOURCES, BaseSource, Source, check_source_url, source_for_url

__all__ = [
    "DECODERS",
    "DEFAULT_DECODER",
    "SOURCES",
    "BaseSource",
    "Decoder",
    "DriverURL",
    "Frame",
    "Item",
    "Source",
    "TextLine",
    "check_decoder_name",
    "check_source_url",
    "decoder_for_name",
    "source_for_url",
    "texts_of",
]
