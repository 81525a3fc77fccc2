"""bpfman.netns: entering network namespaces per thread, interface lookups inside them."""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator

import pytest

import bpfman
from bpfman import netns
from support.net import VethPair


@pytest.fixture
def pair() -> Iterator[VethPair]:
    with VethPair("ns") as p:
        yield p


def test_enter_switches_this_thread_and_restores(pair: VethPair) -> None:
    home = netns.inode()
    target = netns.inode(pair.netns_path)
    assert target != home
    seen_by_other_thread: list[int] = []
    go = threading.Event()

    def other() -> None:
        go.wait(5)
        seen_by_other_thread.append(netns.inode())

    t = threading.Thread(target=other)  # started before: new threads inherit the netns
    t.start()
    with netns.enter(pair.netns):
        assert netns.inode() == target
        go.set()
        t.join()
        with netns.enter(pair.netns_path):  # already there: a no-op
            assert netns.ifindex(pair.peer) == pair.peer_index
    assert netns.inode() == home
    assert seen_by_other_thread == [home]  # setns is per thread
    with pytest.raises(RuntimeError), netns.enter(pair.netns):
        raise RuntimeError("boom")
    assert netns.inode() == home


def test_ifindex_in_a_namespace(pair: VethPair) -> None:
    assert netns.ifindex(pair.peer, pair.netns) == pair.peer_index
    assert netns.ifindex("lo", pair.netns) == 1
    assert netns.ifname(pair.peer_index, pair.netns) == pair.peer
    with pytest.raises(bpfman.BpfError) as e:
        netns.ifindex(pair.peer)  # not in this netns
    assert str(e.value) == f"no network interface named {pair.peer!r}"
    assert e.value.errno == errno.ENODEV
    with pytest.raises(bpfman.BpfError) as e:
        netns.ifindex(pair.host, pair.netns)
    assert str(e.value) == (
        f"no network interface named {pair.host!r} in network namespace {pair.netns_path}"
    )


def test_missing_namespace_is_one_line(pair: VethPair) -> None:
    with pytest.raises(bpfman.BpfError) as e, netns.enter(pair.netns + "-missing"):
        pass
    assert str(e.value) == f"no network namespace {pair.netns_path}-missing"
    assert e.value.errno == errno.ENOENT
    assert netns.path_of("/proc/1/ns/net") == "/proc/1/ns/net"


def test_attach_xdp_tc_tcx_with_netns(pair: VethPair, bpf_obj) -> None:
    """netns=: the interface is found and the hook set in that namespace; the thread stays home."""
    from bpfman import BpfError, features

    home = netns.inode()
    with bpfman.load(bpf_obj("net")) as obj:
        drop_xdp, drop_tc = obj.programs["xdp_drop"], obj.programs["tc_drop"]
        with pytest.raises(BpfError, match=pair.peer):
            drop_xdp.attach_xdp(pair.peer, mode="skb")  # not an interface of this namespace
        link = drop_xdp.attach_xdp(pair.peer, mode="skb", netns=pair.netns)
        assert netns.inode() == home
        assert link.info().details["ifindex"] == pair.peer_index
        assert pair.send(3, to="peer") == 0  # dropped at the peer's ingress
        link.detach()
        assert pair.send(3, to="peer") == 3
        tc_link = drop_tc.attach_tc(pair.peer, "ingress", netns=pair.netns_path)
        assert netns.inode() == home
        assert pair.send(2, to="peer") == 0
        tc_link.detach()  # its filter is removed in the peer's namespace
        assert pair.send(2, to="peer") == 2
        if features.available("tcx"):
            tcx_link = drop_tc.attach_tcx(pair.peer, "ingress", netns=pair.netns)
            assert netns.inode() == home and pair.send(2, to="peer") == 0
            tcx_link.detach()
            assert pair.send(2, to="peer") == 2
        with pytest.raises(BpfError, match="pbt-nope"):
            drop_xdp.attach_xdp("lo", netns="pbt-nope")
        assert netns.inode() == home
