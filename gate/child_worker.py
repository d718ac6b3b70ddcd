"""A child process the daemon keeps running: the sync worker and the peer exchange.

The lane's process does only the lane: work that talks to the network (the hub, the
peers on the LAN) runs in a child of its own (``gate sync run``, ``gate peers run``),
with its own interpreter (no contest for the lane's interpreter lock), its own
connection to the state, and limits of its own. The daemon relays each child's JSON
lines into its own log, turns anything else the child prints into ``NAME_output`` or
``NAME_error`` lines, and, if the child dies, raises ``NAME_worker_exited`` and starts it
again after a back-off (1, 5, then 30 s while it keeps dying young).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from .config import GateConfig

Emit = Callable[[dict[str, Any]], None]

RESTART_BACKOFF_S = (1.0, 5.0, 30.0)


class ChildWorker:
    """The daemon's handle on one child. Subclasses give :attr:`name` and
    :meth:`command`. ``start()`` launches it; ``stop()`` asks it to finish (SIGTERM),
    waits, and kills it only if it does not finish in time."""

    name = "child"

    def __init__(self, cfg: GateConfig, emit: Emit) -> None:
        self.cfg = cfg
        self.emit = emit
        self._stop = threading.Event()
        self._child: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._supervise, name=self.name, daemon=True)

    def command(self) -> list[str]:
        raise NotImplementedError

    def gate_command(self, *options: str) -> list[str]:
        """``gate -c CONFIG NAME run OPTIONS``, with this interpreter."""
        config = str(self.cfg.path.resolve())
        return [sys.executable, "-m", "gate", "-c", config, self.name, "run", *options]

    @property
    def pid(self) -> int | None:
        """The running child's process id (None between runs)."""
        child = self._child
        return child.pid if child is not None and child.poll() is None else None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 6.0) -> None:
        self._stop.set()
        with self._lock:
            child = self._child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self._thread.join(timeout)

    def _supervise(self) -> None:
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            with self._lock:
                if self._stop.is_set():
                    return
                self._child = subprocess.Popen(
                    self.command(),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    errors="replace",
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            child = self._child
            assert child.stdout is not None and child.stderr is not None
            errors = threading.Thread(target=self._relay_errors, args=(child.stderr,), daemon=True)
            errors.start()
            for line in child.stdout:
                self._relay(line)
            code = child.wait()
            errors.join(5)
            if self._stop.is_set():
                return
            failures = 0 if time.monotonic() - started > 60 else failures + 1
            delay = (
                RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S)) - 1]
                if failures
                else RESTART_BACKOFF_S[0]
            )
            self.emit(
                {
                    "event": "alarm",
                    "time": int(time.time()),
                    "alarm": f"{self.name}_worker_exited",
                    "detail": [
                        f"gate {self.name} run exited with code {code}; restarting in {delay:g} s"
                    ],
                }
            )
            self._stop.wait(delay)

    def _relay(self, line: str) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            event = {
                "event": f"{self.name}_output",
                "time": int(time.time()),
                "line": line.rstrip(),
            }
        self.emit(event)

    def _relay_errors(self, stream: IO[str]) -> None:
        for line in stream:
            if line.strip():
                self.emit(
                    {"event": f"{self.name}_error", "time": int(time.time()), "line": line.rstrip()}
                )
