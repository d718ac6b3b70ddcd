"""``synthetic:`` — live wallet codes rendered into camera-like frames (scanner/render.py).

URL form::

    synthetic:?width=1280&height=720&fps=30&seed=7
    synthetic:?wallets=t0,t1&namespace=test&start=1790000010&frames=300&fps=0

Options:

``width``, ``height``  frame size (default 1280x720)
``fps``         frames a second, paced like a camera (default 30); 0: as fast as
                rendered, with the simulated clock still stepping 1/30 s a frame
``seed``        seed of every random choice (default 0); the same seed, start and
                wallets give the same frames, byte for byte
``frames``      end after this many frames (default 0: never end, like a camera)
``wallets``     comma-separated wallet names (default ``w0,w1,w2``); each name gives a
                holder key and a ticket id (scanner.render.Wallet.named)
``namespace``   prefix of that derivation (default ``gatehouse-demo``; ``test`` makes
                the wallets of tests/ledgerkit.py)
``start``       Unix time of frame 0 (default: the wall clock, read for every frame,
                so codes are live and rotate every 15 s)
``empty``       share of frames with no code (default 0.1)
``multi``       share of frames with two codes (default 0.05)
``degrade``     ``all`` (the default mix of scanner.render.DEGRADATIONS), ``none``
                (clean frames), or comma-separated names from that list

Each frame's ``truth`` holds the token texts drawn into it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from drivers import DriverURL
from errors import BadDriverURL

from ..frame import Frame
from ..render import DEGRADATIONS, DEMO_NAMESPACE, SyntheticScene, Wallet
from .base import AlarmCallback, BaseSource, Pacer

OPTIONS = ("width", "height", "fps", "seed", "frames", "wallets", "namespace", "start",
           "empty", "multi", "degrade")
NOMINAL_FPS = 30.0


class SyntheticSource(BaseSource):
    """Frames of a :class:`SyntheticScene`, paced at ``fps`` (0: unpaced)."""

    def __init__(self, scene: SyntheticScene, *, fps: float = NOMINAL_FPS, frames: int = 0,
                 start: float | None = None, url: str | None = None,
                 on_alarm: AlarmCallback | None = None) -> None:
        super().__init__(url or "synthetic:", on_alarm=on_alarm)
        self.scene = scene
        self.pacer = Pacer(fps)
        self.step = 1.0 / (fps if fps > 0 else NOMINAL_FPS)
        self.frames = frames
        self.start = start
        self._index = 0

    @classmethod
    def from_url(cls, url: DriverURL, **kwargs: Any) -> SyntheticSource:
        url.check_options(OPTIONS)
        url.refuse_path()
        names = url.get_list("wallets", ("w0", "w1", "w2"))
        namespace = url.get_str("namespace", DEMO_NAMESPACE)
        degrade = url.get_str("degrade", "all")
        if degrade == "all":
            degradations: dict[str, float] = dict(DEGRADATIONS)
        elif degrade == "none":
            degradations = {}
        else:
            chosen = url.get_list("degrade")
            unknown = [d for d in chosen if d not in DEGRADATIONS]
            if unknown:
                raise BadDriverURL(f"{url.text!r}: unknown degradation {unknown[0]!r}; known: "
                                   f"all, none, {', '.join(DEGRADATIONS)}")
            degradations = {d: DEGRADATIONS[d] for d in chosen}
        start = url.options.get("start")
        scene = SyntheticScene(
            wallets=[Wallet.named(name, namespace) for name in names],
            size=(url.get_int("width", 1280, low=160, high=4096),
                  url.get_int("height", 720, low=120, high=4096)),
            seed=url.get_int("seed", 0, low=0),
            degradations=degradations,
            empty=url.get_float("empty", 0.1, low=0, high=1),
            multi=url.get_float("multi", 0.05, low=0, high=1))
        if scene.empty + scene.multi > 1:
            raise BadDriverURL(f"{url.text!r}: empty + multi is more than 1")
        return cls(scene, fps=url.get_float("fps", NOMINAL_FPS, low=0, high=1000),
                   frames=url.get_int("frames", 0, low=0),
                   start=None if start is None else url.get_float("start", 0.0, low=0),
                   url=url.text, **kwargs)

    def _read(self, timeout: float | None) -> Frame | None:
        if self.frames and self._index >= self.frames:
            self._ended = True
            return None
        if not self.pacer.wait(timeout):
            return None
        when = time.time() if self.start is None else self.start + self._index * self.step
        rendered = self.scene.render(self._index, when)
        frame = Frame(image=rendered.image, timestamp=time.monotonic(), index=self._index,
                      truth=rendered.texts)
        self._index += 1
        return frame


def frames_of(scene: SyntheticScene, count: int, start: float) -> list[np.ndarray]:
    """``count`` images of ``scene`` from ``start``, 1/30 s apart (for tests and tools)."""
    return [scene.render(i, start + i / NOMINAL_FPS).image for i in range(count)]
