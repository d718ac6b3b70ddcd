"""Open the turnstile once, by hand: a reason is required, a ticket is optional.

The daemon signs an ``override`` record with the steward's name and this reason; the
dialog refuses an empty reason itself, so a steward learns it here and not from an
error line after the fact.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from .reason_dialog import ReasonDialog


class OpenOnceScreen(ReasonDialog[dict[str, str]]):
    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Open the turnstile once", classes="title")
            yield Input(placeholder="reason (required), e.g. wheelchair gate", id="reason")
            yield Input(placeholder="ticket id or label (optional)", id="ticket")
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Open once", variant="warning", id="confirm")
                yield Button("Cancel", id="cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "reason":
            self.query_one("#ticket", Input).focus()
        else:
            self.confirm()

    def confirmed(self, reason: str) -> dict[str, str]:
        return {"reason": reason, "ticket": self.query_one("#ticket", Input).value.strip()}
