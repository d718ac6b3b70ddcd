"""Open the turnstile once, by hand: a reason is required, a ticket is optional.

The daemon signs an ``override`` record with the steward's name and this reason; the
dialog refuses an empty reason itself, so a steward learns it here and not from an
error line after the fact.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class OpenOnceScreen(ModalScreen[dict[str, str] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Open the turnstile once", classes="title")
            yield Input(placeholder="reason (required), e.g. wheelchair gate", id="reason")
            yield Input(placeholder="ticket id or label (optional)", id="ticket")
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Open once", variant="warning", id="confirm")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = getattr(self.app, "blink", True)
        self.query_one("#reason", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "reason":
            self.query_one("#ticket", Input).focus()
        else:
            self._confirm()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self._confirm()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _confirm(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#error", Static).update("A reason is required.")
            self.query_one("#reason", Input).focus()
            return
        self.dismiss({"reason": reason, "ticket": self.query_one("#ticket", Input).value.strip()})
