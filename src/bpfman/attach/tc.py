"""TC: a direct-action bpf filter on an interface's clsact qdisc.

A TC filter is not a kernel bpf_link: ``TcLink`` stands in for one. Detaching
it (or closing it, or letting it be garbage-collected) deletes the filter,
and, when this process created the clsact qdisc and no filter at all is left
on it, the qdisc too. A qdisc that was there before is never removed, and a
classic ``ingress`` qdisc is never touched. A TC filter cannot be pinned:
``attach_tcx`` gives pinnable links on kernels >= 6.6.

The filter lives in the network namespace the attach ran in; the link keeps
an fd on that namespace and deletes the filter there, whatever namespace the
thread that detaches it is in.

A filter meant to outlive the process (the manager's) is handed over with
``filter_of(link)`` (a ``TcFilter`` value) + ``link.disown()`` and removed
later with ``remove(filter)``.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bpfman import _libbpf, netns
from bpfman._libbpf import lib
from bpfman.attach.types import require_type
from bpfman.errors import BpfError, from_errno
from bpfman.kinds import LinkType
from bpfman.link import Link, LinkInfo

if TYPE_CHECKING:
    from bpfman.program import Program

DIRECTIONS = {"ingress": _libbpf.BPF_TC_INGRESS, "egress": _libbpf.BPF_TC_EGRESS}
# parents of the clsact qdisc's filter lists (TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_*))
FILTER_PARENTS = {"ingress": 0xFFFFFFF2, "egress": 0xFFFFFFF3}
CLSACT_HANDLE = 0xFFFF0000


@dataclass(frozen=True)
class TcFilter:
    """What identifies a filter this process made, to remove it later (``remove``)."""

    ifindex: int
    direction: str  # "ingress" or "egress"
    priority: int
    handle: int
    qdisc_created: bool = False  # the clsact qdisc was made for it: remove it with the last


@dataclass
class _Hook:
    """This process's view of one interface's clsact qdisc."""

    created: bool = False  # we created it: ours to remove once no filter is left
    filters: int = 0  # our live TcLinks on it


# (netns inode, ifindex) -> _Hook
_hooks: dict[tuple[int, int], _Hook] = {}
_lock = threading.RLock()  # re-entrant: a TcLink's finalizer may run in a GC inside


def check_args(direction: str, priority: int, handle: int) -> None:
    if direction not in DIRECTIONS:
        raise BpfError(
            f"tc direction must be 'ingress' or 'egress', not {direction!r}", errno=_errno.EINVAL
        )
    if not 0 <= priority <= 0xFFFF:
        raise BpfError(f"tc priority {priority} is not in 0..65535", errno=_errno.EINVAL)
    if not 0 <= handle <= 0xFFFFFFFF:
        raise BpfError(f"tc handle {handle} is not a 32-bit number", errno=_errno.EINVAL)


def _hook(ifindex: int, attach_point: int) -> Any:
    return _libbpf.opts(_libbpf.bpf_tc_hook, ifindex=ifindex, attach_point=attach_point)


def qdisc_kind(ifindex: int) -> str:
    """ "clsact", "ingress" or "" for the qdisc at ffff: of *ifindex* (this netns)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        for q in ipr.get_qdiscs(index=ifindex):
            if q.get("handle") == CLSACT_HANDLE:
                return str(q.get_attr("TCA_KIND") or "")
    return ""


