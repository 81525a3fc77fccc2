"""bpfman.netns: entering network namespaces per thread, interface lookups inside them."""

from __future__ import annotations

import errno
import threading

import pytest

import bpfman
from bpfman import netns
from support.net import VethPair


def test_enter_switches_this_thread_and_restores(veth: VethPair) -> None:
    home = netns.inode()
    target = netns.inode(veth.netns_path)
    assert target != home
    seen_by_other_thread: list[int] = []
    go = threading.Event()

    def other() -> None:
        go.wait(5)
        seen_by_other_thread.append(netns.inode())

    t = threading.Thread(target=other)  # started before: new threads inherit the netns
    t.start()
    with netns.enter(veth.netns):
        assert netns.inode() == target
        go.set()
        t.join()
        with netns.enter(veth.netns_path):  # already there: a no-op
            assert netns.ifindex(veth.peer) == veth.peer_index
    assert netns.inode() == home
    assert seen_by_other_thread == [home]  # setns is per thread
    with pytest.raises(RuntimeError), netns.enter(veth.netns):
        raise RuntimeError("boom")
    assert netns.inode() == home


def test_ifindex_in_a_namespace(veth: VethPair) -> None:
    assert netns.ifindex(veth.peer, veth.netns) == veth.peer_index
    assert netns.ifindex("lo", veth.netns) == 1
    assert netns.ifname(veth.peer_index, veth.netns) == veth.peer
    with pytest.raises(bpfman.BpfError) as e:
        netns.ifindex(veth.peer)  # not in this netns
    assert str(e.value) == f"no network interface named {veth.peer!r}"
    assert e.value.errno == errno.ENODEV
    with pytest.raises(bpfman.BpfError) as e:
        netns.ifindex(veth.host, veth.netns)
    assert str(e.value) == (
        f"no network interface named {veth.host!r} in network namespace {veth.netns_path}"
    )


def test_missing_namespace_is_one_line(veth: VethPair) -> None:
    with pytest.raises(bpfman.BpfError) as e, netns.enter(veth.netns + "-missing"):
        pass
    assert str(e.value) == f"no network namespace {veth.netns_path}-missing"
    assert e.value.errno == errno.ENOENT
    assert netns.path_of("/proc/1/ns/net") == "/proc/1/ns/net"


def test_attach_xdp_tc_tcx_with_netns(veth: VethPair, bpf_obj) -> None:
    """netns=: the interface is found and the hook set in that namespace; the thread stays home."""
    from bpfman import BpfError, features

    home = netns.inode()
    with bpfman.load(bpf_obj("net")) as obj:
        drop_xdp, drop_tc = obj.programs["xdp_drop"], obj.programs["tc_drop"]
        with pytest.raises(BpfError, match=veth.peer):
            drop_xdp.attach_xdp(veth.peer, mode="skb")  # not an interface of this namespace
        link = drop_xdp.attach_xdp(veth.peer, mode="skb", netns=veth.netns)
        assert netns.inode() == home
        assert link.info().details["ifindex"] == veth.peer_index
        assert veth.send(3, to="peer") == 0  # dropped at the peer's ingress
        link.detach()
        assert veth.send(3, to="peer") == 3
        tc_link = drop_tc.attach_tc(veth.peer, "ingress", netns=veth.netns_path)
        assert netns.inode() == home
        assert veth.send(2, to="peer") == 0
        tc_link.detach()  # its filter is removed in the peer's namespace
        assert veth.send(2, to="peer") == 2
        if features.available("tcx"):
            tcx_link = drop_tc.attach_tcx(veth.peer, "ingress", netns=veth.netns)
            assert netns.inode() == home and veth.send(2, to="peer") == 0
            tcx_link.detach()
            assert veth.send(2, to="peer") == 2
        with pytest.raises(BpfError, match="pbt-nope"):
            drop_xdp.attach_xdp("lo", netns="pbt-nope")
        assert netns.inode() == home
