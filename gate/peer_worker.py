"""The daemon's peer child: the peer service and the exchange in ``gate peers run``.

A process of its own, like the sync worker (:mod:`gate.child_worker` says why): taking
a burst of peers' records means verifying their signatures, which must never hold the
lane's interpreter lock, and a peer that floods the port must cost the lane nothing.
It runs at a slightly lower CPU priority than the lane (:data:`PEERS_NICENESS`: the
window needs it prompt, so not as low as sync) and with its data memory capped.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from verifier import PeerFork

from .assembly import open_checkpoint
from .child_worker import ChildWorker, Emit
from .config import GateConfig

#: How much lower the peer child's CPU priority is than the lane's (``nice`` steps).
PEERS_NICENESS = 5
#: The peer child's data memory cap (RLIMIT_DATA), MiB: a push body is at most 4 MiB,
#: a pull page 1,000 records, and the links are at most 256.
PEERS_MAX_DATA_MB = 256
#: The stack of each of the peer child's threads, bytes. RLIMIT_DATA counts thread
#: stacks, and the peer port keeps a thread for each kept-alive connection (up to
#: 64) beside the exchange's 16: at the default 8 MiB a venue of fifty gates would
#: reach the cap with stacks alone, and the child could start no thread. What these
#: threads run (HTTP, JSON, SQLite) needs far less than 1 MiB.
PEERS_THREAD_STACK = 1 << 20


def _own_urls(cfg: GateConfig, port: int) -> set[str]:
    """URLs of this very gate in a venue's shared peer list (skipped: every gate of a
    venue may be given the same list)."""
    assert cfg.peers is not None
    hosts = {"127.0.0.1", "localhost"} | ({cfg.peers.bind} if cfg.peers.bind else set())
    return {f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}" for host in hosts}


def run_peer_loop(cfg: GateConfig, emit: Emit, stop: threading.Event) -> None:
    """Serve the peer port and exchange until ``stop``."""
    from .peer_exchange import PeerExchange
    from .peer_service import PeerService

    peers = cfg.peers
    assert peers is not None
    threading.stack_size(PEERS_THREAD_STACK)  # for every thread started from here on
    holder: dict[str, PeerExchange] = {}

    def on_fork(fork: PeerFork) -> None:
        if "exchange" in holder:
            holder["exchange"].fork(fork, "a peer's push")

    def on_gaps(gaps: dict[str, int]) -> None:
        if "exchange" in holder:
            holder["exchange"].want(gaps)

    def on_relay(advanced: dict[str, tuple[int, int]]) -> None:
        if "exchange" in holder:
            holder["exchange"].relay(advanced)

    service = PeerService(
        lambda: open_checkpoint(cfg),
        host=peers.host,
        port=peers.port,
        on_fork=on_fork,
        on_gaps=on_gaps,
        on_relay=on_relay,
    )
    with service:
        discovery = None
        if peers.discover:
            from .peer_discovery import PeerDiscovery  # python-zeroconf: only when asked

            discovery = PeerDiscovery(cfg.device, service.port, address=peers.bind).start()
        try:
            own = _own_urls(cfg, service.port)
            exchange = PeerExchange(
                service.db,
                device=cfg.device,
                urls=[url for url in peers.urls if url not in own],
                discovered=discovery.peers if discovery is not None else None,
                emit=emit,
                interval=peers.interval,
                fanout=peers.fanout,
                direct_peers=peers.direct_peers,
                bind=peers.bind,
            )
            holder["exchange"] = exchange
            emit(
                {
                    "event": "peers_started",
                    "time": int(time.time()),
                    "listen": f"{peers.host}:{service.port}",
                    "peers": len(exchange.links),
                    "discover": peers.discover,
                }
            )
            for fork in service.db.call(lambda cp: cp.peer_forks()):
                exchange.fork(fork, "evidence kept in peers.db")
            exchange.run(stop)
        finally:
            if discovery is not None:
                discovery.close()


class PeerWorker(ChildWorker):
    """The daemon's handle on its ``gate peers run`` child."""

    name = "peers"

    def command(self) -> list[str]:
        return self.gate_command(
            "--nice", str(PEERS_NICENESS), "--max-data-mb", str(PEERS_MAX_DATA_MB)
        )


def status_of(cfg: GateConfig, now: int) -> dict[str, Any]:
    """What ``gate peers status`` shows: the records held per device, each peer as the
    exchange last saved it (last contact, error, and its lag: the records this gate
    holds that the peer did not, at its last heads), and the forks held."""
    with open_checkpoint(cfg) as cp:
        heads = cp.peer_heads()
        links = cp.peer_links()
        forks = cp.peer_forks()
    held = {device: seq for device, (seq, _) in heads.items()}
    peers = []
    for link in links:
        lag = {
            d: seq - link.heads.get(d, 0) for d, seq in held.items() if seq > link.heads.get(d, 0)
        }
        ahead = {d: seq - held.get(d, 0) for d, seq in link.heads.items() if seq > held.get(d, 0)}
        peers.append(
            {
                "url": link.url,
                "source": link.source,
                "device": link.device,
                "last_contact": link.last_contact,
                "contact_age": None if link.last_contact is None else now - link.last_contact,
                "last_error": link.last_error,
                "error_at": link.error_at,
                "lacks": lag,
                "ahead": ahead,
                "saved": link.updated,
            }
        )
    return {
        "device": cfg.device,
        "listen": None if cfg.peers is None else f"{cfg.peers.host}:{cfg.peers.port}",
        "held": held,
        "peers": peers,
        "forks": [
            {
                "device": f.device,
                "seq": f.seq,
                "held": f.held,
                "other": f.other,
                "describe": f.describe(),
            }
            for f in forks
        ],
    }
