"""What the venue demo shows: a live table per lane and a line per notable event.

On a terminal the table is a ``rich.live.Live`` display, redrawn four times a second,
with the event lines scrolling above it; in a pipe (a test, CI, ``| tee``) the same lines
are printed plainly and the table once at the end. The lines are in the steward's words
(:data:`verifier.reasons.WORDS`), e.g. "south-2 refused a copy of hana-3's code: already
used at north-1 0.6 s earlier".
"""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from verifier.reasons import WORDS

from .crowd import Plan

if TYPE_CHECKING:
    from .lanes import LaneProcess
    from .verdict import Outcome, Verdict

#: Journal alarms worth a line of their own (once per lane until cleared).
LOUD_ALARMS = {
    "hub_unreachable": "cannot reach the hub; admitting offline, keeping its log",
    "peer_unreachable": "a peer lane does not answer",
    "peer_fork": "two records for one seq from one device (a cloned unit?)",
    "disk_full": "its card is full",
    "clock_behind": "its clock is behind",
}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


class Board:
    """The demo's screen. Thread-safe: lanes' reader threads and the crowd's workers
    call it at once."""

    def __init__(
        self,
        plan: Plan,
        *,
        live: bool,
        console: Console | None = None,
        record: Path | None = None,
    ) -> None:
        self.plan = plan
        self.record = record  # --record DIR: pictures of the screen for the README
        self._recent: deque[Text] = deque(maxlen=14)
        # A pipe gets a fixed width: the table must not fold into 80 columns of a log.
        self.console = console or Console(highlight=False, width=None if live else 132)
        self.live = live
        self._live: Live | None = None
        self._lock = threading.Lock()
        self._t0: float | None = None  # the crowd's start
        self._born = time.monotonic()
        self._hub_up = True
        self._lanes: dict[str, LaneProcess] = {}
        self._alarms: set[tuple[str, str]] = set()
        self.phase = "setting up"

    # -- life -----------------------------------------------------------------------------

    def __enter__(self) -> Board:
        if self.live:
            self._live = Live(self, console=self.console, refresh_per_second=4, transient=False)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def watch(self, lanes: dict[str, LaneProcess]) -> None:
        self._lanes = lanes

    def start_clock(self, t0: float) -> None:
        self._t0 = t0
        self.phase = "crowd"
        self.note(f"the doors open: {len(self.plan.visits)} visits over {self.plan.seconds:.0f} s")

    # -- lines ----------------------------------------------------------------------------

    def _stamp(self) -> str:
        return f"{time.monotonic() - self._born:6.1f}s"

    def line(self, text: str | Text, style: str = "") -> None:
        stamp = Text(self._stamp() + "  ", style="dim")
        body = text if isinstance(text, Text) else Text(text, style=style)
        with self._lock:
            self._recent.append(stamp + body)
            self.console.print(stamp + body, soft_wrap=True)

    def note(self, text: str) -> None:
        self.line(text, "cyan")

    def hub_state(self, up: bool) -> None:
        self._hub_up = up
        if up:
            self.line("the site's uplink is back: the hub answers again", "bold green")
        else:
            self.line(
                "the site's uplink is down: the hub is out of reach; "
                "the lanes go on, and tell each other their entries",
                "bold red",
            )

    def journal_line(self, lane: str, event: dict[str, Any]) -> None:
        kind = event.get("event")
        alarm = str(event.get("alarm"))
        if kind == "alarm" and alarm in LOUD_ALARMS and (lane, alarm) not in self._alarms:
            self._alarms.add((lane, alarm))
            self.line(f"{lane}: alarm {alarm}: {LOUD_ALARMS[alarm]}", "yellow")
        elif kind == "alarm_cleared" and (lane, alarm) in self._alarms:
            self._alarms.discard((lane, alarm))
            self.line(f"{lane}: {alarm} cleared", "green")

    def visit(self, o: Outcome, before: Outcome | None) -> None:
        """A line for every visit but the plain honest admissions (the table counts those)."""
        v = o.visit
        words = WORDS.get(o.reason, o.reason)
        if o.result == "unread":
            self.line(f"{v.lane}: {v.who}'s code was never read (held up {o.waited:.1f} s)", "red")
        elif o.result == "error":
            self.line(f"{v.lane}: {v.who}: {o.reason}", "red")
        elif v.kind == "open_once":
            self.line(f"{v.lane}: a steward let {v.who} through by hand (recorded, seq {o.seq})")
        elif v.kind == "copy" and before is not None:
            gap = o.seen - before.seen
            if o.result == "admitted":
                self.line(
                    f"{v.lane} ADMITTED {v.who} code: the lanes could not tell each other",
                    "bold red",
                )
            else:
                self.line(
                    f"{v.lane} refused {v.who} code: {words}"
                    + (f" at {o.first_device} {gap:.1f} s earlier" if o.first_device else ""),
                    "magenta",
                )
        elif not v.walks:
            self.line(
                f"{v.lane}: {v.who} was let in and never walked through: "
                + ("entry voided, the ticket is good again" if o.voided else "NOT voided"),
                "yellow",
            )
        elif v.after is not None and v.kind == "balker":
            self.line(f"{v.lane}: {v.who} comes back: {o.result} ({words})")
        elif o.result == "admitted":
            if v.kind in ("vip", "multi", "buyer"):
                what = {
                    "vip": "a VIP ticket",
                    "multi": "a two-entry ticket",
                    "buyer": "a resold ticket",
                }
                self.line(f"{v.lane} admitted {v.who} with {what[v.kind]}", "green")
        else:
            who = v.who if v.who.endswith("'s") else f"{v.who}'s"
            self.line(f"{v.lane} refused {who} code: {words}", "magenta")

    # -- the table ------------------------------------------------------------------------

    def __rich__(self) -> Group:
        return Group(self._header(), self.table())

    def _header(self) -> Text:
        elapsed = 0.0 if self._t0 is None else time.monotonic() - self._t0
        down, up = self.plan.outage
        hub = Text("hub up", style="green") if self._hub_up else Text("hub DOWN", style="bold red")
        return Text.assemble(
            ("Venue Night ", "bold"),
            f"· {len(self.plan.lanes)} lanes · {len(self.plan.tickets)} tickets · ",
            f"{self.phase} {elapsed:.0f}/{self.plan.seconds:.0f} s · ",
            hub,
            f" (outage {down:.0f}-{up:.0f} s)",
        )

    def table(self) -> Table:
        t = Table(expand=False, header_style="bold", pad_edge=False)
        for col, justify in (
            ("lane", "left"), ("scans", "right"), ("admitted", "right"),
            ("refused by reason", "left"), ("voided", "right"), ("p50 ms", "right"),
            ("p99 ms", "right"), ("backlog", "right"), ("peers", "right"), ("hub", "left"),
        ):  # fmt: skip
            t.add_column(col, justify=justify)  # type: ignore[arg-type]
        totals = [0, 0, 0]
        for name, lane in self._lanes.items():
            f = lane.figures
            totals[0] += f.scans
            totals[1] += f.admitted
            totals[2] += f.voided
            refused = " ".join(f"{r} {n}" for r, n in sorted(f.refused.items()))
            peers = "-" if f.peers is None else f"{f.peers_up}/{f.peers}"
            hub = Text(f.hub, style="green" if f.hub == "up" else "red")
            t.add_row(
                name,
                str(f.scans),
                str(f.admitted),
                refused or "-",
                str(f.voided),
                _ms(f.p50()),
                _ms(f.percentile(0.99)),
                "-" if f.backlog is None else str(f.backlog),
                peers,
                hub,
            )
        t.add_row("all", str(totals[0]), str(totals[1]), "", str(totals[2]), style="bold")
        return t

    def finish(self, verdict: Verdict) -> None:
        """Stop the live display and print the table, the totals and the verdict."""
        self.phase = "done"
        if self._live is not None:
            self._live.stop()
            self._live = None
        self.report(verdict, self.console)

    # -- pictures (``--record DIR``) -------------------------------------------------

    def snapshot(self, name: str, title: str, verdict: Verdict | None = None) -> Path | None:
        """Draw the screen as it is now (the recent lines and the live table, or the
        summary of ``verdict``) into ``DIR/NAME.svg`` and, where ``rsvg-convert`` is
        installed, ``DIR/NAME.png``; the path of the picture, None without ``--record``."""
        if self.record is None:
            return None
        self.record.mkdir(parents=True, exist_ok=True)
        c = Console(record=True, width=132, file=io.StringIO(), force_terminal=True)
        if verdict is None:
            with self._lock:
                for text in self._recent:
                    c.print(text, soft_wrap=True)
            c.print(self)
        else:
            self.report(verdict, c)
        svg = self.record / f"{name}.svg"
        c.save_svg(str(svg), title=title)
        converter = shutil.which("rsvg-convert")
        if converter is None:
            return svg
        png = svg.with_suffix(".png")
        subprocess.run([converter, "-o", str(png), str(svg)], check=True, timeout=60)
        return png

    def report(self, verdict: Verdict, c: Console) -> None:
        """The final table, the totals and every invariant with its verdict, on ``c``."""
        c.print()
        c.print(self._header())
        c.print(self.table())
        totals = verdict.summary()["totals"]
        refused = ", ".join(f"{r} {n}" for r, n in totals["refused"].items())
        c.print(
            f"{totals['scans']} scans: {totals['admitted']} admitted, "
            f"{totals['scans'] - totals['admitted']} refused ({refused}); "
            f"{totals['voided']} voided, {totals['overrides']} opened by a steward; "
            f"the hub reports {verdict.venue['conflicts']} conflict(s)"
        )
        for check in verdict.checks:
            mark = Text("  ✔ ", style="bold green") if check.ok else Text("  ✘ ", style="bold red")
            c.print(mark + Text(check.name, style="bold") + Text(f": {check.detail}", style="dim"))
        if verdict.passed:
            c.print(Text("demo finished: every invariant holds", style="bold green"))
        else:
            c.print(Text("demo FAILED: an invariant does not hold (above)", style="bold red"))


__all__ = ["Board"]
