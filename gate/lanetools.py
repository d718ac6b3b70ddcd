"""Technician commands that need the camera stack: ``gate scan`` and ``gate selftest``.

Each opens only what it needs and closes it again, so they can run beside a stopped
daemon (a serial relay board is opened exclusively: with the daemon running, the
selftest says the port is busy rather than fighting over it). ``gate relay reset`` is
not here: it needs only the outputs, so it lives with the CLI's lane commands and does
not load the decoders this module imports.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from errors import DeviceUnavailable, GatehouseError
from hardware import Output
from scanner.frame import Decoder, texts_of

from .assembly import decoder_for_config, open_checkpoint, open_outputs
from .config import GateConfig

if TYPE_CHECKING:
    from scanner.sources.base import Source

T = TypeVar("T")


def _read_image(path: str):
    import cv2

    return cv2.imread(path, cv2.IMREAD_GRAYSCALE)


def scan_images(
    cfg: GateConfig, images: list[str], *, as_json: bool, admit: bool, now: int | None
) -> int:
    """Decode each image file and decide every code in it (dry unless ``admit``)."""
    decoder = decoder_for_config(cfg)
    worst = 0
    with closing(open_checkpoint(cfg)) as cp:
        for path in images:
            image = _read_image(path) if Path(path).is_file() else None
            if image is None:
                worst = max(worst, 2)
                line = {"image": path, "error": "not a readable image file"}
                print(json.dumps(line) if as_json else f"{path}: not a readable image file")
                continue
            start = time.perf_counter()
            texts = decoder.decode(image)
            ms = round((time.perf_counter() - start) * 1000, 3)
            codes = []
            for text in texts:
                at = now if now is not None else int(time.time())
                d = cp.admit(text, at) if admit else cp.check(text, at)
                codes.append(
                    {"text": text, "result": d.result, "reason": d.reason, "ticket": d.ticket}
                )
                if not d.admitted:
                    worst = max(worst, 1)
            if not codes:
                worst = max(worst, 1)
            if as_json:
                print(json.dumps({"image": path, "ms": ms, "codes": codes}, ensure_ascii=False))
            else:
                found = ", ".join(
                    f"{c['result'].upper()} {c['reason']}{' ' + c['ticket'] if c['ticket'] else ''}"
                    for c in codes
                )
                print(f"{path}: {found or 'no code found'} ({ms} ms)")
    return worst


class _Report:
    """Selftest lines: one per part, ok or FAIL with the reason."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, bool, str]] = []

    def run(self, name: str, fn: Callable[[], T]) -> T | None:
        try:
            result = fn()
        except (GatehouseError, OSError, ImportError) as exc:
            self.lines.append((name, False, str(exc)))
            return None
        self.lines.append((name, True, result if isinstance(result, str) else "ok"))
        return result


def _exercise(output: Output, pulse: bool) -> str:
    if pulse:
        output.pulse(200)
        time.sleep(0.3)
    output.reset()
    if output.fault is not None:
        raise output.fault
    return "pulsed 200 ms, back at rest" if pulse else "at rest"


def _first_item(source: Source, decoder: Decoder | None, seconds: float = 5.0) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        item = source.read(timeout=0.5)
        if item is not None:
            found = texts_of(item, decoder) if decoder is not None else []
            return f"{type(item).__name__.lower()} received, {len(found)} code(s) in it"
        if source.alarm:
            raise DeviceUnavailable(source.alarm)
    raise DeviceUnavailable(f"nothing received within {seconds:.0f} s")


def selftest(cfg: GateConfig, *, pulse: bool) -> int:
    """Try every configured part and say, one line each, what works."""
    from hardware import sensor_for_url
    from scanner import source_for_url

    report = _Report()
    lane = cfg.lane

    def state() -> str:
        with open_checkpoint(cfg) as cp:
            head = cp.ledger.head()
            return f"ledger height {head.height}, device key {cp.public_key.hex()[:16]}…"

    report.run("state", state)
    with ExitStack() as stack:
        if lane.relay:
            outputs = report.run("outputs", lambda: open_outputs(cfg, stack))
            for output in outputs.all() if outputs is not None else []:
                report.run(f"output {output.url}", lambda o=output: _exercise(o, pulse))
        if lane.sensor:
            report.run(
                f"sensor {lane.sensor}",
                lambda: stack.enter_context(sensor_for_url(lane.sensor or "")),
            )
        decoder = report.run("decoder", lambda: decoder_for_config(cfg))
        if lane.camera:
            source = report.run(
                f"camera {lane.camera}",
                lambda: stack.enter_context(source_for_url(lane.camera or "")),
            )
            if source is not None:
                report.run("camera reads", lambda: _first_item(source, decoder))
    for name, ok, detail in report.lines:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    return 0 if all(ok for _, ok, _ in report.lines) else 1
