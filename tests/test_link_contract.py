"""One contract for every kind of link this kernel makes (cilium/ebpf's testLink, in spirit).

Each kind: the attach method returns its own class; ``info()`` names the
program; ``pin``/``unpin`` remember the path, and the pin reopens
(``Link.from_pin``) as the class of the kernel's link type with the same id,
or the kind refuses with EOPNOTSUPP; ``close()`` makes ``fd`` an error and
``closed`` true; the ``with`` block closes.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from contextlib import ExitStack

import pytest

import bpfman
from bpfman.attach.tc import TcLink
from bpfman.attach.tcx import TcxLink
from bpfman.attach.xdp import XdpLink
from bpfman.errors import BpfError
from support.net import VethPair

Attach = Callable[[ExitStack, "Context"], tuple[bpfman.Program, bpfman.Link]]


class Context:
    def __init__(self, bpf_obj: Callable[[str], str], veth: VethPair) -> None:
        self.bpf_obj = bpf_obj
        self.veth = veth

    def load(self, stack: ExitStack, name: str, *programs: str) -> bpfman.Object:
        spec = stack.enter_context(bpfman.open(self.bpf_obj(name)))
        for ps in spec.programs.values():
            ps.autoload = ps.name in programs
        return stack.enter_context(spec.load())


def _tracepoint(stack: ExitStack, c: Context) -> tuple[bpfman.Program, bpfman.Link]:
    prog = c.load(stack, "basic", "count_kill").programs["count_kill"]
    return prog, prog.attach_tracepoint("syscalls", "sys_enter_kill")


def _raw_tp(stack: ExitStack, c: Context) -> tuple[bpfman.Program, bpfman.Link]:
    prog = c.load(stack, "basic", "count_raw").programs["count_raw"]
    return prog, prog.attach_raw_tracepoint("sys_enter")


def _uprobe(stack: ExitStack, c: Context) -> tuple[bpfman.Program, bpfman.Link]:
    prog = c.load(stack, "tracing", "uprobe_abs").programs["uprobe_abs"]
    return prog, prog.attach()  # uprobe/libc.so.6:abs


def _xdp(stack: ExitStack, c: Context) -> tuple[bpfman.Program, bpfman.Link]:
    prog = c.load(stack, "net", "xdp_pass").programs["xdp_pass"]
    return prog, prog.attach_xdp(c.veth.host, mode="skb")


def _tc(stack: ExitStack, c: Context) -> tuple[bpfman.Program, bpfman.Link]:
    prog = c.load(stack, "net", "tc_ingress").programs["tc_ingress"]
    return prog, prog.attach_tc(c.veth.host, "ingress")


def _tcx(stack: ExitStack, c: Context) -> tuple[bpfman.Program, bpfman.Link]:
    prog = c.load(stack, "net", "tcx_a").programs["tcx_a"]
    return prog, prog.attach_tcx(c.veth.host, "egress")


# kind -> (attach, the class attach returns, the class from_pin returns or None: no pins)
KINDS: dict[str, tuple[Attach, type[bpfman.Link], type[bpfman.Link] | None]] = {
    "tracepoint": (_tracepoint, bpfman.Link, bpfman.Link),
    "raw_tp": (_raw_tp, bpfman.Link, bpfman.Link),
    "uprobe": (_uprobe, bpfman.Link, bpfman.Link),
    "xdp": (_xdp, XdpLink, XdpLink),
    "tc": (_tc, TcLink, None),
    "tcx": (_tcx, TcxLink, TcxLink),
}
NEEDS = {"tcx": "tcx"}  # kinds not every kernel has (tcx: Linux 6.6)


@pytest.mark.parametrize(
    "kind",
    [pytest.param(k, marks=pytest.mark.requires(NEEDS[k])) if k in NEEDS else k for k in KINDS],
)
def test_link_contract(kind: str, bpf_obj, veth: VethPair, pin_dir: str) -> None:
    attach, made, reopened = KINDS[kind]
    with ExitStack() as stack:
        prog, link = attach(stack, Context(bpf_obj, veth))
        assert type(link) is made
        assert not link.closed and link.pin_path is None and not link.is_pinned
        assert link.info().prog_id == prog.id
        path = os.path.join(pin_dir, kind)
        if reopened is None:
            with pytest.raises(BpfError) as e:
                link.pin(path)
            assert e.value.errno == errno.EOPNOTSUPP
            assert not os.path.exists(path)
        else:
            link.pin(path)
            assert link.pin_path == path and link.is_pinned
            with bpfman.Link.from_pin(path) as again:
                assert type(again) is reopened and again.pin_path == path
                assert again.info().id == link.info().id == link.id
                assert again.info().prog_id == prog.id
            assert not link.closed  # closing another fd of the link leaves this one
            link.unpin()
            assert link.pin_path is None and not os.path.exists(path)
            with pytest.raises(BpfError, match="not pinned"):
                link.unpin()
        with link:
            pass
        assert link.closed
        with pytest.raises(BpfError, match=r"closed|detached|no fd"):
            link.fd  # noqa: B018
        link.close()  # closing twice is fine


@pytest.mark.requires("tcx")
def test_reopened_net_links_say_where_they_are(bpf_obj, veth: VethPair, pin_dir: str) -> None:
    """from_pin/from_id: an XdpLink/TcxLink with the interface and direction the kernel names."""
    with ExitStack() as stack:
        c = Context(bpf_obj, veth)
        _, xdp = _xdp(stack, c)
        _, tcx = _tcx(stack, c)
        xdp.pin(f"{pin_dir}/xdp")
        with XdpLink.from_pin(f"{pin_dir}/xdp") as again:
            assert isinstance(again, XdpLink)
            assert (again.ifindex, again.iface, again.mode) == (veth.host_index, veth.host, "")
        with bpfman.Link.from_id(tcx.id) as again:
            assert isinstance(again, TcxLink)
            assert (again.ifindex, again.iface, again.direction) == (
                veth.host_index,
                veth.host,
                "egress",
            )
        xdp.unpin()
