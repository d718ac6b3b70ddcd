"""Relays (docs/peers.md, "At scale"): in a venue of more peers than ``direct_peers``, a
gate pushes its records to the first two peers in address order, marked ``?relay=1``,
and they pass them on to every peer in batches. Five real daemons with
``direct_peers = 2``: an admission at any gate is refused at every other, naming it;
only the relays pass records on; with one relay stopped the others still learn of an
admission, through the other relay (and the stopped one catches up when it is back)."""

from __future__ import annotations

import time
from pathlib import Path

from verifier import Checkpoint

from .venue import Venue, VenueLane, live_code

WINDOW_S = 2.0
GIVE_UP_S = 10.0


def refused_everywhere(
    admitting: VenueLane, views: dict[str, Checkpoint], code: str, sent: float
) -> dict[str, float]:
    """Seconds from the scan until each view refuses ``code`` as ``already_used`` naming
    the admitting gate."""
    seen: dict[str, float] = {}
    while len(seen) < len(views) and time.monotonic() - sent < GIVE_UP_S:
        for name, view in views.items():
            if name in seen:
                continue
            decision = view.check(code, int(time.time()))
            if decision.reason == "already_used":
                assert decision.first_device == admitting.name
                seen[name] = time.monotonic() - sent
        time.sleep(0.01)
    missing = sorted(set(views) - set(seen))
    assert not missing, f"{code[:12]}… admitted at {admitting.name}, not refused at {missing}"
    return seen


def test_records_go_through_two_relays_and_reach_every_gate(tmp_path: Path) -> None:
    names = ["A", "B", "C", "D", "E"]  # 127.0.0.10 .. 14: A and B relay, C for them
    venue = Venue(tmp_path, names, tickets=12, peers_extra="direct_peers = 2")
    try:
        venue.start()
        lanes = venue.lanes
        views = {name: lane.checkpoint() for name, lane in lanes.items()}
        windows: list[float] = []
        try:
            for i in range(10):
                at = lanes[names[i % 5]]
                code = live_code(f"t{i}")
                sent = time.monotonic()
                at.scan(code)
                others = {n: v for n, v in views.items() if n != at.name}
                windows += refused_everywhere(at, others, code, sent).values()
            for name in ("A", "B"):  # the relays said so (a `peers` line every 5 s)
                lanes[name].wait_for(lambda e: e["event"] == "peers" and e["relayed"] > 0, 10)
            # One relay stopped: D's records go through A and C now.
            lanes["B"].stop()
            code = live_code("t10")
            sent = time.monotonic()
            lanes["D"].scan(code)
            others = {n: v for n, v in views.items() if n not in ("B", "D")}
            windows += refused_everywhere(lanes["D"], others, code, sent).values()
        finally:
            for view in views.values():
                view.close()
        lanes["B"].start()  # it evens out with the others when it is back
        lanes["B"].wait_for(lambda e: e["event"] == "peers_started")
        with lanes["B"].checkpoint() as view:
            deadline = time.monotonic() + 30
            while view.check(code, int(time.time())).reason != "already_used":
                assert time.monotonic() < deadline, "B never learned of D's admission"
                time.sleep(0.1)
        windows.sort()
        print(f"\nwindow over {len(windows)} refusals: max {windows[-1] * 1000:.0f} ms")
        assert windows[int(0.9 * (len(windows) - 1))] <= WINDOW_S
    finally:
        venue.close()
    relayed = {}
    for name in ("C", "D", "E"):  # never restarted: their journals are whole
        lines = [e for e in venue.lanes[name].journal if e["event"] == "peers"]
        assert lines, f"{name} never said how its exchange went"
        relayed[name] = max(e["relayed"] for e in lines)
    # C relays for A and B (and for D while B was away); D and E are never asked.
    assert relayed["C"] > 0
    assert relayed["D"] == relayed["E"] == 0
