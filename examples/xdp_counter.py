"""xdp_counter: packets per IP protocol on an interface (XDP, a per-CPU array).

    sudo python3 examples/xdp_counter.py IFACE

Checks the program with PROG_TEST_RUN first (no interface needed), then
attaches it to IFACE and counts until stdin is closed (Ctrl-D).
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
from pathlib import Path

import bpfman

OBJ = Path(__file__).with_name("xdp_counter.bpf.o")
NAMES = {socket.IPPROTO_ICMP: "icmp", socket.IPPROTO_TCP: "tcp", socket.IPPROTO_UDP: "udp"}


def frame(proto: int) -> bytes:
    """An Ethernet + IPv4 header of IP protocol *proto* (enough for the program to count)."""
    eth = bytes(6) + bytes(6) + struct.pack("!H", 0x0800)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20, 0, 0, 64, proto, 0, bytes(4), bytes(4))
    return eth + ip


def totals(per_cpu: bpfman.TypedMap[int, list[int]]) -> dict[int, int]:
    """Protocol -> packets, summing each protocol's per-CPU counters."""
    return {proto: sum(cpus) for proto, cpus in per_cpu.items() if sum(cpus)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("iface")
    args = ap.parse_args()

    with bpfman.load(OBJ) as obj:
        prog = obj.programs["count_protocols"]
        counts = obj.maps["by_proto"].typed()  # BTF types: u32 -> [u64 per CPU]

        result = prog.test_run(frame(socket.IPPROTO_UDP), repeat=3)
        assert result.retval == bpfman.XdpAction.PASS
        print(f"test_run: {bpfman.XdpAction(result.retval).name}, counted {totals(counts)}")
        for proto in totals(counts):
            counts[proto] = 0  # one value for a per-CPU map: every CPU's slot

        prog.attach_xdp(args.iface, mode="skb")  # generic mode works on every interface
        print(f"counting on {args.iface}; close stdin (Ctrl-D) to stop", flush=True)
        sys.stdin.read()
        for proto, n in sorted(totals(counts).items()):
            print(f"{NAMES.get(proto, str(proto))}: {n}")


if __name__ == "__main__":
    main()
