"""What the screens and widgets may read and call on the app, as a Protocol.

The screens are imported by ``app``; naming ``StewardApp`` in them, even for type
checking, would make an import circle (``tests/test_architecture.py`` counts those).
So they see the app through this: its reactives and ``command``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import Any, Protocol


class ConsoleState(Protocol):
    device: str | None
    status: dict[str, Any] | None
    decisions: tuple[dict[str, Any], ...]
    steward: str
    now: float
    tz: tzinfo | None
    blink: bool
    socket_path: str
    tried: bool

    def command(
        self,
        cmd: str,
        args: dict[str, Any],
        on_result: Callable[[dict[str, Any]], None] | None = None,
    ) -> None: ...
