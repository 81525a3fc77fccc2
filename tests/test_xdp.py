"""XDP links on a veth pair: real packets counted and dropped, modes, updates, pins, errors."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

import bpfman
from bpfman import netns
from bpfman.attach import xdp
from bpfman.kinds import LinkType
from support.net import XDP_DROP, XDP_PASS, XDP_PASS2, VethPair, counter, udp_probe

XDP_DROP_VERDICT, XDP_PASS_VERDICT = 1, 2


@pytest.fixture
def obj(bpf_obj) -> Iterator[bpfman.Object]:
    with bpfman.load(bpf_obj("net")) as o:
        yield o


def test_xdp_verdicts_in_test_run(obj: bpfman.Object) -> None:
    probe, other = udp_probe(), udp_probe(port=53)
    assert obj.programs["xdp_pass"].test_run(probe).retval == XDP_PASS_VERDICT
    assert obj.programs["xdp_drop"].test_run(probe).retval == XDP_DROP_VERDICT
    assert obj.programs["xdp_drop"].test_run(other).retval == XDP_PASS_VERDICT
    assert counter(obj, XDP_PASS) == 1 and counter(obj, XDP_DROP) == 1  # `other` not counted


@pytest.mark.parametrize("mode", ["drv", "skb"])
def test_xdp_mode_counts_and_drops_real_packets(
    obj: bpfman.Object, veth: VethPair, mode: str
) -> None:
    link = obj.programs["xdp_pass"].attach_xdp(veth.host, mode=mode, fallback=False)
    assert isinstance(link, xdp.XdpLink) and link.mode == mode
    state = xdp.query(veth.host)
    assert (state.mode, state.prog_id) == (mode, obj.programs["xdp_pass"].id)
    info = link.info()
    assert info.type == LinkType.XDP and info.details["ifindex"] == veth.host_index
    assert veth.send(5) == 5
    assert counter(obj, XDP_PASS) == 5
    link.detach()
    assert xdp.query(veth.host).prog_id == 0

    link = obj.programs["xdp_drop"].attach_xdp(veth.host_index, mode=mode, fallback=False)
    assert link.iface == veth.host and link.mode == mode
    assert veth.send(4) == 0  # dropped before the stack: the socket gets nothing
    assert counter(obj, XDP_DROP) == 4
    assert veth.send(3, to="peer") == 3  # XDP is ingress only
    assert counter(obj, XDP_DROP) == 4
    link.close()  # the last fd of an unpinned link: detached
    assert veth.send(2) == 2
    assert counter(obj, XDP_DROP) == 4 and counter(obj, XDP_PASS) == 5


def test_xdp_drv_falls_back_to_skb_where_the_driver_cannot(
    obj: bpfman.Object, veth: VethPair
) -> None:
    prog = obj.programs["xdp_pass"]
    with netns.enter(veth.netns):  # lo has no native XDP; the veth's netns has its own lo
        with pytest.raises(bpfman.BpfError, match="in drv mode: Operation not supported") as e:
            prog.attach_xdp("lo", fallback=False)
        assert e.value.errno == errno.EOPNOTSUPP
        link = prog.attach_xdp("lo")
        assert link.mode == "skb" and xdp.query("lo").mode == "skb"
        link.detach()
        assert xdp.query("lo").prog_id == 0
    with pytest.raises(bpfman.BpfError, match="in hw mode"):  # no offload on veth, no fallback
        prog.attach_xdp(veth.host, mode="hw")


def test_xdp_link_update_swaps_the_program(obj: bpfman.Object, veth: VethPair) -> None:
    link = obj.programs["xdp_pass"].attach_xdp(veth.host)
    assert veth.send(3) == 3
    link.update(obj.programs["xdp_pass2"])
    assert link.info().prog_id == obj.programs["xdp_pass2"].id
    assert veth.send(4) == 4
    assert (counter(obj, XDP_PASS), counter(obj, XDP_PASS2)) == (3, 4)
    with pytest.raises(bpfman.BpfError, match="cannot update link") as e:
        link.update(obj.programs["xdp_drop"], old=obj.programs["xdp_pass"])  # no longer runs it
    assert e.value.errno == errno.EPERM
    link.update(obj.programs["xdp_drop"], old=obj.programs["xdp_pass2"])
    assert veth.send(2) == 0 and counter(obj, XDP_DROP) == 2
    link.detach()


CHILD = """
import sys, bpfman
obj = bpfman.load(sys.argv[1])
obj.maps["counters"].pin(sys.argv[3] + "/counters")
link = obj.programs["xdp_pass"].attach_xdp(sys.argv[2])
link.pin(sys.argv[3] + "/link")
print(link.info().id, link.mode)
"""


def test_pinned_xdp_link_outlives_its_process(bpf_obj, veth: VethPair, pin_dir: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, bpf_obj("net"), veth.host, pin_dir],
        check=True,
        capture_output=True,
        text=True,
    )
    link_id, mode = out.stdout.split()
    assert mode == "drv"
    with bpfman.Map.from_pin(f"{pin_dir}/counters") as counters:
        assert veth.send(3) == 3
        assert counter(counters, XDP_PASS) == 3  # counted after the loader exited
        link = bpfman.Link.from_pin(f"{pin_dir}/link")
        info = link.info()
        assert (info.id, info.type) == (int(link_id), LinkType.XDP)
        assert xdp.query(veth.host).prog_id == info.prog_id
        link.unpin()
        link.close()  # no pin, no fd: detached
        assert xdp.query(veth.host).prog_id == 0
        assert veth.send(2) == 2
        assert counter(counters, XDP_PASS) == 3
        counters.unpin()
    assert os.listdir(pin_dir) == []


def test_owned_hook_is_a_clear_error(obj: bpfman.Object, veth: VethPair, pin_dir: str) -> None:
    link = obj.programs["xdp_pass"].attach_xdp(veth.host)
    link_id = link.info().id
    prog_id = obj.programs["xdp_pass"].id
    for mode in ("drv", "skb"):
        with pytest.raises(bpfman.BpfError) as e:
            obj.programs["xdp_drop"].attach_xdp(veth.host, mode=mode)
        assert str(e.value) == (
            f"cannot attach XDP program xdp_drop to {veth.host}: its XDP hook is already used "
            f"by program id {prog_id} (bpf_link id {link_id}, drv mode)"
        )
        assert e.value.errno in (errno.EBUSY, errno.EEXIST)
    link.detach()

    # a program attached the old way, over netlink, by iproute2
    obj.programs["xdp_drop"].pin(f"{pin_dir}/prog")
    try:
        ip = ["ip", "link", "set", "dev", veth.host]
        subprocess.run([*ip, "xdpgeneric", "pinned", f"{pin_dir}/prog"], check=True)
        try:
            with pytest.raises(bpfman.BpfError, match="attached via netlink, skb mode"):
                obj.programs["xdp_pass"].attach_xdp(veth.host, mode="skb")
        finally:
            subprocess.run([*ip, "xdpgeneric", "off"], check=True)
    finally:
        os.unlink(f"{pin_dir}/prog")
    assert xdp.query(veth.host).prog_id == 0


def test_bad_interface_mode_and_program_type(obj: bpfman.Object) -> None:
    prog = obj.programs["xdp_pass"]
    with pytest.raises(bpfman.BpfError, match=r"^no network interface named 'pbt-nope'$") as e:
        prog.attach_xdp("pbt-nope")
    assert e.value.errno == errno.ENODEV
    with pytest.raises(bpfman.BpfError, match=r"^no network interface with index 999999$"):
        prog.attach_xdp(999999)
    with pytest.raises(bpfman.BpfError, match="unknown XDP mode 'native'"):
        prog.attach_xdp("lo", mode="native")
    with pytest.raises(bpfman.BpfError, match="tc_ingress to lo as XDP: it is a sched_cls"):
        obj.programs["tc_ingress"].attach_xdp("lo")


def test_fallback_decisions() -> None:
    assert xdp.modes_to_try("drv", fallback=True) == ["drv", "skb"]
    assert xdp.modes_to_try("drv", fallback=False) == ["drv"]
    assert xdp.modes_to_try("hw", fallback=True) == ["hw"]
    assert xdp.falls_back(errno.EOPNOTSUPP)
    assert not xdp.falls_back(errno.EBUSY) and not xdp.falls_back(errno.EEXIST)
