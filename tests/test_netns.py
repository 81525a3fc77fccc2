"""bpfman.netns: entering network namespaces per thread, interface lookups inside them."""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator

import pytest

import bpfman
from bpfman import netns
from netutil import VethPair


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
