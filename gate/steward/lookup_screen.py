"""Look a ticket up by id or label: what the lane knows of it, to settle a dispute.

The daemon answers from its ledger copy (``lookup``); this screen only shows the answer.
Keys appear as fingerprints, never whole (``view.ticket_lines``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static

from . import view

if TYPE_CHECKING:
    from .console_state import ConsoleState


class LookupScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    #: The last answer: None before any lookup, else the tickets found (maybe none).
    found: reactive[tuple[dict[str, Any], ...] | None] = reactive(None)
    query_text: reactive[str] = reactive("")

    @property
    def state(self) -> ConsoleState:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Label("Look up a ticket", classes="title")
        yield Input(placeholder="ticket id or label, then Enter", id="query")
        with VerticalScroll(id="lookup-result"):
            yield Static("", id="tickets")
        yield Footer()

    def on_mount(self) -> None:
        field = self.query_one(Input)
        field.cursor_blink = self.state.blink
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        query = event.value.strip()
        if query:
            self.state.command("lookup", {"query": query}, self._answered)

    def _answered(self, result: dict[str, Any]) -> None:
        self.query_text = self.query_one(Input).value.strip()
        self.found = tuple(result.get("tickets") or ())

    def watch_found(self, found: tuple[dict[str, Any], ...] | None) -> None:
        if found is None:
            text = "Scan nothing here: type a ticket id (from a receipt) or a label."
        elif not found:
            text = f"No ticket matches {self.query_text!r}."
        else:
            blocks = ["\n".join(view.ticket_lines(t, self.state.tz)) for t in found]
            text = "\n\n".join(blocks)
        self.query_one("#tickets", Static).update(text)
