"""mDNS discovery of gate peers (gate.peer_discovery), with real zeroconf on loopback.

Every gate here runs mDNS on 127.0.0.1 only (``address``), so nothing leaves the host.
That works on Linux even where ``lo`` lacks the MULTICAST flag (as in this container):
the sockets name 127.0.0.1 as their multicast interface and loop their own packets back.
The ``loopback_multicast`` fixture checks that with a plain socket first and, failing
that, sets the flag when it may (root) or skips saying why.

Each test browses a service type of its own, so two test runs sharing a loopback (other
checkouts' tests, in one network namespace) cannot see each other's gates; the type's
string is all that differs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from errors import ConfigError, InvalidArgument
from gate import peer_discovery
from gate.peer_discovery import PeerDiscovery

LO = "127.0.0.1"
#: Seconds to wait for a change to be seen; on loopback it takes well under one.
WAIT_S = 5.0


def _loopback_multicast_works() -> bool:
    """Send one datagram to an mDNS-like group on 127.0.0.1 and see it come back."""
    group, port = "224.0.0.251", 0
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("", port))
        port = rx.getsockname()[1]
        mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(LO))
        rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        rx.settimeout(1.0)
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LO))
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        tx.sendto(b"gatehouse-probe", (group, port))
        return rx.recv(64) == b"gatehouse-probe"
    except OSError:
        return False
    finally:
        rx.close()
        tx.close()


@pytest.fixture(scope="module")
def loopback_multicast() -> None:
    pytest.importorskip("zeroconf")
    if _loopback_multicast_works():
        return
    ip = shutil.which("ip")
    if ip and sys.platform.startswith("linux") and os.geteuid() == 0:
        subprocess.run([ip, "link", "set", "lo", "multicast", "on"], check=False)
        if _loopback_multicast_works():
            return
    pytest.skip("multicast on 127.0.0.1 does not loop back here (try: ip link set lo multicast on)")


@pytest.fixture
def service_type(monkeypatch: pytest.MonkeyPatch, loopback_multicast: None) -> str:
    kind = f"_gh{secrets.token_hex(4)}._tcp.local."
    monkeypatch.setattr(peer_discovery, "SERVICE_TYPE", kind)
    return kind


@pytest.fixture
def gates() -> Callable[..., list[PeerDiscovery]]:
    """Start PeerDiscovery instances side by side (each start probes for about two
    seconds); close them all at the end."""
    made: list[PeerDiscovery] = []

    def start(*specs: tuple[str, int], **kw) -> list[PeerDiscovery]:
        batch = [PeerDiscovery(device, port, address=LO, **kw) for device, port in specs]
        made.extend(batch)
        _in_parallel([d.start for d in batch])
        return batch

    yield start
    _in_parallel([d.close for d in made])  # each says goodbye for about half a second


def _in_parallel(calls: list[Callable[[], object]]) -> None:
    failures: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            call()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    if failures:
        raise failures[0]


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT_S} s: {what}")
        time.sleep(0.05)


def _advertise(zc, kind: str, adverts: list[dict]) -> list:
    """Register raw adverts with zeroconf, as any host on the LAN could."""
    import zeroconf

    infos = [
        zeroconf.ServiceInfo(
            kind,
            f"{a['name']}.{kind}",
            addresses=[socket.inet_aton(x) for x in a.get("addresses", [LO])],
            port=a.get("port", 9000),
            properties=a.get("txt", {}),
        )
        for a in adverts
    ]
    _in_parallel([lambda i=i: zc.register_service(i, cooperating_responders=True) for i in infos])
    return infos


@pytest.fixture
def raw_zeroconf(loopback_multicast: None):
    import zeroconf

    zc = zeroconf.Zeroconf(interfaces=[LO], ip_version=zeroconf.IPVersion.V4Only)
    yield zc
    zc.close()


def test_gates_find_each_other_and_a_closed_one_leaves(
    service_type: str, gates: Callable[..., list[PeerDiscovery]]
) -> None:
    changed = threading.Event()
    a, b, c = gates(
        ("north-1", 18101), ("north-2", 18102), ("south.1", 18103), on_change=changed.set
    )
    urls = {"north-1": f"http://{LO}:18101", "north-2": f"http://{LO}:18102"}
    urls["south.1"] = f"http://{LO}:18103"
    for me in (a, b, c):
        others = {url: dev for dev, url in urls.items() if dev != me.device}
        _until(lambda me=me, others=others: me.peers() == others, f"{me.device} sees {others}")
    assert a.instance_name == "north-1" and c.instance_name == "south.1"
    assert changed.is_set()

    changed.clear()
    c.close()
    gone = {urls["north-2"]: "north-2"}
    _until(lambda: a.peers() == gone, "north-1 sees south.1 leave")
    _until(lambda: b.peers() == {urls["north-1"]: "north-1"}, "north-2 sees south.1 leave")
    assert changed.is_set()
    c.close()  # safe twice
    assert c.peers() == {}


def test_garbage_is_ignored_and_a_flood_capped(
    service_type: str, gates: Callable[..., list[PeerDiscovery]], raw_zeroconf, monkeypatch
) -> None:
    """One set of adverts, two gates: one holds every good advert and no bad one, the
    other (max_peers=3) holds three good ones."""
    monkeypatch.setattr(peer_discovery, "RESOLVE_TIMEOUT_MS", 400)
    good = {"device": "east-1", "proto": "1.2"}
    garbage = [
        {"name": "no-address", "addresses": [], "txt": good},
        {"name": "port-zero", "port": 0, "txt": good},
        {"name": "no-txt", "txt": {}},
        {"name": "bad-device", "txt": {"device": "east 1/../", "proto": "1.2"}},
        {"name": "long-device", "txt": {"device": "e" * 65, "proto": "1.2"}},
        {"name": "no-proto", "txt": {"device": "east-2"}},
        {"name": "proto-2", "txt": {"device": "east-3", "proto": "2.0"}},
        {"name": "binary", "txt": {b"device": b"\xff\xfe", "proto": "1.2"}},
        {"name": "multicast-ip", "addresses": ["224.0.0.251"], "txt": good},
        {"name": "myself", "txt": {"device": "north-1", "proto": "1.2"}},
    ]
    flood = [
        {"name": f"fake-{i}", "port": 9100 + i, "txt": {"device": f"fake-{i}", "proto": "1.2"}}
        for i in range(8)
    ]
    started: list[PeerDiscovery] = []
    _in_parallel(
        [
            lambda: started.extend(gates(("north-1", 18201))),
            lambda: started.extend(gates(("north-2", 18202), max_peers=3)),
            lambda: _advertise(raw_zeroconf, service_type, garbage + flood),
        ]
    )
    (roomy,) = [d for d in started if d.device == "north-1"]
    (capped,) = [d for d in started if d.device == "north-2"]
    fakes = {f"http://{LO}:{9100 + i}": f"fake-{i}" for i in range(8)}
    expected = {**fakes, f"http://{LO}:18202": "north-2"}
    _until(lambda: roomy.peers() == expected, "north-1 finds the good adverts")
    _until(lambda: len(capped.peers()) == 3, "north-2 holds three peers")
    time.sleep(0.5)  # longer than a resolve that waits in vain for an address
    assert roomy.peers() == expected
    held = capped.peers()
    # north-1's gate and the advert naming north-1 ("myself" to it) are good adverts here
    allowed = {**fakes, f"http://{LO}:18201": "north-1", f"http://{LO}:9000": "north-1"}
    assert len(held) == 3 and held.items() <= allowed.items()


def test_a_taken_name_is_replaced_by_one_with_a_suffix(
    service_type: str, gates: Callable[..., list[PeerDiscovery]], raw_zeroconf
) -> None:
    # The prober hears of the squatter by its answer to a probe, sent by unicast to port
    # 5353, which every zeroconf of this host binds (SO_REUSEPORT): the kernel hands it
    # to one of them, not always the prober's. (Separate hosts on a LAN have no such
    # problem.) So the squatter also keeps announcing, by multicast, while north-2 starts.
    (squatter,) = _advertise(raw_zeroconf, service_type, [{"name": "north-2", "port": 0}])
    started = threading.Event()

    def keep_announcing() -> None:
        while not started.is_set():
            raw_zeroconf.update_service(squatter)

    announcer = threading.Thread(target=keep_announcing)
    announcer.start()
    try:
        watcher, me = gates(("north-1", 18401), ("north-2", 18402))
    finally:
        started.set()
        announcer.join(5)
    assert watcher.instance_name == "north-1"
    assert me.instance_name is not None and me.instance_name.startswith("north-2-")
    _until(
        lambda: watcher.peers() == {f"http://{LO}:18402": "north-2"},
        "north-1 finds north-2 under its new name",
    )


def test_peer_of_takes_only_well_formed_adverts() -> None:
    """The filter on its own, including what loopback cannot show: an advert of a
    loopback address is taken only by a gate that itself runs discovery on loopback."""
    lan = PeerDiscovery("north-1", 8000, address="192.0.2.2")
    lo = PeerDiscovery("north-1", 8000, address=LO)

    def advert(addresses: list[str], port: int = 9000, **txt: bytes) -> SimpleNamespace:
        props = {b"device": b"south-1", b"proto": b"1.2"} | {k.encode(): v for k, v in txt.items()}
        packed = [socket.inet_aton(a) for a in addresses]
        return SimpleNamespace(properties=props, port=port, addresses=packed)

    assert lan._peer_of(advert(["192.0.2.7"])) == ("http://192.0.2.7:9000", "south-1")
    assert lan._peer_of(advert(["127.0.0.1", "192.0.2.7"])) == ("http://192.0.2.7:9000", "south-1")
    assert lan._peer_of(advert(["127.0.0.1"])) is None
    assert lo._peer_of(advert(["127.0.0.1"])) == ("http://127.0.0.1:9000", "south-1")
    for bad in (
        advert([]),
        advert(["0.0.0.0"]),
        advert(["255.255.255.255"]),
        advert(["192.0.2.7"], port=0),
        advert(["192.0.2.7"], port=70000),
        advert(["192.0.2.7"], device=None),
        advert(["192.0.2.7"], device=b""),
        advert(["192.0.2.7"], proto=b"12"),
        advert(["192.0.2.7"], proto=None),
    ):
        assert lan._peer_of(bad) is None, bad
    assert lan._peer_of(SimpleNamespace(properties=None, port=9000, addresses=[])) is None


def test_missing_zeroconf_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zeroconf", None)  # import zeroconf now fails
    discovery = PeerDiscovery("north-1", 8000)
    with pytest.raises(ConfigError) as caught:
        discovery.start()
    assert str(caught.value) == (
        "[peers] discover = true needs python-zeroconf: install gatehouse[peers]"
    )
    discovery.close()
    discovery.close()


def test_arguments_are_checked() -> None:
    with pytest.raises(InvalidArgument):
        PeerDiscovery("north 1", 8000)
    with pytest.raises(InvalidArgument):
        PeerDiscovery("north-1", 0)
    with pytest.raises(InvalidArgument):
        PeerDiscovery("north-1", 8000, max_peers=0)
    with pytest.raises(ConfigError):
        PeerDiscovery("north-1", 8000, address="gate.local")
    closed = PeerDiscovery("north-1", 8000)
    closed.close()
    with pytest.raises(InvalidArgument):
        closed.start()
