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
from typing import TYPE_CHECKING, Any

from bpfman import netns
from bpfman.errors import BpfError
from bpfman.manager.errors import InputError
from bpfman.manager.models import BpfmanType, LinkRecord

if TYPE_CHECKING:
    from bpfman.attach.tc import TcFilter
    from bpfman.manager.core import Manager
    from bpfman.manager.lock import WriterScope

# other links an attach or detach changed (a dispatcher's members): link id -> (kernel link id,
# params), for ``Store.update_links``
Updates = dict[int, tuple[int | None, dict[str, Any]]]


@dataclass
class AttachResult:
    kernel_link_id: int | None
    pin_path: str | None
    params: dict[str, Any] = field(default_factory=dict)
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


def tcx_positions(mgr: Manager, hook: dict[str, Any]) -> dict[int, int]:
    """bpfman link id -> position (kernel order) of every bpfman tcx link on *hook*."""
    from bpfman.attach import tcx  # the attach code: not for `list` (tests/test_cli_startup.py)

    ours = {
        link.kernel_link_id: link.id
        for link in mgr.store.links()
        if link.kind == BpfmanType.TCX
        and link.params.get("iface") == hook["iface"]
        and link.params.get("direction") == hook["direction"]
        and link.params.get("netns_ino") == hook["netns_ino"]
    }
    if netns_gone(hook.get("netns")):
        return {}
    try:
        with in_netns(hook.get("netns")):
            chain = tcx.query(hook["iface"], hook["direction"])
    except BpfError:  # the interface is gone, and its links with it
        return {}
    return {ours[k]: pos for pos, k in enumerate(chain.link_ids) if k in ours}


def filter_params(f: TcFilter) -> dict[str, Any]:
    """A tc link's stored params for its filter (``tc_`` keys: clear of bpfman's priority)."""
    return {
        "ifindex": f.ifindex,
        "direction": f.direction,
        "tc_priority": f.priority,
        "tc_handle": f.handle,
        "tc_qdisc_created": f.qdisc_created,
    }


def filter_from(params: dict[str, Any]) -> TcFilter:
    """The filter a tc link's stored params describe (``filter_params``'s inverse)."""
    from bpfman.attach.tc import TcFilter  # the attach code: not for `list` (test_cli_startup)

    return TcFilter(
        int(params["ifindex"]),
        str(params["direction"]),
        int(params["tc_priority"]),
        int(params["tc_handle"]),
        bool(params["tc_qdisc_created"]),
    )


def tc_siblings(mgr: Manager, link: LinkRecord) -> list[LinkRecord]:
    """The other bpfman tc links on *link*'s interface (both directions)."""
    return [
        other
        for other in mgr.store.links()
        if other.kind == BpfmanType.TC
        and other.id != link.id
        and other.params.get("netns_ino") == link.params.get("netns_ino")
        and other.params.get("ifindex") == link.params.get("ifindex")
    ]


def hand_on_qdisc(mgr: Manager, scope: WriterScope, link: LinkRecord) -> None:
    """*link* is gone: the clsact qdisc it created passes to its tc siblings (inside a
    transaction), so the last of them removes it."""
    if link.kind == BpfmanType.TC and link.params.get("tc_qdisc_created"):
        for other in tc_siblings(mgr, link):
            params = {**other.params, "tc_qdisc_created": True}
            mgr.store.update_link(other.id, other.kernel_link_id, params)
