"""The console's connection to the lane daemon: watch events, reconnect forever, send commands.

Plain threads and callbacks, no Textual, so the reconnect rules are tested on their
own. The console must outlive the daemon: a daemon restarted by systemd, not started
yet, or stuck must show as "not reachable — retrying" and then as live data again,
never as a crash. So every failure of a connection (an ``OSError`` from the socket, a
``GatehouseError`` from the client, a garbled line) ends that connection only.

Two kinds of connection, because one socket cannot be read by two threads: the
watcher's, which reads only events, and a fresh short one per command, so a reply is
never mistaken for an event and a slow command never delays the banner.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from errors import GatehouseError

#: Failures that end one connection and lead to a retry. ValueError covers a line that
#: is not JSON from a client that does not wrap it.
CONNECTION_FAILURES = (OSError, GatehouseError, ValueError)


class Client(Protocol):
    """What the console needs of ``gate.control_client.ControlClient`` (docs/control.md)."""

    device: str

    def request(self, cmd: str, **args: Any) -> dict[str, Any]: ...

    def watch(self) -> None: ...

    def events(self, timeout: float | None = None) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...


Connect = Callable[[], Client]


class Watcher:
    """A daemon thread that keeps one watching connection open and hands on its events.

    ``on_event(event)`` for each event; ``on_link(device)`` when connected (the hello's
    device) and ``on_link(None)`` when the connection is lost or cannot be made. The
    daemon sends a status event every second, so ``silence`` seconds without any event
    means it is stuck or gone: the connection is dropped and made again.
    """

    def __init__(
        self,
        connect: Connect,
        on_event: Callable[[dict[str, Any]], None],
        on_link: Callable[[str | None], None],
        *,
        retry: float = 1.0,
        silence: float = 5.0,
    ) -> None:
        self._connect = connect
        self._on_event = on_event
        self._on_link = on_link
        self._retry = retry
        self._silence = silence
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._thread = threading.Thread(target=self._run, name="steward-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop for good; closing the open client wakes a thread blocked in a read."""
        self._stop.set()
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            _close_quietly(client)
        self._thread.join(timeout=0.5)  # a daemon thread: a read stuck on a dead socket
        # must not hold up quitting (closing does not wake a blocked recv everywhere)

    def _run(self) -> None:
        linked = True  # so the first failure is reported once
        while not self._stop.is_set():
            try:
                client = self._connect()
            except CONNECTION_FAILURES:
                if linked:
                    self._on_link(None)
                    linked = False
                self._stop.wait(self._retry)
                continue
            with self._lock:
                if self._stop.is_set():
                    _close_quietly(client)
                    return
                self._client = client
            try:
                client.watch()
                self._on_link(client.device)
                linked = True
                for event in client.events(timeout=self._silence):
                    if self._stop.is_set():
                        return
                    self._on_event(event)
            except Exception:
                # CONNECTION_FAILURES end this connection and the loop makes a new one;
                # anything else is a bug, and it must not leave the console frozen on
                # stale data as a dead thread would.
                pass
            finally:
                with self._lock:
                    self._client = None
                _close_quietly(client)
            if not self._stop.is_set():
                self._on_link(None)
                linked = False
                self._stop.wait(self._retry)


def send(connect: Connect, cmd: str, **args: Any) -> dict[str, Any]:
    """One command on its own connection; the client's errors pass to the caller."""
    client = connect()
    try:
        return client.request(cmd, **args)
    finally:
        _close_quietly(client)


def _close_quietly(client: Client) -> None:
    with contextlib.suppress(*CONNECTION_FAILURES):  # already broken: nothing left to do
        client.close()
