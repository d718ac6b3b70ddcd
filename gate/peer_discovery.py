"""Discovery of the other gates on the venue LAN by mDNS / DNS-SD (PROTOCOL.md section 5:
"Peers come from the configuration and may also be discovered").

Each gate advertises one service of type ``_gatehouse-peer._tcp.local.`` whose instance is
named after its device id, on its peer service's port, with TXT ``device=<id>`` and
``proto=1.2``; and browses for the others. :meth:`PeerDiscovery.peers` is the current set
as ``{"http://IP:PORT": device}``.

Why discover at all, when ``[peers]`` can list them: at a venue the lanes are moved, added
and swapped on the day, and addresses come from whatever DHCP the venue runs; a static list
written at provisioning is wrong by the afternoon. Discovery finds the gates that are here
now with nothing to edit. A static list still works without it, and is the way across
subnets: mDNS never leaves its link.

What the network must allow: mDNS is multicast to 224.0.0.251, UDP port 5353, TTL 255 on
the link. The gates' VLAN must pass it (client isolation on a Wi-Fi access point, or a
"guest" VLAN, drops it). A switch doing IGMP snooping should flood 224.0.0.x anyway
(RFC 4541), but some do not, and those need an IGMP querier on the VLAN or they stop
forwarding the group a few minutes after boot: discovery then finds nobody while unicast
still works. An empty set looks the same as a blocked group: where
that matters, list the peers in the configuration as well.

Discovered peers are hints, never trusted: anyone on the LAN can advertise anything. The
exchange verifies every record it is given (signature, an active device, the chain), so a
false advert costs a failed connection, not a false admission. What this module does is
keep the hints bounded and well formed: an advert without a usable IPv4 address, with a
port of 0, without a valid ``device`` (``[A-Za-z0-9._-]{1,64}``) or without a ``proto`` of
major revision 1 is ignored; an address on the loopback network is taken only when this
gate itself runs discovery on loopback (tests; elsewhere it would point at this gate);
at most ``max_peers`` adverts are held, so a flood of fake ones bounds memory; and this
gate's own advert (its device id) is left out.

python-zeroconf is imported only in :meth:`PeerDiscovery.start` (the extra
``gatehouse[peers]``), so the light commands never load it. It runs its own thread; the
browser's callbacks come on another, so :meth:`peers` is a snapshot under a lock and
``on_change`` is called outside it.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import threading
from collections.abc import Callable
from typing import Any

from errors import ConfigError, InvalidArgument

SERVICE_TYPE = "_gatehouse-peer._tcp.local."
#: The revision of PROTOCOL.md section 5 this gate speaks, advertised in TXT ``proto``.
PROTO = "1.2"
#: Milliseconds to wait for a peer's address and TXT records when they are not cached.
RESOLVE_TIMEOUT_MS = 1500
#: Seconds our records live in the others' caches. zeroconf's default for the service
#: records is 75 minutes (RFC 6762's); a gate unplugged without a goodbye would stay a
#: peer that long. Two minutes costs a few refresh queries a minute on the venue LAN.
ADVERT_TTL_S = 120
#: Attempts at a name of our own after the first one collided.
_RENAME_ATTEMPTS = 3
#: A DNS label (the instance name) holds at most 63 bytes.
_LABEL_MAX = 63

_DEVICE = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")
_PROTO_1 = re.compile(r"1\.[0-9]{1,4}\Z")
_MISSING = "[peers] discover = true needs python-zeroconf: install gatehouse[peers]"

log = logging.getLogger("gatehouse.peer_discovery")


class PeerDiscovery:
    """Advertise this gate's peer service and find the others'.

    ``address`` is the IPv4 address to advertise and to run mDNS on; ``None`` runs it on
    every interface and advertises the host's addresses (loopback left out when there
    are others). ``on_change`` is called (on zeroconf's browser thread, outside any
    lock) each time the set :meth:`peers` returns changes; it must be quick.
    """

    def __init__(
        self,
        device: str,
        port: int,
        *,
        address: str | None = None,
        max_peers: int = 256,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        if not _DEVICE.match(device):
            raise InvalidArgument(f"device id {device!r} is not [A-Za-z0-9._-]{{1,64}}")
        if not 0 < port < 65536:
            raise InvalidArgument(f"peer port {port} is not 1..65535")
        if max_peers < 1:
            raise InvalidArgument(f"max_peers {max_peers} is not at least 1")
        if address is not None:
            try:
                ipaddress.IPv4Address(address)
            except ValueError:
                raise ConfigError(
                    f"peer discovery address {address!r} is not an IPv4 address"
                ) from None
        self.device = device
        self.port = port
        self.address = address
        self.max_peers = max_peers
        self._on_change = on_change
        self._lock = threading.Lock()
        self._found: dict[str, tuple[str, str]] = {}  # service name -> (url, device)
        self._zeroconf: Any = None
        self._browser: Any = None
        self._info: Any = None
        self._qm: Any = None
        self._closed = False
        self._full_warned = False

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> PeerDiscovery:
        """Start mDNS, browse for peers and register this gate's service (blocks for the
        probing, about two seconds). Raises :class:`ConfigError` when python-zeroconf is
        not installed or ``address`` cannot be bound."""
        if self._closed:
            raise InvalidArgument("peer discovery was closed; make a new one")
        if self._zeroconf is not None:
            return self
        try:
            import zeroconf
        except ImportError:
            raise ConfigError(_MISSING) from None
        try:
            self._zeroconf = zeroconf.Zeroconf(
                interfaces=[self.address] if self.address else zeroconf.InterfaceChoice.All,
                ip_version=zeroconf.IPVersion.V4Only,
            )
        except OSError as exc:
            where = self.address or "any interface"
            raise ConfigError(f"peer discovery cannot run mDNS on {where}: {exc}") from exc
        try:
            # QM questions: answers come by multicast, which every socket on port 5353
            # receives. A QU answer comes by unicast to port 5353, and when another
            # responder on this host binds it too (avahi-daemon, on Raspberry Pi OS by
            # default) the kernel gives it to one of them, not always to us.
            self._qm = zeroconf.DNSQuestionType.QM
            self._browser = zeroconf.ServiceBrowser(
                self._zeroconf, SERVICE_TYPE, handlers=[self._on_service], question_type=self._qm
            )
            self._register(zeroconf)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Withdraw this gate's advert (a goodbye the others see at once) and stop.
        Safe twice, and before :meth:`start`."""
        self._closed = True
        zc, self._zeroconf = self._zeroconf, None
        browser, self._browser = self._browser, None
        info, self._info = self._info, None
        if browser is not None:
            browser.cancel()
        if zc is not None:
            try:
                if info is not None:
                    zc.unregister_service(info)
            finally:
                zc.close()
        with self._lock:
            self._found.clear()

    def __enter__(self) -> PeerDiscovery:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the peers -------------------------------------------------------------------

    def peers(self) -> dict[str, str]:
        """``{"http://IP:PORT": device}`` of the peers found now, this gate left out."""
        with self._lock:
            return self._snapshot()

    @property
    def instance_name(self) -> str | None:
        """The DNS-SD instance this gate registered (its device id, or with a suffix when
        another advert held that name); ``None`` before :meth:`start`."""
        info = self._info
        return None if info is None else info.name[: -len(SERVICE_TYPE) - 1]

    def _snapshot(self) -> dict[str, str]:
        return {url: device for url, device in self._found.values()}

    # -- registration ----------------------------------------------------------------

    def _register(self, zeroconf: Any) -> None:
        """Register under the device id; when another advert already holds that name (a
        gate whose id differs only where a name cannot, a stale advert of a swapped unit,
        a squatter), under the id with a random suffix."""
        label = self.device[:_LABEL_MAX]
        for attempt in range(_RENAME_ATTEMPTS + 1):
            info = zeroconf.ServiceInfo(
                SERVICE_TYPE,
                f"{label}.{SERVICE_TYPE}",
                addresses=self._advertised_addresses(zeroconf),
                port=self.port,
                properties={"device": self.device, "proto": PROTO},
                host_ttl=ADVERT_TTL_S,
                other_ttl=ADVERT_TTL_S,
            )
            try:
                self._zeroconf.register_service(info)
            except zeroconf.NonUniqueNameException:
                if attempt == _RENAME_ATTEMPTS:
                    raise
                label = f"{self.device[: _LABEL_MAX - 7]}-{secrets.token_hex(3)}"
                log.warning("mDNS name %s is taken; advertising as %s", info.name, label)
                continue
            self._info = info
            return

    def _advertised_addresses(self, zeroconf: Any) -> list[bytes]:
        if self.address:
            return [ipaddress.IPv4Address(self.address).packed]
        found = [ipaddress.IPv4Address(a) for a in zeroconf.get_all_addresses()]
        outside = [a for a in found if not a.is_loopback]
        return [a.packed for a in (outside or found)]

    # -- browsing (zeroconf's browser thread) ----------------------------------------

    def _on_service(self, zeroconf: Any, service_type: str, name: str, state_change: Any) -> None:
        """ServiceBrowser handler: resolve an added or updated advert, drop a removed one."""
        if self._closed:
            return
        peer = None
        if state_change.name != "Removed":
            try:
                info = zeroconf.get_service_info(
                    service_type, name, timeout=RESOLVE_TIMEOUT_MS, question_type=self._qm
                )
                peer = None if info is None else self._peer_of(info)
            except Exception:  # a malformed advert must not stop the browser
                log.debug("cannot resolve mDNS advert %s", name, exc_info=True)
        with self._lock:
            if self._closed:
                return
            before = self._snapshot()
            if peer is None:
                self._found.pop(name, None)
            elif name in self._found or len(self._found) < self.max_peers:
                self._found[name] = peer
            elif not self._full_warned:
                self._full_warned = True
                log.warning("mDNS: %d peers held, ignoring more (%s)", self.max_peers, name)
            changed = self._snapshot() != before
        if changed and self._on_change is not None:
            self._on_change()

    def _peer_of(self, info: Any) -> tuple[str, str] | None:
        """``(url, device)`` of a resolved advert, or None when it is not a usable peer."""
        props = info.properties or {}
        device = _text(props.get(b"device"))
        proto = _text(props.get(b"proto"))
        if device is None or not _DEVICE.match(device) or device == self.device:
            return None
        if proto is None or not _PROTO_1.match(proto):
            return None
        port = info.port
        if not isinstance(port, int) or not 0 < port < 65536:
            return None
        for packed in info.addresses:
            if len(packed) != 4:
                continue
            ip = ipaddress.IPv4Address(packed)
            if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
                continue
            if ip.is_loopback and not self._on_loopback():
                continue
            return f"http://{ip}:{port}", device
        return None

    def _on_loopback(self) -> bool:
        return self.address is not None and ipaddress.IPv4Address(self.address).is_loopback


def _text(value: object) -> str | None:
    """A TXT value as text, or None when absent or not ASCII."""
    if not isinstance(value, bytes):
        return None
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        return None
