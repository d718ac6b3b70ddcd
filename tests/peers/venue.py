"""A venue of real lanes on loopback for the peer exchange tests: one ledger naming
every gate's device key (``device`` events), and a ``gate run`` per gate with a serial
scanner on a pty, sim outputs, and ``[peers]`` listening on its own loopback address
(127.0.0.N), each given the others' URLs. No hub: the peers are all they have."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hub import Authority, Hub
from verifier import Checkpoint, Policy

from ..clikit import gate
from ..lanekit import Lane
from ..ledgerkit import LedgerKit, encode_token, issue, show, signer, ticket_id, write_config

POLICY = Policy(events=frozenset({"show"}))


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class VenueLane(Lane):
    """One gate of a :class:`Venue`: a :class:`tests.lanekit.Lane` over a prepared
    config, with its peer address."""

    def __init__(self, root: Path, name: str, config: Path, host: str, port: int) -> None:
        self.root = root
        self.name = name
        self.config = config
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"
        self.master, slave = os.openpty()
        self.tty = os.ttyname(slave)
        self.relay_log = root / "relay.log"
        self.socket = root / "control.sock"
        self.state = root / "state"

    def checkpoint(self) -> Checkpoint:
        """Another process's view of this gate's state (as ``gate check`` has)."""
        return Checkpoint(self.state, device=self.name, ledger_key=self.key, policy=POLICY)

    def wait_refused(self, ticket: str, first_device: str, timeout: float = 20) -> None:
        """Until this gate's state refuses ``ticket``'s live code ``already_used``, first
        admitted at ``first_device``; fail after ``timeout`` seconds."""
        with self.checkpoint() as view:
            deadline = time.monotonic() + timeout
            while (decision := view.check(live_code(ticket), int(time.time()))).reason != (
                "already_used"
            ):
                assert time.monotonic() < deadline, f"{self.name} never refused {ticket}"
                time.sleep(0.1)
            assert decision.first_device == first_device


class Venue:
    """``names`` gates over one ledger of ``tickets`` one-entry tickets t0..; the
    gates are made, not started (:meth:`start`). ``jobs`` ledger applies run at once
    (a benchmark's fifty gates)."""

    def __init__(
        self,
        tmp_path: Path,
        names: list[str],
        *,
        tickets: int = 60,
        peers_extra: str = "",
        camera: str | None = None,
        links: dict[str, list[str]] | None = None,
        route: Callable[[VenueLane, VenueLane], str] | None = None,
        hub: tuple[Path, str] | None = None,
        jobs: int = 1,
    ) -> None:
        """``links``: each gate's peers by name (default: all the others); ``route``:
        the URL gate ``a`` uses for gate ``b`` (default: ``b``'s own, else a proxy's);
        ``hub``: (hub_dir, url) of a running hub whose authority issues the ledger and
        with which the gates are registered and synced (default: a local ledger, no
        hub); ``jobs``: ledgers applied (or synced) at once."""
        self.now = now = int(time.time())
        self.lanes: dict[str, VenueLane] = {}
        kit = self.kit = LedgerKit(time=now - 7200)
        self.ledger_key = ledger_key = _authority_key(hub[0]) if hub is not None else kit.key
        keys: dict[str, bytes] = {}
        for i, name in enumerate(names):
            root = tmp_path / name
            (root / "state").mkdir(parents=True, mode=0o700)
            root.chmod(0o700)
            with Checkpoint(
                root / "state", device=name, ledger_key=ledger_key, policy=POLICY
            ) as cp:
                keys[name] = cp.public_key
            host = f"127.0.0.{10 + i}"
            lane = VenueLane(root, name, root / "gate.toml", host, free_port(host))
            self.lanes[name] = lane
        live = {"valid_from": now - 3600, "until": now + 7200}
        ledger = tmp_path / "ledger.jsonl"
        if hub is None:
            kit.append([show(starts=now - 3600, ends=now + 7200)])
            kit.append([issue(f"t{i}", **live) for i in range(tickets)])
            kit.append(
                [
                    {"op": "device", "device": n, "key": k.hex(), "active": True}
                    for n, k in keys.items()
                ]
            )
            ledger.write_text("".join(kit.lines()), encoding="utf-8")
        else:
            _seed(hub[0], keys, now, [issue(f"t{i}", **live) for i in range(tickets)])
        applies = []
        for name, lane in self.lanes.items():
            lane.key = ledger_key
            others = links[name] if links is not None else [n for n in names if n != name]
            urls = ", ".join(
                f'"{route(lane, self.lanes[o]) if route else self.lanes[o].url}"' for o in others
            )
            hub_section = f'[hub]\nurl = "{hub[1]}"\n' if hub else ""
            write_config(
                lane.config,
                ledger_key=ledger_key,
                state_dir=lane.state,
                device=name,
                extra=f"""
[camera]
url = "{camera or f"serial:{lane.tty}"}"
[relay]
url = "sim:relay?log={lane.relay_log}&pulse_ms=100"
[lane]
debounce = 0.1
[control]
socket = "{lane.socket}"
group = "root"
[peers]
listen = "{lane.host}:{lane.port}"
urls = [{urls}]
{peers_extra}
{hub_section}""",
            )
            applies.append(lane.config)
        fetch = ("ledger", "apply", str(ledger)) if hub is None else ("sync", "once")
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            for done in pool.map(lambda config: gate(config, *fetch), applies):
                assert done.returncode == 0, done.stderr

    def start(self, wave: int = 5) -> None:
        """Start every gate and wait for its peer child: ``wave`` daemons at once, each
        wave waited for before the next (on a small machine, fifty daemons importing
        OpenCV at once would time each other out; a few at once start in the time of
        one). ``wave`` <= 0: one after the other."""
        lanes = list(self.lanes.values())
        if wave <= 0:
            for lane in lanes:
                lane.start()
            for lane in lanes:
                lane.wait_for(lambda e: e["event"] == "peers_started")
            return
        failed: list[BaseException] = []

        def start(lane: VenueLane) -> None:
            try:
                lane.start()
                lane.wait_for(lambda e: e["event"] == "peers_started", timeout=120)
            except BaseException as exc:  # pytest.fail's Failed is a BaseException
                failed.append(exc)

        for first in range(0, len(lanes), wave):
            threads = [
                threading.Thread(target=start, args=(lane,)) for lane in lanes[first : first + wave]
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if failed:
                raise failed[0]

    def close(self) -> None:
        for lane in self.lanes.values():
            if hasattr(lane, "proc"):
                lane.close()


def _authority_key(hub_dir: Path) -> bytes:
    with Authority(hub_dir) as authority:
        return authority.public_key


def _seed(hub_dir: Path, keys: dict[str, bytes], now: int, tickets: list[dict]) -> None:
    """The hub's ledger: a show and ``tickets``, and every gate registered (the hub
    publishes their ``device`` events), as an operator sets a venue up."""
    with Authority(hub_dir) as authority:
        authority.append([show(starts=now - 3600, ends=now + 7200)], now - 600)
        authority.append(tickets, now - 500)
    operator = Hub(hub_dir)
    try:
        for name, key in keys.items():
            operator.register_device(name, key, now - 400)
    finally:
        operator.close()


def live_code(name: str, at: float | None = None) -> str:
    """Ticket ``name``'s code as its holder's wallet shows it now."""
    return encode_token(signer(name), ticket_id(name), int(at or time.time()) // 15)
