"""TCX (Linux >= 6.6): tc programs attached as kernel bpf_links, in a chain with an order.

``before``/``after`` place the new program next to a program or a link
already on the hook (neither: at the end). A program returning ``TCX_NEXT``
(-1) hands the packet to the next one; any other verdict ends the chain.
libbpf 1.1 has no tcx API: the links are made with raw ``BPF_LINK_CREATE``.
"""

from __future__ import annotations

import errno as _errno
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bpfman import _sys, features, netns
from bpfman.attach.types import require_type
from bpfman.errors import BpfError
from bpfman.kinds import AttachType
from bpfman.link import Link

if TYPE_CHECKING:
    from bpfman.program import Program

DIRECTIONS = {"ingress": AttachType.TCX_INGRESS, "egress": AttachType.TCX_EGRESS}


def attach_type(direction: str) -> AttachType:
    try:
        return DIRECTIONS[direction]
    except KeyError:
        raise BpfError(
            f"tcx direction must be 'ingress' or 'egress', not {direction!r}", errno=_errno.EINVAL
        ) from None


def order_flags(position: str | None, relative_is_link: bool) -> int:
    """``BPF_LINK_CREATE`` flags for *position* ("before", "after" or None: append)."""
    if position is None:
        return 0
    flags = {"before": _sys.BPF_F_BEFORE, "after": _sys.BPF_F_AFTER}[position]
    return flags | (_sys.BPF_F_LINK if relative_is_link else 0)


@dataclass(frozen=True)
class Chain:
    """The programs on a tcx hook, first to run first."""

    prog_ids: list[int]
    link_ids: list[int]  # 0 for a program attached without a link
    revision: int  # 1 on an empty hook, +1 per change


def query(iface: str | int, direction: str = "ingress") -> Chain:
    """The tcx chain of *iface* (in this thread's netns)."""
    at = attach_type(direction)
    index = netns.ifindex(iface)
    try:
        prog_ids, link_ids, revision = _sys.prog_query(index, int(at))
    except BpfError as e:
        features.require("tcx")  # KernelFeatureError(feature="tcx") before 6.6
        raise BpfError(f"cannot query tcx {direction} of {iface}: {e}", errno=e.errno) from None
    return Chain(prog_ids, link_ids, revision)


class TcxLink(Link):
    """A tcx bpf_link on one interface and direction."""

    def __init__(self, fd: int, *, ifindex: int, iface: str, direction: str) -> None:
        super().__init__(fd, description=f"tcx {direction} {iface}")
        self.ifindex = ifindex
        self.iface = iface
        self.direction = direction


def _relative(
    before: Program | Link | None, after: Program | Link | None
) -> tuple[str | None, Program | Link | None]:
    if before is not None and after is not None:
        raise BpfError("give before= or after=, not both", errno=_errno.EINVAL)
    if before is not None:
        return "before", before
    if after is not None:
        return "after", after
    return None, None


def attach_tcx(
    prog: Program,
    iface: str | int,
    direction: str = "ingress",
    before: Program | Link | None = None,
    after: Program | Link | None = None,
) -> TcxLink:
    at = attach_type(direction)
    position, relative = _relative(before, after)
    index = netns.ifindex(iface)
    name = iface if isinstance(iface, str) else netns.ifname(index)
    require_type(prog, "tcx", f"{name} as tcx")
    flags = order_flags(position, isinstance(relative, Link))
    rel_fd = relative.fd if relative is not None else 0
    try:
        fd = _sys.link_create_tcx(prog.fd, index, int(at), flags=flags, relative=rel_fd)
    except BpfError as e:
        features.require("tcx")  # KernelFeatureError(feature="tcx") before 6.6
        where = f"{name} tcx {direction}"
        if position and relative is not None:
            what = "link" if isinstance(relative, Link) else "program"
            rel_name = getattr(relative, "name", None) or getattr(relative, "description", "")
            where += f" {position} {what} {rel_name}"
            if e.errno == _errno.ENOENT:
                raise BpfError(
                    f"cannot attach {prog.name} to {where}: that {what} is not on this hook",
                    errno=e.errno,
                ) from None
        reason = os.strerror(e.errno) if e.errno else str(e)
        raise BpfError(f"cannot attach {prog.name} to {where}: {reason}", errno=e.errno) from None
    return TcxLink(fd, ifindex=index, iface=name, direction=direction)
