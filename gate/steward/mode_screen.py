"""Confirm a lane mode change, with its reason: closed refuses everyone, free admits anyone.

A wrong key here stops a queue or lets a crowd in unchecked, so each change names its
consequence and needs a reason before it goes to the daemon.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from .reason_dialog import ReasonDialog

CONSEQUENCES = {
    "normal": "Every ticket is checked; only valid ones open the turnstile.",
    "closed": "Every scan is refused (recorded as lane closed); nobody's entry is used.",
    "free": "The turnstile lets everyone through without a ticket check.",
}


class ModeScreen(ReasonDialog[str]):
    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Set the lane to {self.mode.upper()}?", classes="title")
            yield Static(CONSEQUENCES.get(self.mode, ""))
            yield Input(placeholder="reason (required)", id="reason")
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button(f"Set {self.mode}", variant="warning", id="confirm")
                yield Button("Cancel", id="cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.confirm()

    def confirmed(self, reason: str) -> str:
        return reason
