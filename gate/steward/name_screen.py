"""Asked once at start when ``--as`` is not given: who is on duty.

Every override and mode change carries the steward's name into the signed record and
the journal, so the console does not send one without it.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class NameScreen(ModalScreen[str]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.quit", "Quit")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Who is on duty at this lane?", classes="title")
            yield Static("Your name goes into every override and mode change you make.")
            yield Input(placeholder="your name, then Enter", id="name")
            yield Static("", id="error", classes="error")

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = getattr(self.app, "blink", True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if not name:
            self.query_one("#error", Static).update("A name is needed.")
            return
        self.dismiss(name)
