"""Links: a program attached to a hook, held by an fd (a kernel ``bpf_link``).

Closing the last fd of an unpinned link detaches it; a pinned link stays
attached until its pin is removed. ``detach()`` detaches now, pinned or not.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bpfman import _libbpf, _sys
from bpfman._handle import FdHandle
from bpfman._libbpf import lib
from bpfman.errors import ENOTSUPP, BpfError, from_errno
from bpfman.kinds import AttachType, LinkType, name_of

if TYPE_CHECKING:
    from bpfman.program import Program


@dataclass(frozen=True)
class LinkInfo:
    id: int
    type: LinkType | int
    prog_id: int
    details: dict[str, Any] = field(default_factory=dict)


def _decode_details(ltype: int, raw: bytes) -> dict[str, Any]:
    """The per-type part of ``struct bpf_link_info`` that pybpfman reports."""
    if ltype == LinkType.XDP:
        return {"ifindex": struct.unpack_from("=I", raw, 0)[0]}
    if ltype in (LinkType.TCX, LinkType.NETKIT):
        ifindex, attach_type = struct.unpack_from("=II", raw, 0)
        return {"ifindex": ifindex, "attach_type": attach_type}
    if ltype == LinkType.CGROUP:
        cgroup_id, attach_type = struct.unpack_from("=QI", raw, 0)
        return {"cgroup_id": cgroup_id, "attach_type": attach_type}
    if ltype == LinkType.TRACING:
        attach_type, target_obj_id, target_btf_id = struct.unpack_from("=III", raw, 0)
        return {
            "attach_type": attach_type,
            "target_obj_id": target_obj_id,
            "target_btf_id": target_btf_id,
        }
    if ltype == LinkType.NETNS:
        netns_ino, attach_type = struct.unpack_from("=II", raw, 0)
        return {"netns_ino": netns_ino, "attach_type": attach_type}
    if ltype == LinkType.NETFILTER:
        pf, hooknum, priority, flags = struct.unpack_from("=IIiI", raw, 0)
        return {"pf": pf, "hooknum": hooknum, "priority": priority, "flags": flags}
    if ltype == LinkType.PERF_EVENT:
        return {"perf_event_type": struct.unpack_from("=I", raw, 0)[0]}
    return {}


def _typed(fd: int, ltype: int, details: dict[str, Any]) -> Link | None:
    """The subclass the kernel's link type names (XDP, tcx) over *fd*; None for the others."""
    from bpfman import netns
    from bpfman.attach.tcx import TcxLink
    from bpfman.attach.xdp import XdpLink

    if ltype not in (LinkType.XDP, LinkType.TCX):
        return None
    ifindex = int(details["ifindex"])
    iface = netns.ifname(ifindex)  # "if<index>" when in another network namespace
    if ltype == LinkType.XDP:
        return XdpLink(fd, ifindex=ifindex, iface=iface, mode="")  # the kernel does not say
    egress = details["attach_type"] == AttachType.TCX_EGRESS
    return TcxLink(fd, ifindex=ifindex, iface=iface, direction="egress" if egress else "ingress")


class Link(FdHandle):
    """A kernel bpf_link held by an fd: a program attached to a hook.

    Closing the last fd of an unpinned link detaches it. A Link made from a
    program of an ``Object`` is owned by that Object too: it stays attached
    until ``detach()`` or the Object's ``close()``, whether or not the caller
    keeps it. A Link made from a standalone Program (``Program.from_pin`` ...)
    or reopened with ``from_pin``/``from_id`` lives as long as its reference.
    ``pin(path)`` keeps it attached beyond this process until ``unpin()``.
    Attributes: ``description`` (what it is attached to), ``pin_path``.

    The contract every attach kind keeps: ``info()``, ``pin(path)``/``unpin()``,
    ``update(program)``, ``detach()``, ``close()``; a kind that cannot do one
    raises ``BpfError`` with ``errno`` EOPNOTSUPP (a tc filter cannot be pinned, a
    USDT link has no single fd). ``from_pin``/``from_id`` return the subclass of
    the kernel's link type (``XdpLink``, ``TcxLink``) where there is one.
    """

    _missing_pin_ok = True  # detach() unpins: a pin someone removed already is fine

    def __init__(self, fd: int, *, description: str = "", pin_path: str | None = None) -> None:
        self.description = description
        self._init_handle(fd, pin_path=pin_path)

    def _label(self) -> str:
        return f"link {self.description}" if self.description else "link"

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_pin(cls, path: str) -> Link:
        """Reopen the link pinned at *path* (it stays pinned)."""
        return cls._reopened(_sys.obj_get(path), pin_path=path)

    @classmethod
    def from_id(cls, link_id: int) -> Link:
        """Open the kernel link with id *link_id* (this fd alone does not keep it attached
        longer than its other holders)."""
        return cls._reopened(_sys.fd_from_id("link", link_id))

    @classmethod
    def _reopened(cls, fd: int, pin_path: str | None = None) -> Link:
        """A Link over an fd of an existing link, described by its kernel type and id."""
        try:
            info = _sys.link_info(fd)
        except BaseException:
            os.close(fd)
            raise
        link = _typed(fd, info.type, _decode_details(info.type, bytes(info.union)))
        if link is None:
            kind = name_of(LinkType, info.type)
            link = Link(fd, description=f"{kind} id {info.id}")
        else:
            link.description += f" id {info.id}"
        link.pin_path = pin_path
        return link

    # ------------------------------------------------------------------ basics

    @property
    def id(self) -> int:
        """The kernel's id of the link."""
        return self.info().id

    def info(self) -> LinkInfo:
        """The kernel's facts about the link: id, type, program id, per-type details."""
        info = _sys.link_info(self.fd)
        try:
            ltype: LinkType | int = LinkType(info.type)
        except ValueError:
            ltype = info.type
        return LinkInfo(info.id, ltype, info.prog_id, _decode_details(info.type, bytes(info.union)))

    def update(self, program: Program, old: Program | None = None) -> None:
        """Replace the link's program atomically (with *old*: only if it still runs *old*)."""
        o = _libbpf.opts(_libbpf.bpf_link_update_opts)
        if old is not None:
            o.flags = _sys.BPF_F_REPLACE
            o.old_prog_fd = old.fd
        with _libbpf.capture() as log:
            err = lib.bpf_link_update(self.fd, program.fd, ctypes.byref(o))
        if err:
            raise from_errno(f"cannot update link to program {program.name}", err, log)

    def detach(self) -> None:
        """Detach from the hook now (even if pinned), remove its pin, and close."""
        if self.closed:
            return
        try:
            _sys.link_detach(self._fd)
        except BpfError as e:
            # perf-event links have no detach operation: closing the last reference does it
            if e.errno not in (_errno.EOPNOTSUPP, _errno.EINVAL, ENOTSUPP):
                raise
        if self.pin_path:
            self.unpin()
        self.close()

    def __repr__(self) -> str:
        parts = [self.description or "link"]
        if self.pin_path:
            parts.append(f"pinned at {self.pin_path}")
        parts.append("closed" if self.closed else f"fd={self._fd}")
        return f"<Link {' '.join(parts)}>"
