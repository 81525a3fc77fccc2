"""XDP: a program on an interface's receive path, attached as a kernel bpf_link.

Modes: ``drv`` (native, in the driver), ``skb`` (generic, after the skb is
built; works on every interface), ``hw`` (offloaded to the NIC). With
``fallback`` a ``drv`` attach that the driver cannot do is retried in ``skb``
mode; the link's ``mode`` says which one it got.
"""

from __future__ import annotations

import ctypes
import errno as _errno
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bpfman import _libbpf, _sys, netns
from bpfman._libbpf import lib
from bpfman.attach.types import require_type
from bpfman.errors import BpfError, from_errno
from bpfman.kinds import AttachType, LinkType
from bpfman.link import Link

if TYPE_CHECKING:
    from bpfman.program import Program

MODE_FLAGS = {
    "drv": _sys.XDP_FLAGS_DRV_MODE,
    "skb": _sys.XDP_FLAGS_SKB_MODE,
    "hw": _sys.XDP_FLAGS_HW_MODE,
}
_ATTACHED_MODE = {
    _libbpf.XDP_ATTACHED_DRV: "drv",
    _libbpf.XDP_ATTACHED_SKB: "skb",
    _libbpf.XDP_ATTACHED_HW: "hw",
    _libbpf.XDP_ATTACHED_MULTI: "multi",
}


def modes_to_try(mode: str, fallback: bool) -> list[str]:
    """The modes to attempt, in order, for a request of *mode*."""
    if mode not in MODE_FLAGS:
        raise BpfError(f"unknown XDP mode {mode!r} (drv, skb or hw)", errno=_errno.EINVAL)
    return ["drv", "skb"] if mode == "drv" and fallback else [mode]


def falls_back(err: int) -> bool:
    """Whether a failed native attach should be retried in generic mode.

    EOPNOTSUPP is the kernel's "driver does not support XDP in native mode";
    EBUSY/EEXIST (the hook is taken) must not be papered over by another mode.
    """
    return err == _errno.EOPNOTSUPP


@dataclass(frozen=True)
class XdpState:
    """What the kernel reports on an interface's XDP hook (0: no program)."""

    prog_id: int
    mode: str  # "", "drv", "skb", "hw" or "multi"
    drv_prog_id: int
    skb_prog_id: int
    hw_prog_id: int


def query(iface: str | int) -> XdpState:
    """The XDP programs on *iface* (in this thread's netns)."""
    index = netns.ifindex(iface)
    o = _libbpf.opts(_libbpf.bpf_xdp_query_opts)
    with _libbpf.capture() as log:
        err = lib.bpf_xdp_query(index, 0, ctypes.byref(o))
    if err:
        raise from_errno(f"cannot query XDP on {iface}", err, log)
    return XdpState(
        prog_id=o.prog_id,
        mode=_ATTACHED_MODE.get(o.attach_mode, ""),
        drv_prog_id=o.drv_prog_id,
        skb_prog_id=o.skb_prog_id,
        hw_prog_id=o.hw_prog_id,
    )


def _link_holding(ifindex: int, prog_id: int) -> int:
    """Id of the XDP bpf_link running *prog_id* on *ifindex*, 0 if none (netlink-attached)."""
    for link_id in _sys.ids("link"):
        try:
            link = Link.from_id(link_id)
        except BpfError:
            continue
        with link:
            info = link.info()
        if (
            info.type == LinkType.XDP
            and info.prog_id == prog_id
            and info.details.get("ifindex") == ifindex
        ):
            return info.id
    return 0


def owner_description(state: XdpState, link_id: int) -> str:
    """How the hook is held, for an error message."""
    ids = [p for p in (state.drv_prog_id, state.skb_prog_id, state.hw_prog_id) if p]
    prog_id = state.prog_id or (ids[0] if ids else 0)
    how = f"bpf_link id {link_id}" if link_id else "attached via netlink"
    mode = f", {state.mode} mode" if state.mode else ""
    return f"program id {prog_id} ({how}{mode})"


def _busy_error(name: str, ifindex: int, prog: Program, err: int) -> BpfError:
    try:
        state = query(ifindex)
    except BpfError:
        state = XdpState(0, "", 0, 0, 0)
    prog_id = state.prog_id or state.drv_prog_id or state.skb_prog_id or state.hw_prog_id
    holder = (
        owner_description(state, _link_holding(ifindex, prog_id)) if prog_id else "another program"
    )
    return BpfError(
        f"cannot attach XDP program {prog.name} to {name}: its XDP hook is already used by "
        f"{holder}",
        errno=err,
    )


class XdpLink(Link):
    """An XDP bpf_link; ``mode`` is the mode the kernel accepted ("drv", "skb" or "hw"; ""
    for a link reopened from a pin or an id: the kernel does not report it)."""

    def __init__(self, fd: int, *, ifindex: int, iface: str, mode: str) -> None:
        super().__init__(fd, description=f"xdp {iface}" + (f" ({mode})" if mode else ""))
        self.ifindex = ifindex
        self.iface = iface
        self.mode = mode


def attach_xdp(
    prog: Program, iface: str | int, mode: str = "drv", fallback: bool = True
) -> XdpLink:
    modes = modes_to_try(mode, fallback)
    index = netns.ifindex(iface)
    name = iface if isinstance(iface, str) else netns.ifname(index)
    require_type(prog, "xdp", f"{name} as XDP")
    for i, m in enumerate(modes):
        o = _libbpf.opts(_libbpf.bpf_link_create_opts, flags=MODE_FLAGS[m])
        with _libbpf.capture() as log:
            fd = lib.bpf_link_create(prog.fd, index, int(AttachType.XDP), ctypes.byref(o))
        if fd >= 0:
            return XdpLink(fd, ifindex=index, iface=name, mode=m)
        err = abs(fd) or _libbpf.errno()
        if err in (_errno.EBUSY, _errno.EEXIST):
            raise _busy_error(name, index, prog, err)
        if i + 1 < len(modes) and falls_back(err):
            continue
        what = f"cannot attach XDP program {prog.name} to {name} in {m} mode"
        if m == "hw" and err == _errno.EINVAL:
            what += " (hw mode needs a NIC that offloads XDP and a program loaded for it)"
        raise from_errno(what, err, log)
    raise AssertionError("unreachable")