def count_filters(ifindex: int) -> int:
    """Filters (anyone's) on both directions of *ifindex*'s clsact qdisc, in this netns."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    n = 0
    with IPRoute() as ipr:
        for parent in FILTER_PARENTS.values():
            try:
                # a dump shows each priority's head (handle 0) and then its filters
                n += sum(1 for f in ipr.get_filters(index=ifindex, parent=parent) if f["handle"])
            except NetlinkError as e:
                if e.code not in (_errno.EINVAL, _errno.ENOENT, _errno.ENODEV):
                    raise
    return n


def _ensure_clsact(ifindex: int, name: str, direction: str) -> bool:
    """Make sure *ifindex* has a clsact qdisc; True when this call created it."""
    h = _hook(ifindex, _libbpf.BPF_TC_INGRESS | _libbpf.BPF_TC_EGRESS)
    with _libbpf.capture() as log:
        err = lib.bpf_tc_hook_create(ctypes.byref(h))
    if err == 0:
        return True
    if abs(err) != _errno.EEXIST:
        raise from_errno(f"cannot create a clsact qdisc on {name}", err, log)
    if direction == "egress" and qdisc_kind(ifindex) == "ingress":
        raise BpfError(
            f"cannot attach a tc egress filter on {name}: it has an 'ingress' qdisc, not "
            "clsact (remove it, or use tcx)",
            errno=_errno.EEXIST,
        )
    return False


def _remove_clsact_if_empty(ifindex: int) -> None:
    if count_filters(ifindex) > 0:
        return  # someone's filter still needs it
    h = _hook(ifindex, _libbpf.BPF_TC_INGRESS | _libbpf.BPF_TC_EGRESS)
    with _libbpf.capture() as log:
        err = lib.bpf_tc_hook_destroy(ctypes.byref(h))
    if err and abs(err) not in (_errno.ENOENT, _errno.ENODEV, _errno.EINVAL):
        raise from_errno(f"cannot remove the clsact qdisc of interface {ifindex}", err, log)


def _delete_filter(ifindex: int, direction: str, priority: int, handle: int) -> bool:
    """Delete one filter in this netns; False if it was already gone (or its qdisc, device)."""
    o = _libbpf.opts(_libbpf.bpf_tc_opts, handle=handle, priority=priority)
    tc_hook = _hook(ifindex, DIRECTIONS[direction])
    with _libbpf.capture() as log:
        err = lib.bpf_tc_detach(ctypes.byref(tc_hook), ctypes.byref(o))
    if not err:
        return True
    err = abs(err)
    if err in (_errno.ENOENT, _errno.ENODEV):
        return False
    if err == _errno.EINVAL and qdisc_kind(ifindex) == "":
        return False  # "parent qdisc doesn't exist": deleted with it
    raise from_errno(f"cannot delete tc {direction} filter on interface {ifindex}", err, log)


def remove_filter(
    ifindex: int,
    direction: str,
    priority: int,
    handle: int,
    qdisc_created: bool = False,
) -> bool:
    """Delete the filter at *priority*/*handle* of *ifindex*'s *direction* in this thread's
    netns.

    With *qdisc_created* the clsact qdisc goes too once no filter is left
    on it. Returns False when the filter was already gone.
    """
    with _lock:
        deleted = _delete_filter(ifindex, direction, priority, handle)
        if qdisc_created:
            _remove_clsact_if_empty(ifindex)
    return deleted


def remove(f: TcFilter) -> bool:
    """Delete the filter *f* describes (``filter_of``), as ``remove_filter`` does."""
    return remove_filter(f.ifindex, f.direction, f.priority, f.handle, f.qdisc_created)


def _forget(key: tuple[int, int], remove_qdisc: bool) -> None:
    """One of our filters on *key* is gone (or disowned): drop the qdisc if ours and empty."""
    state = _hooks.get(key)
    if state is None:
        return
    state.filters -= 1
    if state.filters > 0:
        return
    del _hooks[key]
    if state.created and remove_qdisc:
        _remove_clsact_if_empty(key[1])


def _remove(netns_fd: int, key: tuple[int, int], direction: str, prio: int, handle: int) -> None:
    """TcLink's finalizer: delete the filter in its netns, maybe its qdisc; closes *netns_fd*."""
    try:
        with _lock, netns.enter_fd(netns_fd):
            try:
                _delete_filter(key[1], direction, prio, handle)
            finally:
                _forget(key, remove_qdisc=True)
    finally:
        os.close(netns_fd)


class TcLink(Link):
    """A tc direct-action filter standing in for a link: detach/close delete it."""

    def __init__(
        self,
        *,
        ifindex: int,
        iface: str,
        direction: str,
        handle: int,
        priority: int,
        netns_fd: int,
        key: tuple[int, int],
    ) -> None:
        # No kernel link and no fd: Link.__init__ is not called, and every method that
        # would use the fd is overridden.
        self.description = f"tc {direction} {iface} prio {priority} handle {handle:#x}"
        self.pin_path = None
        self.ifindex = ifindex
        self.iface = iface
        self.direction = direction
        self.handle = handle
        self.priority = priority
        self._key = key
        self._netns_fd = netns_fd
        self._remover = weakref.finalize(self, _remove, netns_fd, key, direction, priority, handle)

    @property
    def fd(self) -> int:
        raise BpfError("a tc filter is not a kernel bpf_link: it has no fd")

    @property
    def closed(self) -> bool:
        return not self._remover.alive

    @property
    def id(self) -> int:
        return 0

    @property
    def qdisc_created(self) -> bool:
        """Whether this process created the clsact qdisc the filter sits on."""
        state = _hooks.get(self._key)
        return bool(state and state.created)

    def _check(self) -> None:
        if self.closed:
            raise BpfError(f"{self.description} is detached")

    def _opts(self, **kw: Any) -> Any:
        return _libbpf.opts(_libbpf.bpf_tc_opts, handle=self.handle, priority=self.priority, **kw)

    def _tc_hook(self) -> Any:
        return _hook(self.ifindex, DIRECTIONS[self.direction])

    def info(self) -> LinkInfo:
        self._check()
        o = self._opts()
        with netns.enter_fd(self._netns_fd), _libbpf.capture() as log:
            err = lib.bpf_tc_query(ctypes.byref(self._tc_hook()), ctypes.byref(o))
        if err:
            raise from_errno(f"cannot query {self.description}", err, log)
        details = {
            "ifindex": self.ifindex,
            "direction": self.direction,
            "handle": self.handle,
            "priority": self.priority,
        }
        return LinkInfo(0, LinkType.TC_FILTER, int(o.prog_id), details)

    def pin(self, path: str) -> None:
        raise BpfError(
            f"cannot pin {self.description}: a tc filter is not a kernel link "
            "(use attach_tcx for a pinnable link)",
            errno=_errno.EOPNOTSUPP,
        )

    def unpin(self, path: str | None = None) -> None:
        raise BpfError(f"{self.description} is not pinned (tc filters cannot be)")

    def update(self, program: Program, old: Program | None = None) -> None:
        """Replace the filter's program in place (same priority and handle)."""
        self._check()
        _check_type(program, self.iface)
        with netns.enter_fd(self._netns_fd):
            if old is not None and self.info().prog_id != old.id:
                raise BpfError(
                    f"cannot update {self.description}: it no longer runs {old.name}",
                    errno=_errno.EPERM,
                )
            o = self._opts(prog_fd=program.fd, flags=_libbpf.BPF_TC_F_REPLACE)
            with _libbpf.capture() as log:
                err = lib.bpf_tc_attach(ctypes.byref(self._tc_hook()), ctypes.byref(o))
        if err:
            raise from_errno(f"cannot update {self.description} to {program.name}", err, log)

    def detach(self) -> None:
        """Delete the filter (and the clsact qdisc we made, once empty)."""
        self._remover()

    def close(self) -> None:
        """Same as ``detach``: a tc filter cannot outlive its TcLink (see ``disown``)."""
        self._remover()

    def disown(self) -> None:
        """Leave the filter in the kernel past this TcLink, which becomes closed.

        Take ``filter_of(link)`` first: ``remove`` needs it later.
        """
        if self._remover.detach() is None:
            return
        with _lock:
            _forget(self._key, remove_qdisc=False)
        os.close(self._netns_fd)

    def __repr__(self) -> str:
        return f"<TcLink {self.description}{' detached' if self.closed else ''}>"


def filter_of(link: Link) -> TcFilter:
    """What identifies *link*'s filter, for ``remove``."""
    if not isinstance(link, TcLink):
        raise BpfError(f"{link!r} is not a tc filter")
    link._check()
    return TcFilter(link.ifindex, link.direction, link.priority, link.handle, link.qdisc_created)


def _check_type(prog: Program, name: str) -> None:
    require_type(prog, "tc", f"{name} as a tc filter")


def attach_tc(
    prog: Program, iface: str | int, direction: str = "ingress", priority: int = 0, handle: int = 0
) -> TcLink:
    check_args(direction, priority, handle)
    index = netns.ifindex(iface)
    name = iface if isinstance(iface, str) else netns.ifname(index)
    _check_type(prog, name)
    key = (netns.inode(), index)
    netns_fd = netns.open_fd()
    try:
        with _lock:
            created = _ensure_clsact(index, name, direction)
            state = _hooks.setdefault(key, _Hook())
            state.created |= created
            state.filters += 1
            o = _libbpf.opts(_libbpf.bpf_tc_opts, prog_fd=prog.fd, priority=priority, handle=handle)
            tc_hook = _hook(index, DIRECTIONS[direction])
            with _libbpf.capture() as log:
                err = lib.bpf_tc_attach(ctypes.byref(tc_hook), ctypes.byref(o))
            if err:
                _forget(key, remove_qdisc=True)
                where = f"{name} {direction}"
                if priority or handle:
                    where += f" (priority {priority}, handle {handle:#x})"
                raise from_errno(f"cannot attach tc program {prog.name} to {where}", err, log)
    except BaseException:
        os.close(netns_fd)
        raise
    return TcLink(
        ifindex=index,
        iface=name,
        direction=direction,
        handle=int(o.handle),
        priority=int(o.priority),
        netns_fd=netns_fd,
        key=key,
    )
