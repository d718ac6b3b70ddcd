"""``images:DIR`` — replay a folder of stills in name order, then end.

URL form::

    images:frames/                 relative to the working directory
    images:/var/lib/gatehouse/x    absolute
    images:frames/?fps=10&loop=1

Options:

``fps``   pace the replay at this many frames a second (default 0: as fast as read)
``loop``  start again after the last still (default 0: end)

Files with the extensions .png .jpg .jpeg .bmp .pgm .ppm .tif .tiff .webp are read,
sorted by name (so ``0001.png`` .. ``0100.png`` replay in order). A file that cannot be
read is skipped with a warning, not an error: one bad still must not end a replay.
Each frame's ``origin`` is its file path.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivers import DriverURL, Options
from errors import DeviceUnavailable

from ..frame import Frame
from .base import AlarmCallback, BaseSource, Pacer, log

if TYPE_CHECKING:
    import numpy as np

EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp"})


def load_image(path: Path) -> np.ndarray | None:
    """An 8-bit gray or BGR image from ``path``, or None when it cannot be read."""
    import cv2
    import numpy as np

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        return None
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF: keep the top 8 bits
        image = (image / 257).astype(np.uint8) if image.dtype == np.uint16 else None
        if image is None:
            return None
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class ImageFolderSource(BaseSource):
    """Stills from a folder, in name order."""

    def __init__(
        self,
        directory: str | Path,
        *,
        fps: float = 0.0,
        loop: bool = False,
        url: str | None = None,
        on_alarm: AlarmCallback | None = None,
    ) -> None:
        super().__init__(url or f"images:{directory}", on_alarm=on_alarm)
        import cv2  # noqa: F401 - at open: a missing OpenCV is reported now, not per still

        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise DeviceUnavailable(f"{self.url}: {self.directory} is not a directory")
        self.files = sorted(
            p for p in self.directory.iterdir() if p.suffix.lower() in EXTENSIONS and p.is_file()
        )
        if not self.files:
            log.warning("%s: no image files in %s", self.url, self.directory)
        self.pacer = Pacer(fps)
        self.loop = loop and bool(self.files)
        self.skipped: list[Path] = []
        self._position = 0
        self._index = 0

    @classmethod
    def settings(cls, url: DriverURL) -> dict[str, Any]:
        directory = url.require_path("folder", "frames/")
        opts = Options(url)
        fps = opts.number("fps", 0.0, 0, 1000)
        loop = opts.boolean("loop", False)
        opts.done()
        return {"directory": directory, "fps": fps, "loop": loop}

    def _read(self, timeout: float | None) -> Frame | None:
        if not self.pacer.wait(timeout):
            return None
        while True:
            if self._position >= len(self.files):
                if not self.loop:
                    self._ended = True
                    return None
                self._position = 0
            path = self.files[self._position]
            self._position += 1
            image = load_image(path)
            if image is None:
                log.warning("%s: skipping %s: not a readable image", self.url, path)
                self.skipped.append(path)
                if self.loop and len(self.skipped) >= len(self.files):
                    self._ended = True  # nothing here is readable: looping would spin
                    return None
                continue
            frame = Frame(
                image=image, timestamp=time.monotonic(), index=self._index, origin=str(path)
            )
            self._index += 1
            return frame
