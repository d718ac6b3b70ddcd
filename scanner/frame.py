"""What a source delivers: camera frames to decode, or texts a scanner already decoded.

A lane can be fed by a camera (frames; the gate decodes them) or by a hardware barcode
scanner that sends the decoded text itself. Both arrive through the same ``read()``
so the pipeline needs one loop; :func:`texts_of` turns either kind into the list of QR
texts to decide on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One camera image.

    ``image`` is ``uint8``, HxW (gray) or HxWx3 (BGR, OpenCV's order). ``timestamp`` is
    ``time.monotonic()`` when the frame was captured (or read, for recorded material),
    so latency can be measured from it. ``origin`` names the file a still came from.
    ``truth`` holds the texts a synthetic frame was rendered with (None elsewhere).
    """

    image: np.ndarray
    timestamp: float
    index: int
    origin: str = ""
    truth: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class TextLine:
    """One line a hardware scanner sent, already decoded by the scanner.

    ``text`` is the line as UTF-8 with undecodable bytes replaced (U+FFFD), so a noisy
    line reaches the decision and is refused there (``malformed`` or ``not_a_ticket``)
    instead of stopping the lane; ``raw`` keeps the bytes as received, without the
    line terminator.
    """

    text: str
    raw: bytes
    timestamp: float
    index: int

    @property
    def valid_utf8(self) -> bool:
        try:
            self.raw.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True


Item = Frame | TextLine


class Decoder(Protocol):
    """A QR decoder: every QR text found in a frame, ``[]`` when there is none."""

    name: str

    def decode(self, frame: np.ndarray) -> list[str]: ...


def texts_of(item: Item, decoder: Decoder) -> list[str]:
    """The QR texts an item carries: decoded from a frame, or the scanner's own text."""
    if isinstance(item, TextLine):
        return [item.text]
    return decoder.decode(item.image)
