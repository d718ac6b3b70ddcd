"""``gate run``: the lane daemon, started by systemd (docs/technicians.md).

Start-up reads like a checklist: open the state (refusing a damaged one), open the
outputs and drive them to rest, open the passage sensor, the decoder and the camera,
tell systemd READY. Then one item at a time: decode, decide, commit, actuate, and
between items the no-passage check and the watchdog ping. SIGTERM (systemd stop) and
SIGINT end the loop; the outputs go back to rest and the database is closed on every
way out. A recorded source (``images:``, ``file:``) ends the daemon when it is played
out, which is how the end-to-end tests run it.

Everything the lane does is one JSON line on stdout (journald keeps it, see
``gate.events``): decisions with their latency parts, mode changes, overrides, voids,
alarms, start and stop. The same lines feed the control socket (docs/control.md,
``gate.control_server``): ``gate ctl`` and the steward console watch them there, and
their commands run on this loop's thread, between items, through
``gate.control_commands``. The state, the outputs and the decoder are opened by
``gate.assembly``, as every command opens them, so the daemon and ``gate admit`` can
never disagree about what the configuration means.
"""

from __future__ import annotations

import signal
import time
from contextlib import ExitStack
from typing import Any

from errors import ConfigError
from hardware import sensor_for_url

from .assembly import decoder_for_config, open_checkpoint, open_outputs
from .config import GateConfig
from .control_commands import LaneControl
from .control_server import ControlServer
from .events import emit_json
from .lane import Lane
from .lane_health import LaneHealth
from .stop_signal import Stop
from .systemd import Notifier

#: How long one read waits for a frame before the loop does its housekeeping.
READ_TIMEOUT_S = 0.2


def run_daemon(cfg: GateConfig, *, notifier: Notifier | None = None, emit: Any = emit_json) -> int:
    """Run the lane until stopped or its recorded source ends; return the exit code."""
    from scanner import source_for_url  # heavy (OpenCV): only here

    lane_cfg = cfg.lane
    if not lane_cfg.camera:
        raise ConfigError(
            f"{cfg.path}: missing required key 'camera.url' (gate run needs a frame source)"
        )
    notifier = notifier or Notifier()
    stop = Stop()
    previous = stop.install()
    try:
        with ExitStack() as stack:
            checkpoint = stack.enter_context(open_checkpoint(cfg))
            outputs = open_outputs(cfg, stack)
            outputs.reset()
            sensor = None
            if lane_cfg.sensor:
                sensor = sensor_for_url(lane_cfg.sensor)
                stack.callback(sensor.close)
            decoder = decoder_for_config(cfg)
            journal = emit
            health = LaneHealth(hub_configured=lane_cfg.hub is not None)

            def warn(text: str) -> None:
                journal({"event": "warning", "time": int(time.time()), "detail": text})

            server = ControlServer(
                cfg.control.socket, device=cfg.device, group=cfg.control.group, warn=warn
            )
            stack.callback(server.close)

            def tell(line: dict[str, Any]) -> None:  # the journal, then the watchers
                journal(line)
                for event in health.observe(line):
                    server.publish(event)

            def alarm(text: str | None) -> None:
                tell(
                    {
                        "event": "alarm" if text else "alarm_cleared",
                        "time": int(time.time()),
                        "source": lane_cfg.camera,
                        "alarm": text,
                    }
                )
                notifier.status(f"camera: {text}" if text else "camera ok")

            source = source_for_url(lane_cfg.camera, on_alarm=alarm)
            stack.callback(source.close)
            lane = Lane(
                checkpoint,
                outputs,
                decoder,
                debounce_s=lane_cfg.debounce,
                mode=lane_cfg.mode,
                sensor=sensor,
                passage_timeout=lane_cfg.passage_timeout,
                emit=tell,
            )
            stack.callback(outputs.reset)
            control = LaneControl(
                lane, server, health, device=cfg.device, decoder=getattr(decoder, "name", None)
            )
            server.start()
            if lane_cfg.hub:
                from .sync_worker import SyncWorker  # the hub client: only when configured

                worker = SyncWorker(cfg, tell)
                worker.start()
                stack.callback(worker.stop)
            if cfg.peers is not None:
                from .peer_worker import PeerWorker  # the peer exchange: only when configured

                peer_worker = PeerWorker(cfg, tell)
                peer_worker.start()
                stack.callback(peer_worker.stop)
            head = checkpoint.ledger.head()
            tell(
                {
                    "event": "started",
                    "time": int(time.time()),
                    "device": cfg.device,
                    "source": lane_cfg.camera,
                    "decoder": decoder.name,
                    "ledger_height": head.height,
                    "mode": lane.mode,
                    "control": str(cfg.control.socket),
                }
            )
            notifier.ready(f"lane {cfg.device} ready, ledger height {head.height}")
            _loop(lane, source, stop, notifier, control)
            # Let pending passages resolve before a recorded source's run ends.
            deadline = time.monotonic() + lane_cfg.passage_timeout
            while lane.pending and not stop.event.is_set() and time.monotonic() < deadline:
                lane.tick()
                control.service()
                stop.event.wait(0.05)
            lane.tick()
            notifier.stopping()
            tell(
                {
                    "event": "stopped",
                    "time": int(time.time()),
                    "why": stop.signal or ("source ended" if source.ended else "stopped"),
                    "admitted": lane.stats.admitted,
                    "rejected": lane.stats.rejected,
                    "voided": lane.stats.voided,
                }
            )
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        notifier.close()


def _loop(lane: Lane, source: Any, stop: Stop, notifier: Notifier, control: LaneControl) -> None:
    interval = notifier.watchdog_interval
    next_ping = time.monotonic()
    while not stop.event.is_set() and not source.ended:
        item = source.read(timeout=READ_TIMEOUT_S)
        if item is not None:
            control.health.frame()
            lane.handle(item)
        lane.tick()
        control.service()
        if interval is not None and time.monotonic() >= next_ping:
            notifier.watchdog()
            next_ping = time.monotonic() + interval
