"""Two real gate daemons with no peer listed, ``discover = true``: they find each other
by mDNS on loopback, and an entry at one is refused at the other."""

from __future__ import annotations

from pathlib import Path

from .venue import Venue, live_code


def test_gates_that_discover_each_other_share_their_entries(tmp_path: Path) -> None:
    venue = Venue(
        tmp_path, ["A", "B"], tickets=2, links={"A": [], "B": []}, peers_extra="discover = true"
    )
    try:
        venue.start()
        a, b = venue.lanes["A"], venue.lanes["B"]
        started = a.wait_for(lambda e: e["event"] == "peers_started")
        assert started["discover"] is True and started["peers"] == 0
        a.scan(live_code("t0"))
        a.wait_for(lambda e: e["event"] == "decision" and e["result"] == "admitted")
        b.wait_refused("t0", first_device="A")
    finally:
        venue.close()
