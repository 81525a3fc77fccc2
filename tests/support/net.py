"""Test networking: a veth pair across network namespaces, and real UDP packets over it.

``VethPair`` puts its ``host`` end in this process's netns and its ``peer``
end in a fresh netns named ``pbt-<pid>-<tag>``; both get an address from the
benchmarking range 198.18.0.0/15 and static neighbour entries (no ARP).
Packets sent ``to="host"`` leave the peer and arrive on the host end (host
ingress: XDP, tc/tcx ingress); ``to="peer"`` goes out of the host end (host
egress). Closing the pair deletes the veth (both ends) and the netns.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import select
import socket
import time
from types import TracebackType

from pyroute2 import IPRoute
from pyroute2 import netns as pyroute2_netns

import bpfman
from bpfman import netns

PROBE_PORT = 4242  # the port net.bpf.c's programs count (its `port` default)
MARKER_PORT = 4243  # never counted, never dropped: tells the probes before it were handled
NUD_PERMANENT = 0x80
_serial = itertools.count()

# slots of net.bpf.c's `counters` map (its enum slot)
XDP_PASS, XDP_DROP, XDP_PASS2, TC_INGRESS, TC_EGRESS, TC_DROP, TCX_A, TCX_B, TCX_STOP = range(9)


def counter(obj: bpfman.Object | bpfman.Map, slot: int) -> int:
    """Value of net.bpf.c's counter *slot* (from a loaded object or the map itself)."""
    m = obj.maps["counters"] if isinstance(obj, bpfman.Object) else obj
    raw = m.lookup(slot)
    assert raw is not None
    return int.from_bytes(raw, "little")


def _addresses(serial: int) -> tuple[str, str]:
    """Two addresses of a /30 in 198.18.0.0/15 that depend on the pid and *serial*."""
    base = int(ipaddress.IPv4Address("198.18.0.0"))
    block = (os.getpid() * 16 + serial) % (1 << 15)
    net = base + block * 4
    return str(ipaddress.IPv4Address(net + 1)), str(ipaddress.IPv4Address(net + 2))


