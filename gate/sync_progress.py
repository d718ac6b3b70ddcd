"""A first sync's progress, for the technician watching it: a bar on a terminal, lines
in a pipe.

The first sync of a stadium's ledger is hundreds of thousands of tickets and takes
minutes on a Pi; a command that prints nothing for minutes gets killed and re-run. On a
terminal this is a rich progress bar (blocks, tickets, blocks per second, time left);
anywhere else (a pipe, journald, an SSH session logging to a file) it is a plain line
every few seconds and one at the end, so a log keeps a readable history instead of
control characters. rich is imported only when a bar is drawn.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any

from sync.client import PullProgress

#: Seconds between plain lines (a pipe or the journal): often enough to see it move.
PLAIN_EVERY_S = 2.0


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "time left unknown"
    seconds = int(seconds + 0.5)
    if seconds >= 3600:
        return f"about {seconds // 3600} h {seconds % 3600 // 60:02d} min left"
    if seconds >= 60:
        return f"about {seconds // 60} min {seconds % 60:02d} s left"
    return f"about {seconds} s left"


class SyncProgress:
    """Call it with each ``PullProgress``; use it as a context manager around the pull.

    ``interactive`` defaults to whether ``stream`` is a terminal; ``clock`` is
    ``time.monotonic`` (tests pass their own).
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        interactive: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        every_s: float = PLAIN_EVERY_S,
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.clock = clock
        self.every_s = every_s
        self.started = clock()
        self.last: PullProgress | None = None
        self.first_height: int | None = None
        self._next_line = self.started + every_s
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> SyncProgress:
        if self.interactive:
            self._start_bar()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
        self.stream.write(self.summary() + "\n")
        self.stream.flush()

    def __call__(self, step: PullProgress) -> None:
        if self.first_height is None:
            self.first_height = step.height - step.blocks
        self.last = step
        if self._bar is not None:
            total = self._total(step)
            self._bar.update(
                self._task,
                completed=step.blocks,
                total=total,
                tickets=step.tickets,
            )
            return
        now = self.clock()
        if now >= self._next_line:
            self._next_line = now + self.every_s
            self.stream.write(self.line(step, now) + "\n")
            self.stream.flush()

    # -- words -------------------------------------------------------------------------

    def _total(self, step: PullProgress) -> int | None:
        if step.hub_height is None or self.first_height is None:
            return None
        return max(step.hub_height - self.first_height, step.blocks)

    def line(self, step: PullProgress, now: float) -> str:
        """One plain progress line: blocks, tickets, rate and time left."""
        elapsed = max(now - self.started, 1e-6)
        rate = step.blocks / elapsed
        total = self._total(step)
        if total:
            share = f"{step.blocks:,}/{total:,} blocks ({100 * step.blocks // total}%)"
            left = (total - step.blocks) / rate if rate > 0 else None
        else:
            share, left = f"{step.blocks:,} blocks", None
        return (
            f"sync: {share}, {step.tickets:,} tickets, {rate:,.0f} blocks/s, "
            f"{_eta(left if total else None)}"
        )

    def summary(self) -> str:
        step = self.last
        elapsed = self.clock() - self.started
        if step is None:
            return f"sync: nothing received from the hub ({elapsed:.1f} s)"
        return (
            f"sync: {step.blocks:,} block(s), {step.tickets:,} ticket(s) in {elapsed:.1f} s; "
            f"ledger height {step.height}"
            + (f" of {step.hub_height}" if step.hub_height is not None else "")
        )

    # -- the bar -----------------------------------------------------------------------

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.speed
                return Text("" if speed is None else f"{speed:,.0f} blocks/s")

        console = Console(file=self.stream, force_terminal=True)
        self._bar = Progress(
            TextColumn("first sync"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("blocks · {task.fields[tickets]:,} tickets ·"),
            Rate(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            refresh_per_second=8,
        )
        self._task = self._bar.add_task("sync", total=None, tickets=0)
        self._bar.start()
