"""The lane's devices: the camera, the relay and lamps, the passage sensor.

When the lane daemon is running it holds them: opening a ``gpio:`` pin from a second
process would drive it and hand it back as an input under the daemon's feet, a serial
relay board is opened exclusively, a camera once. So doctor first asks the daemon (its
control socket, docs/control.md) and reads its status: the camera's frame rate, the
relay's state, its alarms. Only when no daemon answers does it open each device itself,
the way ``gate selftest`` does, and close it again: an output is driven to rest on
opening, and pulsed only with ``--pulse``.

The camera is measured through the scanner package's sources, imported here and only
here: OpenCV and numpy load when a camera source opens, so ``gate doctor`` on a unit
with no ``[camera]`` (or with its daemon running) stays as light as ``gate check``.
"""

from __future__ import annotations

import time
from contextlib import closing
from typing import Any

from errors import DaemonNotRunning, DeviceUnavailable, DriverUnavailable, GatehouseError, Refused

from .result import Context, Finding, Status, fail, ok, warn

#: Below this many frames a second a code held under the camera is read late.
MIN_FPS = 5.0
PULSE_MS = 300

#: (LaneConfig field, config key, what it is).
OUTPUTS = (
    ("relay", "relay.url", "the turnstile relay"),
    ("green", "indicators.green", "the green lamp"),
    ("red", "indicators.red", "the red lamp"),
    ("buzzer", "indicators.buzzer", "the buzzer"),
)


def ask_daemon(ctx: Context) -> None:
    """The running lane daemon's status into ``ctx.daemon`` (None when none runs)."""
    from ..control_client import ControlClient

    try:
        with ControlClient(ctx.cfg.control.socket, timeout=ctx.options.timeout) as client:
            ctx.daemon = client.request("status")
    except DaemonNotRunning:
        ctx.daemon = None
    except (Refused, GatehouseError, OSError) as exc:
        # Something listens but will not tell us (a user outside the [control] group):
        # a daemon runs, so its devices must not be touched.
        ctx.daemon = {}
        ctx.daemon_note = str(exc)


def _daemon_holds(ctx: Context, check: str, what: str) -> Finding | None:
    if ctx.daemon is None:
        return None
    if ctx.daemon_note:
        return warn(
            check,
            f"the lane daemon is running and holds {what}, but did not give its status: "
            f"{ctx.daemon_note}",
            "run gate doctor as root or as a member of the [control] group",
        )
    return ok(check, f"held by the running lane daemon ({what})")


def _device_fix(url: str, exc: Exception) -> str:
    scheme = url.split(":", 1)[0]
    if isinstance(exc, DriverUnavailable):
        return "install what the message names"
    if scheme == "serial":
        return (
            "check the USB cable and the port (ls -l /dev/serial/by-id/; use that stable "
            "path in the URL), that the gate user is in group dialout, and that no other "
            "process holds the port"
        )
    if scheme == "gpio":
        return "check the wiring (docs/wiring.md) and that the gate user is in group gpio"
    return "check the device and its URL (docs/wiring.md, docs/scanner.md)"


# -- the camera ------------------------------------------------------------------------------


def check_camera(ctx: Context) -> Finding:
    name, url = "camera", ctx.cfg.lane.camera
    if not url:
        return fail(
            name,
            "no [camera] url: gate run needs a frame source",
            'add [camera] url, e.g. "v4l2:/dev/video0" (docs/scanner.md)',
        )
    if ctx.daemon is not None:
        return _camera_from_daemon(ctx, url)
    try:
        from scanner import source_for_url

        source = source_for_url(url)
    except DriverUnavailable as exc:
        return warn(
            name,
            f"{url}: {exc}",
            "pip install 'gatehouse[scanner]' (OpenCV, numpy and the decoders)",
        )
    except GatehouseError as exc:
        return fail(name, f"{url}: cannot open: {exc}", _device_fix(url, exc))
    with closing(source):
        if source.yields != "frames":
            return ok(name, f"{url} open (a scanner sends a line only when it reads a code)")
        return _measure(name, url, source, ctx.options.camera_seconds)


