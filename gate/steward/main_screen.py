"""The lane screen: the last decision large, recent decisions, counters, health, alarms.

What a steward looks at all shift. The keys here are the steward's whole job: open the
turnstile once, change the lane mode, look a ticket up, read the help.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from .help_screen import HelpScreen
from .lookup_screen import LookupScreen
from .widgets import Alarms, Counters, DecisionBanner, Health, LinkNote, RecentDecisions, TopLine


class LaneScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "app.open_once", "Open once"),
        Binding("n", "app.mode('normal')", "Normal"),
        Binding("c", "app.mode('closed')", "Close"),
        Binding("f", "app.mode('free')", "Free"),
        Binding("l", "lookup", "Look up"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("q", "app.quit", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        yield TopLine(id="topline")
        yield LinkNote(id="linknote")
        yield DecisionBanner(id="banner")
        yield Health(id="health")
        with Horizontal(id="middle"):
            yield RecentDecisions(id="recent")
            yield Counters(id="counters")
        yield Alarms(id="alarms")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#recent").border_title = "Recent"
        self.query_one("#counters").border_title = "Counters"
        self.query_one("#alarms").border_title = "Alarms"
        self.watch(self.app, "device", self._linked)

    def _linked(self, device: str | None) -> None:
        """Dim what is left on screen while the daemon is away: it is no longer live."""
        self.set_class(device is None, "-stale")

    def action_lookup(self) -> None:
        self.app.push_screen(LookupScreen())

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())
