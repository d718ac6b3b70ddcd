"""scanner: where frames come from and how QR texts are read from them.

The lane pipeline needs four names::

    source = source_for_url(config.camera, on_alarm=alarm)     # frames or texts
    decoder = decoder_for_name(config.decoder)                 # default DEFAULT_DECODER
    item = source.read(timeout=0.5)                            # Frame | TextLine | None
    texts = texts_of(item, decoder)                            # the QR texts to decide on

Sources (scanner/sources/, one module per URL scheme) and decoders
(scanner/decoders/, one module per library) are imported only when chosen. The
synthetic scene (scanner/render.py) draws real GH1 wallet codes into camera-like frames
for tests, the decode benchmark and the demo. This package imports ``verifier`` (for
tokens and exceptions) and never ``gate``.
"""

from drivers import DriverURL

from .decoders import DECODERS, DEFAULT_DECODER, decoder_for_name
from .frame import Decoder, Frame, Item, TextLine, texts_of
from .render import DEGRADATIONS, Rendered, SyntheticScene, Wallet, render_frame
from .sources import SOURCES, BaseSource, Source, source_for_url

__all__ = [
    "DECODERS",
    "DEFAULT_DECODER",
    "DEGRADATIONS",
    "SOURCES",
    "BaseSource",
    "Decoder",
    "DriverURL",
    "Frame",
    "Item",
    "Rendered",
    "Source",
    "SyntheticScene",
    "TextLine",
    "Wallet",
    "decoder_for_name",
    "render_frame",
    "source_for_url",
    "texts_of",
]
