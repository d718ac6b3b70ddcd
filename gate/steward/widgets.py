"""The lane screen's panels. Each watches the app's reactives and draws text from ``view``.

They hold no state of their own: the app's ``status`` and ``decisions`` are the one
truth, so a reconnect (which replaces them) redraws every panel at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from . import view

if TYPE_CHECKING:
    from .console_state import ConsoleState


class _Panel(Static):
    """A Static that redraws whenever one of the app's reactives it names changes."""

    WATCHES: tuple[str, ...] = ()

    @property
    def state(self) -> ConsoleState:
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        for name in self.WATCHES:
            self.watch(self.app, name, self._changed, init=False)
        self._changed()

    def _changed(self, *_: Any) -> None:
        self.update(self.render_view())

    def render_view(self) -> Text | Table | str:
        raise NotImplementedError


class TopLine(_Panel):
    """Which lane, its mode, who is on duty and the time: the first line of every shift."""

    WATCHES = ("device", "status", "steward", "now")

    def render_view(self) -> Text:
        app = self.state
        mode = ((app.status or {}).get("mode") or "?").upper()
        who = app.steward or "(no name)"
        text = Text()
        text.append(" GATEHOUSE ", style="bold reverse")
        text.append(f" lane {app.device or '—'}  ")
        text.append(f" {mode} ", style="bold reverse" if mode != "NORMAL" else "bold")
        text.append(f"  steward {who}  {view.clock_time(app.now, app.tz)}")
        return text


class LinkNote(_Panel):
    """Shown only while the daemon cannot be reached; everything below is then old."""

    WATCHES = ("device", "tried")

    def _changed(self, *_: Any) -> None:
        self.display = self.state.device is None
        super()._changed()

    def render_view(self) -> str:
        if not self.state.tried:
            return f"connecting to the lane daemon at {self.state.socket_path} …"
        return f"⚠ {view.unreachable(self.state.socket_path)}"


class DecisionBanner(_Panel):
    """The last decision, large and plain: symbol, word and colour all say the same."""

    WATCHES = ("decisions",)

    def render_view(self) -> Text:
        decisions = self.state.decisions
        self.set_class(bool(decisions) and decisions[0].get("result") == "admitted", "admitted")
        self.set_class(bool(decisions) and decisions[0].get("result") != "admitted", "refused")
        if not decisions:
            return Text("waiting for the first scan", style="italic")
        shown = view.banner(decisions[0], self.state.tz)
        text = Text(shown.headline, style="bold")
        text.append(f"\n{shown.detail}")
        return text


class RecentDecisions(_Panel):
    """The latest decisions, newest first: time, label and the reason in words."""

    WATCHES = ("decisions",)

    def render_view(self) -> Table:
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(no_wrap=True, min_width=8)
        table.add_column(no_wrap=True, min_width=4, max_width=14)
        table.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
        for decision in self.state.decisions:
            style = "" if decision.get("result") == "admitted" else "red"
            table.add_row(*view.decision_row(decision, self.state.tz), style=style)
        if not self.state.decisions:
            table.add_row(Text("no scans yet", style="italic"))
        return table


class Counters(_Panel):
    """Admitted, refused by reason, and the pace of entries."""

    WATCHES = ("status",)

    def render_view(self) -> str:
        return "\n".join(view.counter_lines(self.state.status))


class Health(_Panel):
    """The lane's vital signs as a bar that wraps between items, never inside one (two
    lines at 80 columns, one at 120); anything not fine is marked ⚠ and drawn red."""

    WATCHES = ("status",)
    SEPARATOR = "  ·  "

    def on_resize(self) -> None:
        self._changed()

    def render_view(self) -> Text:
        if self.state.status is None:
            return Text("waiting for the lane's first status report", style="italic")
        width = max(self.content_size.width, 20)
        text, used = Text(), 0
        for name, value, fine in view.health_lines(self.state.status):
            shown = value if fine else f"{value} ⚠"
            size = len(name) + 1 + len(shown)
            if used and used + len(self.SEPARATOR) + size > width:
                text.append("\n")
                used = 0
            elif used:
                text.append(self.SEPARATOR, style="dim")
                used += len(self.SEPARATOR)
            text.append(f"{name} ", style="bold")
            text.append(shown, style="" if fine else "bold red")
            used += size
        return text


class Alarms(_Panel):
    """Standing alarms, each with what to do about it; hidden when there are none."""

    WATCHES = ("status",)

    def render_view(self) -> Text:
        lines = view.alarm_lines(self.state.status, self.state.tz)
        self.display = bool(lines)
        text = Text()
        for n, (what, todo) in enumerate(lines):
            text.append(("\n" if n else "") + what, style="bold")
            text.append(f"\n→ {todo}")
        return text
