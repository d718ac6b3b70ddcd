"""``synthetic:`` — live wallet codes rendered into camera-like frames (scanner/render.py).

URL form::

    synthetic:?width=1280&height=720&fps=30&seed=7
    synthetic:?wallets=t0,t1&namespace=test&start=1790000010&frames=300&fps=0
    synthetic:?queue=/run/demo/north-1&width=640&height=480&fps=8

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
``queue``       a directory of phones presented by another process instead of the
                wallets (scanner.render.PresentedScene: the venue demo's attendees);
                ``wallets``, ``namespace``, ``start``, ``empty`` and ``multi`` do not
                apply and are refused beside it

Each frame's ``truth`` holds the token texts drawn into it. The renderer (OpenCV,
numpy, segno and the wallets' keys) is loaded when the source opens; checking the URL
needs none of it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivers import DriverURL, Options

from ..degradations import DEGRADATIONS
from ..frame import Frame
from .base import AlarmCallback, BaseSource, Pacer

if TYPE_CHECKING:
    from ..render import PresentedScene, SyntheticScene

NOMINAL_FPS = 30.0


class SyntheticSource(BaseSource):
    """Frames of a :class:`SyntheticScene`, paced at ``fps`` (0: unpaced)."""

    def __init__(
        self,
        scene: SyntheticScene | PresentedScene,
        *,
        fps: float = NOMINAL_FPS,
        frames: int = 0,
        start: float | None = None,
        url: str | None = None,
        on_alarm: AlarmCallback | None = None,
    ) -> None:
        super().__init__(url or "synthetic:", on_alarm=on_alarm)
        self.scene = scene
        self.pacer = Pacer(fps)
        self.step = 1.0 / (fps if fps > 0 else NOMINAL_FPS)
        self.frames = frames
        self.start = start
        self._index = 0

    @classmethod
    def settings(cls, url: DriverURL) -> dict[str, Any]:
        """The scene's and the pacing's settings; the scene itself is made at open."""
        url.refuse_path()
        opts = Options(url)
        size = (opts.integer("width", 1280, 160, 4096), opts.integer("height", 720, 120, 4096))
        fps = opts.number("fps", NOMINAL_FPS, 0, 1000)
        seed = opts.integer("seed", 0, 0)
        frames = opts.integer("frames", 0, 0)
        names = opts.names("wallets", ("w0", "w1", "w2"))
        namespace = opts.text("namespace")
        start = opts.number("start", -1.0, 0)
        empty = opts.number("empty", 0.1, 0, 1)
        multi = opts.number("multi", 0.05, 0, 1)
        degrade = opts.names("degrade", ("all",))
        queue = opts.text("queue")
        opts.done()
        if queue is not None:
            if not queue:
                raise url.error("option queue= needs a directory")
            clash = [
                n for n in ("wallets", "namespace", "start", "empty", "multi") if n in url.options
            ]
            if clash:
                raise url.error(
                    f"option {clash[0]} does not apply with queue= (phones come from it)"
                )
        if degrade == ("all",):
            degradations: dict[str, float] = dict(DEGRADATIONS)
        elif degrade == ("none",):
            degradations = {}
        else:
            unknown = [d for d in degrade if d not in DEGRADATIONS]
            if unknown:
                raise url.error(
                    f"unknown degradation {unknown[0]!r}; known: all, none, "
                    f"{', '.join(DEGRADATIONS)}"
                )
            degradations = {d: DEGRADATIONS[d] for d in degrade}
        if empty + multi > 1:
            raise url.error("empty + multi is more than 1")
        return {
            "wallets": names,
            "namespace": namespace,
            "size": size,
            "seed": seed,
            "degradations": degradations,
            "empty": empty,
            "multi": multi,
            "fps": fps,
            "frames": frames,
            "start": None if start < 0 else start,
            "queue": queue,
        }

    @classmethod
    def from_url(cls, url: DriverURL, **kwargs: Any) -> SyntheticSource:
        settings = cls.settings(url)
        from ..render import DEMO_NAMESPACE, PresentedScene, SyntheticScene, Wallet

        if settings["queue"] is not None:
            presented = PresentedScene(
                Path(settings["queue"]),
                size=settings["size"],
                seed=settings["seed"],
                degradations=settings["degradations"],
            )
            return cls(
                presented, fps=settings["fps"], frames=settings["frames"], url=url.text, **kwargs
            )
        namespace = DEMO_NAMESPACE if settings["namespace"] is None else settings["namespace"]
        scene = SyntheticScene(
            wallets=[Wallet.named(name, namespace) for name in settings["wallets"]],
            size=settings["size"],
            seed=settings["seed"],
            degradations=settings["degradations"],
            empty=settings["empty"],
            multi=settings["multi"],
        )
        return cls(
            scene,
            fps=settings["fps"],
            frames=settings["frames"],
            start=settings["start"],
            url=url.text,
            **kwargs,
        )

    def _read(self, timeout: float | None) -> Frame | None:
        if self.frames and self._index >= self.frames:
            self._ended = True
            return None
        if not self.pacer.wait(timeout):
            return None
        when = time.time() if self.start is None else self.start + self._index * self.step
        rendered = self.scene.render(self._index, when)
        problem = getattr(self.scene, "problem", None)  # a presented queue gone or garbled
        if problem is not None:
            self._raise_alarm(problem)
        elif self.alarm is not None:
            self._clear_alarm()
        frame = Frame(
            image=rendered.image,
            timestamp=time.monotonic(),
            index=self._index,
            truth=rendered.texts,
        )
        self._index += 1
        return frame
