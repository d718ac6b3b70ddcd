"""Fixtures for the hardware drivers: the fake RPi.GPIO and a relay board on a pty."""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
import tty
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

FAKES = Path(__file__).resolve().parent.parent / "fakes"
BOARD_SIM = Path(__file__).resolve().parent / "board_sim.py"


@pytest.fixture
def fake_gpio(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """``from RPi import GPIO`` finds tests/fakes/RPi/GPIO.py, fresh, for this test only."""
    for name in ("RPi", "RPi.GPIO"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(FAKES))
    from RPi import GPIO

    assert "gatehouse test fake" in GPIO.VERSION
    GPIO.fake_reset()
    yield GPIO
    GPIO.fake_reset()
    for name in ("RPi.GPIO", "RPi"):
        sys.modules.pop(name, None)


class Board:
    """The simulated board process on a pty's master end, and the lines it printed."""

    def __init__(self, kind: str, *args: str) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self.proc = subprocess.Popen(
            [sys.executable, str(BOARD_SIM), str(self.master), kind, *args],
            pass_fds=(self.master,),
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        assert self._lines.get(timeout=10) == "ready"

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.strip())

    def frames(self, n: int, timeout: float = 5.0) -> list[tuple[float, str, str]]:
        """The next ``n`` frames the board received: ``(time, HEX, meaning)``."""
        out = []
        for _ in range(n):
            t, hexed, meaning = self._lines.get(timeout=timeout).split(" ", 2)
            out.append((float(t), hexed, meaning))
        return out

    def idle(self, wait: float = 0.2) -> bool:
        """True if the board receives nothing more within ``wait`` seconds."""
        try:
            line = self._lines.get(timeout=wait)
        except queue.Empty:
            return True
        self._lines.put(line)
        return False

    def unplug(self) -> None:
        """The cable is pulled: the board process dies and the master end closes."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.master = self._slave = -1


@pytest.fixture
def lcus_board() -> Iterator[Board]:
    board = Board("lcus")
    yield board
    board.unplug()


@pytest.fixture
def raw_board() -> Iterator[Board]:
    board = Board("raw", "FE0501", "FE0500")
    yield board
    board.unplug()