def _quiet(ifname: str) -> None:
    """No IPv6 on *ifname* (this thread's netns): no router solicitations, DAD or MLD packets
    of its own, so the only packets crossing the pair are the tests' (dispatcher tests count
    every run of their programs)."""
    try:
        with open(f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6", "w") as f:
            f.write("1")
    except FileNotFoundError:  # IPv6 off in this kernel
        pass


class VethPair:
    def __init__(self, tag: str) -> None:
        serial = next(_serial)
        self.netns = f"pbt-{os.getpid()}-{tag}{serial}"
        self.netns_path = f"/run/netns/{self.netns}"
        short = f"{os.getpid() % 100000}{serial % 100}"
        self.host = f"pbh{short}"
        self.peer = f"pbp{short}"
        self.host_ip, self.peer_ip = _addresses(serial)
        self._socks: list[socket.socket] = []
        pyroute2_netns.create(self.netns)
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _setup(self) -> None:
        with IPRoute() as ipr:
            ipr.link(
                "add",
                ifname=self.host,
                kind="veth",
                peer={"ifname": self.peer, "net_ns_fd": self.netns},
            )
            self.host_index = ipr.link_lookup(ifname=self.host)[0]
            host_mac = ipr.get_links(self.host_index)[0].get_attr("IFLA_ADDRESS")
        with netns.enter(self.netns), IPRoute() as ipr:
            self.peer_index = ipr.link_lookup(ifname=self.peer)[0]
            peer_mac = ipr.get_links(self.peer_index)[0].get_attr("IFLA_ADDRESS")
            ipr.addr("add", index=self.peer_index, address=self.peer_ip, prefixlen=30)
            ipr.neigh(
                "add",
                dst=self.host_ip,
                lladdr=host_mac,
                ifindex=self.peer_index,
                state=NUD_PERMANENT,
            )
            _quiet(self.peer)
            ipr.link("set", index=self.peer_index, state="up")
            self._peer_probe = self._socket(self.peer_ip, PROBE_PORT)
            self._peer_marker = self._socket(self.peer_ip, MARKER_PORT)
        with IPRoute() as ipr:
            ipr.addr("add", index=self.host_index, address=self.host_ip, prefixlen=30)
            ipr.neigh(
                "add",
                dst=self.peer_ip,
                lladdr=peer_mac,
                ifindex=self.host_index,
                state=NUD_PERMANENT,
            )
            _quiet(self.host)
            ipr.link("set", index=self.host_index, state="up")
        self._host_probe = self._socket(self.host_ip, PROBE_PORT)
        self._host_marker = self._socket(self.host_ip, MARKER_PORT)

    def _socket(self, ip: str, port: int) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socks.append(s)
        s.bind((ip, port))
        s.setblocking(False)
        return s

    def send(self, n: int, to: str = "host", timeout: float = 2.0) -> int:
        """Send *n* probes then a marker to *to*; return how many probes arrived.

        The sender is the other end's bound socket, so each probe crosses the
        veth exactly once. The sending thread stays on one CPU meanwhile, so the
        probes and the marker queue in that CPU's backlog (or the veth's one XDP
        ring) in order and are handled in order: once the marker (which every
        test program passes) has arrived, every probe that was not dropped has
        too, however loaded the machine. Dropped probes cost no timeout.
        """
        if to == "host":
            src, dst_ip, rx, marker = (
                self._peer_probe,
                self.host_ip,
                self._host_probe,
                self._host_marker,
            )
        elif to == "peer":
            src, dst_ip, rx, marker = (
                self._host_probe,
                self.peer_ip,
                self._peer_probe,
                self._peer_marker,
            )
        else:
            raise ValueError(to)
        cpus = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cpus)})  # this thread only (pid 0)
        try:
            for i in range(n):
                src.sendto(b"probe %d" % i, (dst_ip, PROBE_PORT))
            src.sendto(b"marker", (dst_ip, MARKER_PORT))
        finally:
            os.sched_setaffinity(0, cpus)
        got = 0
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([marker], [], [], max(0.0, deadline - time.monotonic()))
            got += _drain(rx)
            if not ready or _drain(marker) > 0:
                return got + _drain(rx)

    def close(self) -> None:
        for s in self._socks:
            s.close()
        self._socks.clear()
        try:
            with IPRoute() as ipr:
                for index in ipr.link_lookup(ifname=self.host):
                    ipr.link("del", index=index)
        finally:
            if os.path.exists(self.netns_path):
                pyroute2_netns.remove(self.netns)

    def __enter__(self) -> VethPair:
        return self

    def __exit__(
        self,
        et: type[BaseException] | None,
        ev: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _drain(s: socket.socket) -> int:
    n = 0
    while True:
        try:
            s.recv(2048)
        except BlockingIOError:
            return n
        n += 1


def qdiscs(ifindex: int) -> list[str]:
    """Kinds of the qdiscs on *ifindex* (this netns), e.g. ["noqueue", "clsact"]."""
    with IPRoute() as ipr:
        return [str(q.get_attr("TCA_KIND")) for q in ipr.get_qdiscs(index=ifindex)]


def udp_probe(port: int = PROBE_PORT) -> bytes:
    """An Ethernet/IPv4/UDP frame to *port*, for PROG_TEST_RUN."""
    payload = b"probe!"
    udp = (12345).to_bytes(2, "big") + port.to_bytes(2, "big")
    udp += (8 + len(payload)).to_bytes(2, "big") + b"\0\0" + payload
    total = 20 + len(udp)
    ip = bytes([0x45, 0]) + total.to_bytes(2, "big") + b"\0\0\0\0" + bytes([64, 17]) + b"\0\0"
    ip += bytes([198, 18, 0, 1, 198, 18, 0, 2])
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return eth + ip + udp
