"""What attach, detach and the dispatchers share about hooks and their links.

The result of an attach (``AttachResult``, the other links it changed as
``Updates``), entering a link's network namespace, and the bpfman links that
share a hook: tc siblings on an interface, the kernel order of tcx links.
Pure store reads and netns entry; no attach or detach happens here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bpfman import netns
from bpfman.errors import BpfError
from bpfman.manager.errors import InputError
from bpfman.manager.models import (
    Attach,
    BpfmanType,
    LinkRecord,
    NetAttach,
    NetHook,
    TcFilterRecord,
)

if TYPE_CHECKING:
    from bpfman.attach.tc import TcFilter
    from bpfman.manager.core import Manager
    from bpfman.manager.lock import WriterScope

# other links an attach or detach changed (a dispatcher's members): link id -> (kernel link id,
# attach record), for ``Store.update_links``
Updates = dict[int, tuple[int | None, Attach]]


@dataclass
class AttachResult:
    kernel_link_id: int | None
    pin_path: str | None
    attach: Attach
    updates: Updates = field(default_factory=dict)


@contextlib.contextmanager
def in_netns(path: str | None) -> Iterator[None]:
    """Run the block in the network namespace at *path* (an existing path), else in ours."""
    if not path:
        yield
        return
    if not os.path.exists(path):
        raise InputError(f"netns {path}: no such network namespace")
    with netns.enter(path):
        yield


def netns_gone(path: str | None) -> bool:
    """Whether a link's network namespace *path* was deleted (``ip netns del``): its
    interfaces, filters and links went with it."""
    return bool(path) and not os.path.exists(str(path))


def netns_ino(path: str | None) -> int:
    """The identity (inode) of the namespace at *path*, or of this thread's when None; 0 when
    *path* does not exist (the link's namespace is gone)."""
    if not path:
        return netns.inode()
    return netns.inode(path) if os.path.exists(path) else 0


def tcx_positions(mgr: Manager, hook: NetHook) -> dict[int, int]:
    """bpfman link id -> position (kernel order) of every bpfman tcx link on *hook*."""
    from bpfman.attach import tcx  # the attach code: not for `list` (tests/test_cli_startup.py)

    ours = {
        link.kernel_link_id: link.id
        for link in mgr.store.links()
        if link.kind == BpfmanType.TCX
        and link.net is not None
        and link.net.hook.iface == hook.iface
        and link.net.hook.direction == hook.direction
        and link.net.hook.netns_ino == hook.netns_ino
    }
    if netns_gone(hook.netns):
        return {}
    try:
        with in_netns(hook.netns):
            chain = tcx.query(hook.iface, str(hook.direction))
    except BpfError:  # the interface is gone, and its links with it
        return {}
    return {ours[k]: pos for pos, k in enumerate(chain.link_ids) if k in ours}


def filter_record(f: TcFilter) -> TcFilterRecord:
    """What a direct tc link records of its filter (its hook has the interface and direction)."""
    return TcFilterRecord(f.priority, f.handle, f.qdisc_created)


def filter_of(net: NetAttach) -> TcFilter:
    """The filter a direct tc link's record describes (``filter_record``'s inverse)."""
    from bpfman.attach.tc import TcFilter  # the attach code: not for `list` (test_cli_startup)

    assert net.filter is not None and net.hook.ifindex is not None and net.hook.direction
    f = net.filter
    return TcFilter(net.hook.ifindex, net.hook.direction, f.priority, f.handle, f.qdisc_created)


def tc_siblings(mgr: Manager, link: LinkRecord) -> list[LinkRecord]:
    """The other bpfman tc links on *link*'s interface (both directions)."""
    net = link.net
    if net is None:
        return []
    return [
        other
        for other in mgr.store.links()
        if other.kind == BpfmanType.TC
        and other.id != link.id
        and other.net is not None
        and other.net.hook.netns_ino == net.hook.netns_ino
        and other.net.hook.ifindex == net.hook.ifindex
    ]


def hand_on_qdisc(mgr: Manager, scope: WriterScope, link: LinkRecord) -> None:
    """*link* is gone: the clsact qdisc it created passes to its tc siblings (inside a
    transaction), so the last of them removes it."""
    if link.kind == BpfmanType.TC and link.net is not None and link.net.qdisc_created:
        for other in tc_siblings(mgr, link):
            if other.net is not None:  # (every sibling: a tc link)
                mgr.store.update_link(other.id, other.kernel_link_id, other.net.owning_qdisc())
