"""Help: every key, every reason code and every alarm in plain words.

Drawn from ``reasons_text``, the same table docs/stewards.md is generated from, so the
screen and the page agree word for word.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from .reasons_text import ALARMS, REASONS

KEYS = (
    ("o", "open the turnstile once (a reason is required; a ticket is optional)"),
    ("n / c / f", "set the lane to normal, closed or free (confirmed, with a reason)"),
    ("l", "look up a ticket by id or label"),
    ("?", "this help"),
    ("q", "quit the console (the lane keeps running)"),
    ("Esc", "back, or cancel a dialog"),
)


def help_text() -> Text:
    """The whole help page as one text: keys, reasons, alarms."""
    text = Text()
    text.append("Keys\n", style="bold underline")
    for key, what in KEYS:
        text.append(f"  {key:<10}", style="bold")
        text.append(f"{what}\n")
    text.append("\nReasons\n", style="bold underline")
    for reason in REASONS.values():
        mark = "✔" if reason.code == "ok" else "✘"
        text.append(f"{mark} {reason.code}", style="bold")
        text.append(f" — {reason.gate_says}\n")
        text.append(f"  Means: {reason.means}\n")
        text.append(f"  Do:    {reason.do}\n")
    text.append("\nAlarms\n", style="bold underline")
    for alarm in ALARMS.values():
        text.append(f"⚠ {alarm.name}\n", style="bold")
        text.append(f"  Means: {alarm.means}\n")
        text.append(f"  Do:    {alarm.do}\n")
        text.append(f"  Call:  {alarm.call}\n")
    return text


class HelpScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "app.pop_screen", "Back"),
    ]

    def compose(self) -> ComposeResult:
        yield Label("Help: keys, reasons, alarms", classes="title")
        with VerticalScroll(id="help"):
            yield Static(help_text(), id="help-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help").focus()
