"""A partition (issue 12's second acceptance item): B is cut off from A and C (every
link to and from B runs through a fault proxy, which drops every request while cut)
with the hub away. One ticket is admitted at A and again at B while apart: neither can
know. When the partition heals, every gate holds every gate's records, and the hub,
back, reports the double entry once. Meanwhile a ticket admitted at A is refused at C,
which A still reaches, and a gate's peer log shows B gone and back."""

from __future__ import annotations

import json
import time
from pathlib import Path

from hub import Hub

from ..clikit import gate
from ..sync.faultproxy import FaultProxy
from .venue import Venue, VenueLane, live_code


def heads(lane: VenueLane) -> dict[str, int]:
    with lane.checkpoint() as cp:
        return {device: seq for device, (seq, _) in cp.peer_heads().items()}


def wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_partition_heals_into_one_history_and_one_conflict(tmp_path: Path, start_hub) -> None:
    hub_dir = tmp_path / "hub"
    hub_dir.mkdir()
    hub = start_hub(hub_dir)
    proxies: dict[tuple[str, str], FaultProxy] = {}

    def route(a: VenueLane, b: VenueLane) -> str:
        proxy = FaultProxy(b.port, seed=len(proxies), upstream_host=b.host)
        proxy.force("pass")
        proxies[(a.name, b.name)] = proxy
        return proxy.url

    venue = Venue(tmp_path, ["A", "B", "C"], tickets=4, route=route, hub=(hub_dir, hub.url))
    hub.stop()  # the uplink is down from here on
    try:
        venue.start()
        a, b, c = (venue.lanes[n] for n in "ABC")
        for (src, dst), proxy in proxies.items():
            if "B" in (src, dst):
                proxy.force("drop")

        a.scan(live_code("t0"))  # the same ticket at both sides of the cut
        b.scan(live_code("t0"))
        a.scan(live_code("t1"))  # and one A admits that C must refuse
        for lane in (a, b):
            lane.wait_for(lambda e: e["event"] == "decision" and e["result"] == "admitted", 20)
        with c.checkpoint() as view:
            wait(
                lambda: view.check(live_code("t1"), int(time.time())).reason == "already_used",
                10,
                "C to refuse t1, admitted at A",
            )
            assert view.check(live_code("t0"), int(time.time())).first_device == "A"
        with b.checkpoint() as view:  # B learns nothing while cut off
            time.sleep(1.0)
            assert view.check(live_code("t1"), int(time.time())).result == "admitted"
        assert heads(b).get("A") is None

        for proxy in proxies.values():
            proxy.force("pass")  # the partition heals
        everything = {"A": heads(a)["A"], "B": heads(b)["B"], "C": heads(c).get("C", 0)}
        everything = {d: s for d, s in everything.items() if s}
        wait(
            lambda: all(
                {d: s for d, s in heads(lane).items() if d in everything} == everything
                for lane in (a, b, c)
            ),
            30,
            f"every gate to hold {everything}",
        )
        with b.checkpoint() as view:
            refused = view.check(live_code("t1"), int(time.time()))
            assert (refused.reason, refused.first_device) == ("already_used", "A")

        hub = start_hub(hub_dir, port=int(hub.url.rsplit(":", 1)[1]))  # the uplink is back
        for lane in (a, b, c):
            done = gate(lane.config, "sync", "once")
            assert done.returncode == 0, done.stderr
        operator = Hub(hub_dir)
        try:
            conflicts = operator.conflicts()
        finally:
            operator.close()
        assert len(conflicts) == 1
        assert sorted(d for d, _, _ in conflicts[0].admissions) == ["A", "B"]
        for lane in (a, b, c):  # the hub has each gate's records once, from that gate
            done = gate(lane.config, "sync", "once")
            assert done.returncode == 0, done.stderr
        operator = Hub(hub_dir)
        try:
            assert len(operator.conflicts()) == 1
        finally:
            operator.close()
        down = [e for e in a.journal if e["event"] == "peer" and e["state"] == "down"]
        assert any(proxies[("A", "B")].url == e["url"] for e in down)
        # The exchange saves its peers' state every few seconds: wait for a save made
        # after the heal, or a quick run reads the state from before it.
        saves = sum(e["event"] == "peers" for e in a.journal)
        wait(lambda: sum(e["event"] == "peers" for e in a.journal) > saves, 15, "a peers save")
        status = json.loads(gate(a.config, "peers", "status", "--json").stdout)
        assert {p["url"] for p in status["peers"]} == {proxies[("A", n)].url for n in "BC"}
        assert status["held"] == heads(a) and status["forks"] == []
        shown = gate(a.config, "peers", "status")
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert f"records held: A {heads(a)['A']}, B {heads(a)['B']}" in shown.stdout
        assert f"{proxies[('A', 'B')].url} [config]: last contact " in shown.stdout
    finally:
        venue.close()
        for proxy in proxies.values():
            proxy.close()
