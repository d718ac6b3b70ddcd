"""A gate that cannot push to a peer (its list lacks that peer, as when a lane is added
on the day and only the new one was told) is still heard: the peer's rounds find it
ahead and pull its records, with a signed read."""

from __future__ import annotations

from pathlib import Path

from .venue import Venue, live_code


def test_records_a_gate_cannot_push_are_pulled_by_the_peer_that_lists_it(tmp_path: Path) -> None:
    venue = Venue(tmp_path, ["A", "B"], tickets=2, links={"A": [], "B": ["A"]})
    try:
        venue.start()
        a, b = venue.lanes["A"], venue.lanes["B"]
        a.scan(live_code("t0"))
        a.wait_for(lambda e: e["event"] == "decision" and e["result"] == "admitted")
        b.wait_refused("t0", first_device="A")
        b.wait_for(lambda e: e["event"] == "peers" and e["pulled"] >= 1, timeout=10)
    finally:
        venue.close()