def _measure(name: str, url: str, source: Any, seconds: float) -> Finding:
    frames, start = 0, time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline and not source.ended:
        if source.read(timeout=min(0.5, max(0.05, deadline - time.monotonic()))) is not None:
            frames += 1
        if source.alarm and not frames:
            break
    elapsed = max(time.monotonic() - start, 1e-3)
    fps = frames / elapsed
    if not frames:
        return fail(
            name,
            f"{url}: no frame in {elapsed:.1f} s"
            + (f": {source.alarm}" if source.alarm else " (the device opened)"),
            "check the cable and the camera (v4l2-ctl --list-devices; another process "
            "using it?), then gate selftest",
        )
    seen = f"{url}: {frames} frame(s) in {elapsed:.1f} s, {fps:.1f} fps"
    if source.ended:
        return ok(name, f"{seen} (a recording: it ended)")
    if fps < MIN_FPS:
        return warn(
            name,
            f"{seen}, under {MIN_FPS:g} fps: codes are read late",
            "lower the resolution or set fps in the URL; check the light (dark scenes "
            "lengthen exposure) and the USB bus",
        )
    return ok(name, seen)


def _camera_from_daemon(ctx: Context, url: str) -> Finding:
    held = _daemon_holds(ctx, "camera", url)
    if held is not None and held.status is not Status.OK:
        return held
    daemon = ctx.daemon or {}
    alarms = [a for a in daemon.get("alarms", []) if a.get("alarm") == "camera"]
    if alarms:
        return fail(
            "camera",
            f"{url}: the running lane daemon raises the camera alarm: {alarms[0].get('detail')}",
            "check the cable and the camera; the daemon retries by itself",
        )
    fps = (daemon.get("health") or {}).get("camera_fps")
    if fps is None:
        return ok("camera", f"{url}: held by the running lane daemon (too early for a rate)")
    if fps < MIN_FPS:
        return warn(
            "camera",
            f"{url}: {fps:g} fps in the running lane daemon, under {MIN_FPS:g}",
            "lower the resolution or set fps in the URL; check the light",
        )
    return ok("camera", f"{url}: {fps:g} fps in the running lane daemon")


# -- the relay, the lamps, the buzzer, the sensor ---------------------------------------------


def check_outputs(ctx: Context) -> list[Finding]:
    lane = ctx.cfg.lane
    if not lane.relay:
        return [
            fail(
                "relay",
                "no [relay] url: gate run drives the turnstile through it",
                'add [relay] url, e.g. "gpio:17?active=low" (docs/wiring.md)',
            )
        ]
    return [
        _output(ctx, field, key, what, url)
        for field, key, what in OUTPUTS
        if (url := getattr(lane, field))
    ]


def _output(ctx: Context, name: str, key: str, what: str, url: str) -> Finding:
    held = _daemon_holds(ctx, name, url)
    if held is not None:
        relay_state = ((ctx.daemon or {}).get("health") or {}).get("relay")
        if held.status is Status.OK and name == "relay" and relay_state:
            held = ok(name, f"{url}: held by the running lane daemon, {relay_state}")
        if ctx.options.pulse and held.status is Status.OK:
            return warn(
                name,
                f"{held.detail}; not pulsed, because the daemon holds it",
                "to pulse: systemctl stop gatehouse; gate doctor --pulse; systemctl start "
                "gatehouse",
            )
        return held
    from hardware import output_for_url

    try:
        output = output_for_url(url)
    except GatehouseError as exc:
        return fail(name, f"{key} = {url}: {exc}", _device_fix(url, exc))
    try:
        if ctx.options.pulse:
            ctx.options.say(f"pulsing {what} ({url}) for {PULSE_MS} ms now: watch and listen")
            output.pulse(PULSE_MS)
            time.sleep(PULSE_MS / 1000 + 0.1)
        output.reset()
        if output.fault is not None:
            raise output.fault
    except DeviceUnavailable as exc:
        return fail(name, f"{key} = {url}: {exc}", _device_fix(url, exc))
    finally:
        output.close()
    done = f"pulsed {PULSE_MS} ms, back at rest" if ctx.options.pulse else "opened, at rest"
    return ok(name, f"{url}: {done}")


def check_sensor(ctx: Context) -> list[Finding]:
    url = ctx.cfg.lane.sensor
    if not url:
        return []
    held = _daemon_holds(ctx, "sensor", url)
    if held is not None:
        return [held]
    from hardware import sensor_for_url

    try:
        sensor = sensor_for_url(url)
    except GatehouseError as exc:
        return [fail("sensor", f"sensor.url = {url}: {exc}", _device_fix(url, exc))]
    sensor.close()
    return [ok("sensor", f"{url}: opened")]
