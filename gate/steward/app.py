"""The steward's console: a Textual app over the lane daemon's control socket.

State lives in the app's reactives (``status``, ``decisions``, ``device``,
``steward``, ``now``) and the widgets watch them; the screens (one a module) only lay
widgets out and turn keys into requests. Everything reaches the daemon through
``link``: the watcher thread posts each event and each link change here as a message,
and commands go out on short connections of their own in thread workers, so the
terminal never waits on a socket.

The client is made by a factory (``connect``), not imported here: ``gate steward``
passes one that builds ``gate.control_client.ControlClient``, the tests one that builds
their fake, and the console catches connection failures of either kind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import tzinfo
from typing import Any

from textual import work
from textual.app import App
from textual.message import Message
from textual.reactive import reactive

from errors import GatehouseError

from .link import Connect, Watcher, send
from .main_screen import LaneScreen
from .mode_screen import ModeScreen
from .name_screen import NameScreen
from .open_once_screen import OpenOnceScreen

#: Decisions kept for the recent list; more than fit on any screen, few enough to redraw.
RECENT = 50


class LaneEvent(Message):
    """An event from the daemon (docs/control.md, Events), posted by the watcher thread."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event


class LinkChanged(Message):
    """The watching connection is up (``device`` from the hello) or down (None)."""

    def __init__(self, device: str | None) -> None:
        super().__init__()
        self.device = device


class StewardApp(App[None]):
    """``gate steward``: the last decision large, counters, health, alarms, and the
    few commands a steward may give (open once, lane mode), each confirmed."""

    CSS_PATH = "steward.tcss"
    TITLE = "Gatehouse steward"
    ENABLE_COMMAND_PALETTE = False

    device: reactive[str | None] = reactive(None)
    status: reactive[dict[str, Any] | None] = reactive(None, always_update=True)
    decisions: reactive[tuple[dict[str, Any], ...]] = reactive(())
    steward: reactive[str] = reactive("")
    now: reactive[float] = reactive(0.0)
    #: False until the watcher has tried once: "connecting" rather than "not reachable".
    tried: reactive[bool] = reactive(False)

    def __init__(
        self,
        connect: Connect,
        *,
        socket_path: str,
        steward: str | None = None,
        clock: Callable[[], float] = time.time,
        tz: tzinfo | None = None,
        blink: bool = True,
        retry: float = 1.0,
        silence: float = 5.0,
    ) -> None:
        """``clock`` and ``tz`` make the screen reproducible for snapshots; ``blink``
        False stops the cursor blinking for the same reason."""
        super().__init__()
        self._connect = connect
        self.socket_path = socket_path
        self.clock = clock
        self.tz = tz
        self.blink = blink
        self._watcher = Watcher(
            connect, self._posted_event, self._posted_link, retry=retry, silence=silence
        )
        self.set_reactive(StewardApp.steward, steward or "")
        self.set_reactive(StewardApp.now, clock())

    # -- life --------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.push_screen(LaneScreen())
        self.set_interval(1.0, self._tick)
        self._watcher.start()
        if not self.steward:
            self.push_screen(NameScreen(), self._named)

    def on_unmount(self) -> None:
        self._watcher.stop()

    def _tick(self) -> None:
        self.now = self.clock()

    def _named(self, name: str | None) -> None:
        self.steward = name or ""

    # -- from the watcher thread (post_message is thread-safe) -----------------------

    def _posted_event(self, event: dict[str, Any]) -> None:
        self.post_message(LaneEvent(event))

    def _posted_link(self, device: str | None) -> None:
        self.post_message(LinkChanged(device))

    def on_link_changed(self, message: LinkChanged) -> None:
        self.device = message.device
        self.tried = True

    def on_lane_event(self, message: LaneEvent) -> None:
        event = message.event
        kind = event.get("type")
        if kind == "decision":
            self.decisions = (event, *self.decisions)[:RECENT]
        elif kind == "status":
            self.status = {k: v for k, v in event.items() if k != "type"}
        elif kind in ("alarm", "alarm_cleared"):
            self._alarm(event)
        elif kind == "mode":
            self._status_change(mode=event.get("mode"))
            self.notify(
                f"lane set to {str(event.get('mode')).upper()} by {event.get('by')}: "
                f"{event.get('reason')}"
            )
        elif kind == "override":
            self.notify(f"opened once by {event.get('by')}: {event.get('reason')}")
        elif kind == "voided":
            self.notify("an admission was voided: nobody passed the turnstile in time")
        elif kind == "dropped":
            self.notify(f"{event.get('count')} events missed (the console was too slow)")

    def _alarm(self, event: dict[str, Any]) -> None:
        """Show a raised or cleared alarm at once; the next status event confirms it."""
        name = event.get("alarm")
        alarms = [a for a in (self.status or {}).get("alarms") or [] if a.get("alarm") != name]
        if event.get("type") == "alarm":
            since = event.get("time")
            alarms.append({"alarm": name, "detail": event.get("detail"), "since": since})
            self.notify(f"alarm: {name}", severity="warning")
        self._status_change(alarms=alarms)

    def _status_change(self, **changes: Any) -> None:
        self.status = {**(self.status or {}), **changes}

    # -- commands ------------------------------------------------------------------------

    def command(
        self,
        cmd: str,
        args: dict[str, Any],
        on_result: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """Send ``cmd`` on its own connection, off the UI thread; a refusal or a lost
        daemon becomes a notification, never an exception in the interface."""
        self._send(cmd, args, on_result)

    @work(thread=True, group="commands")
    def _send(
        self,
        cmd: str,
        args: dict[str, Any],
        on_result: Callable[[dict[str, Any]], None] | None,
    ) -> None:
        try:
            result = send(self._connect, cmd, **args)
        except (OSError, GatehouseError, ValueError) as exc:
            self.call_from_thread(self.notify, f"{cmd}: {exc}", severity="error", timeout=8)
            return
        if on_result is not None:
            self.call_from_thread(on_result, result)

    def action_open_once(self) -> None:
        def confirmed(answer: dict[str, str] | None) -> None:
            if answer is None:
                return
            args = {"as": self.steward, "reason": answer["reason"]}
            if answer.get("ticket"):
                args["ticket"] = answer["ticket"]
            self.command("open_once", args, lambda r: self.notify("turnstile opened once"))

        self.push_screen(OpenOnceScreen(), confirmed)

    def action_mode(self, mode: str) -> None:
        def confirmed(reason: str | None) -> None:
            if reason is None:
                return
            args = {"mode": mode, "as": self.steward, "reason": reason}
            self.command("mode", args, lambda r: self._status_change(mode=r.get("mode", mode)))

        self.push_screen(ModeScreen(mode), confirmed)
