"""A confirmation dialog that will not go on without a reason: the base of the console's
two commands that change something (open once, lane mode).

Every such command is audited with the steward's reason, so the dialog refuses an
empty one itself; Escape or Cancel dismisses it with None, and nothing is sent.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

Result = TypeVar("Result")


class ReasonDialog(ModalScreen[Result | None], Generic[Result]):
    """Subclasses compose an ``Input#reason``, a ``Static#error`` and ``Button#confirm`` /
    ``Button#cancel``, and say what a confirmed dialog returns (:meth:`confirmed`)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = getattr(self.app, "blink", True)
        self.query_one("#reason", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self.confirm()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def confirm(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#error", Static).update("A reason is required.")
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(self.confirmed(reason))

    def confirmed(self, reason: str) -> Any:
        """What the dialog returns once a reason is given."""
        raise NotImplementedError
