"""Attach and detach for each bpfman program type: library calls, pins, parameters to store."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

from bpfman.errors import BpfError
from bpfman.manager import parse, placement
from bpfman.manager.errors import InputError, PreconditionError
from bpfman.manager.hooks import (
    AttachResult,
    Updates,
    filter_of,
    filter_record,
    in_netns,
    netns_gone,
    netns_ino,
    tc_siblings,
)
from bpfman.manager.models import NET_KINDS as NET_KINDS  # (attacher.NET_KINDS: callers')
from bpfman.manager.models import (
    Attach,
    BpfmanType,
    FentryAttach,
    KprobeAttach,
    LinkRecord,
    NetAttach,
    NetHook,
    ProgramRecord,
    TracepointAttach,
    UprobeAttach,
    optional_int,
)
from bpfman.manager.typetable import TYPES

if TYPE_CHECKING:
    from collections.abc import Callable

    from bpfman.link import Link
    from bpfman.manager.core import AttachSpec, Manager
    from bpfman.manager.lock import WriterScope
    from bpfman.manager.undo import Undo
    from bpfman.program import Program

    Attacher = Callable[[ProgramRecord, Program, dict[str, Any]], tuple[Link, Attach]]


def attach(
    mgr: Manager,
    scope: WriterScope,
    rec: ProgramRecord,
    prog: Program,
    req: AttachSpec,
    link_id: int,
    undo: Undo,
) -> AttachResult:
    p = dict(req.params)
    if rec.kind in NET_KINDS:
        return _attach_net(mgr, scope, rec, prog, p, link_id, undo)
    attacher = ATTACHERS.get(rec.kind)
    if attacher is None:  # pragma: no cover - every BpfmanType is a net kind or has one
        raise InputError(f"cannot attach a {rec.type_word} program")
    link, attached = attacher(rec, prog, p)
    return _pin_link(mgr, link, link_id, attached, undo)


def _attach_tracepoint(
    rec: ProgramRecord, prog: Program, p: dict[str, Any]
) -> tuple[Link, TracepointAttach]:
    group, name = parse.tracepoint(str(p.get("tracepoint", "")))
    return prog.attach_tracepoint(group, name), TracepointAttach(f"{group}/{name}")


def _attach_kprobe(
    rec: ProgramRecord, prog: Program, p: dict[str, Any]
) -> tuple[Link, KprobeAttach]:
    fn = p.get("fn_name")
    if not fn:
        raise InputError("kprobe attach needs --fn-name")
    offset = int(p.get("offset") or 0)
    if rec.retprobe and offset:
        raise InputError("--offset is not allowed for a kretprobe")
    link = prog.attach_kprobe(fn, offset=offset, retprobe=rec.retprobe)
    return link, KprobeAttach(fn, offset, optional_int(p.get("container_pid")))


def _attach_uprobe(
    rec: ProgramRecord, prog: Program, p: dict[str, Any]
) -> tuple[Link, UprobeAttach]:
    target = p.get("target")
    if not target:
        raise InputError("uprobe attach needs --target")
    cpid = p.get("container_pid")
    resolved = _in_container(str(target), cpid)
    pid = p.get("pid")
    link = prog.attach_uprobe(
        resolved,
        fn=p.get("fn_name") or None,
        offset=int(p.get("offset") or 0),
        pid=int(pid) if pid else -1,
        retprobe=rec.retprobe,
    )
    attached = UprobeAttach(
        target,
        p.get("fn_name"),
        int(p.get("offset") or 0),
        optional_int(pid),
        optional_int(cpid),
    )
    return link, attached


def _attach_trampoline(
    rec: ProgramRecord, prog: Program, p: dict[str, Any]
) -> tuple[Link, FentryAttach]:
    """fentry/fexit: the kernel function was given at load (``rec.attach_fn``)."""
    return prog.attach_trace(), FentryAttach(rec.attach_fn)


# how each type that attaches alone (not to a network hook: NET_KINDS) attaches: the link
# and the record to store (tests/test_typetable.py: every type is one or the other)
ATTACHERS: dict[BpfmanType, Attacher] = {
    BpfmanType.TRACEPOINT: _attach_tracepoint,
    BpfmanType.KPROBE: _attach_kprobe,
    BpfmanType.UPROBE: _attach_uprobe,
    BpfmanType.FENTRY: _attach_trampoline,
    BpfmanType.FEXIT: _attach_trampoline,
}


def _pin_link(mgr: Manager, link: Link, link_id: int, attached: Attach, undo: Undo) -> AttachResult:
    from bpfman.manager import crash

    crash.point("attach:after-kernel")
    pin = mgr.paths.link_pin(link_id)
    with link:
        kernel_id = link.info().id
        link.pin(pin)
        undo.push(f"unpin {pin}", lambda: os.unlink(pin))
    return AttachResult(kernel_id, pin, attached)


def _in_container(target: str, container_pid: Any) -> str:
    """A uprobe target inside another process's mount namespace, reached via /proc/PID/root."""
    if not container_pid:
        return target
    root = f"/proc/{int(container_pid)}/root"
    if not os.path.isdir(root):
        raise InputError(f"--container-pid {container_pid}: no such process")
    if target.startswith("/"):
        return root + target
    from bpfman import elf

    return elf.resolve_library(target, root=root)


def _attach_net(
    mgr: Manager,
    scope: WriterScope,
    rec: ProgramRecord,
    prog: Program,
    p: dict[str, Any],
    link_id: int,
    undo: Undo,
) -> AttachResult:
    iface = p.get("iface")
    if not iface:
        raise InputError(f"{rec.type_word} attach needs --iface")
    priority = parse.priority(int(p.get("priority") or 0))
    netns = p.get("netns") or None
    fields = TYPES[rec.kind].attach_fields
    direction = None
    if "direction" in fields:  # tc, tcx
        direction = parse.direction(str(p.get("direction") or ""))
    proceed_on = None
    if "proceed_on" in fields:  # xdp, tc
        proceed_on = tuple(parse.proceed_on(rec.kind, [str(x) for x in p.get("proceed_on") or []]))
    hook = NetHook(str(iface), netns, netns_ino(netns), direction)
    same_hook = [
        link
        for link in mgr.store.links()
        if link.kind == rec.kind
        and link.net is not None
        and link.net.hook.iface == hook.iface
        and link.net.hook.direction == hook.direction
        and link.net.hook.netns_ino == hook.netns_ino
    ]
    net = NetAttach(hook, priority, proceed_on)
    with in_netns(netns):
        if rec.kind == BpfmanType.TCX:
            return _attach_tcx(mgr, prog, net, same_hook, link_id, undo)
        from bpfman.manager import dispatchers

        if dispatchers.enabled():
            return dispatchers.attach(mgr, scope, rec, net, link_id, undo)
        if same_hook:
            from bpfman import features

            reason = features.dispatcher_unavailable_reason()
            raise PreconditionError(
                f"the {rec.type_word} hook of {iface} already runs bpfman link {same_hook[0].id}"
                f" (program {same_hook[0].program_id}): {reason}"
            )
        if rec.kind == BpfmanType.XDP:
            link = prog.attach_xdp(hook.iface, mode=mgr.xdp_mode(hook.iface))
            return _pin_link(mgr, link, link_id, dataclasses.replace(net, position=0), undo)
        return _attach_tc(prog, net, undo)


def _attach_tcx(
    mgr: Manager,
    prog: Program,
    net: NetAttach,
    same_hook: list[LinkRecord],
    link_id: int,
    undo: Undo,
) -> AttachResult:
    from bpfman.link import Link

    existing = [(link.id, link.net.priority) for link in same_hook if link.net is not None]
    existing = [(i, pr) for i in placement.order(existing) for j, pr in existing if j == i]
    where, relative = placement.tcx_insert(existing, net.priority)
    anchor = None
    if relative is not None:
        rel = mgr.link_record(relative)
        anchor = Link.from_pin(rel.pin_path or "")
    iface, direction = net.hook.iface, str(net.hook.direction)
    try:
        if where == "before":
            link = prog.attach_tcx(iface, direction, before=anchor)
        elif where == "after":
            link = prog.attach_tcx(iface, direction, after=anchor)
        else:
            link = prog.attach_tcx(iface, direction)
    finally:
        if anchor is not None:
            anchor.close()
    return _pin_link(mgr, link, link_id, net, undo)


def _attach_tc(prog: Program, net: NetAttach, undo: Undo) -> AttachResult:
    from bpfman.attach import tc

    link = prog.attach_tc(net.hook.iface, str(net.hook.direction))
    filt = tc.filter_of(link)
    hook = dataclasses.replace(net.hook, ifindex=filt.ifindex)
    attached = dataclasses.replace(net, hook=hook, position=0, filter=filter_record(filt))
    link.disown()  # the filter stays after this process; the DB remembers it
    from bpfman.manager import crash

    crash.point("attach:after-kernel")
    undo.push("remove tc filter", lambda: tc.remove(filt))
    return AttachResult(None, None, attached)


def detach(mgr: Manager, scope: WriterScope, link: LinkRecord) -> Updates:
    """Detach *link* in the kernel; returns the other links that changed (as ``updates``)."""
    if link.net is not None and link.net.dispatcher is not None:
        from bpfman.manager import dispatchers

        return dispatchers.detach(mgr, scope, link)
    _detach_direct(mgr, link)
    return {}


def _detach_direct(mgr: Manager, link: LinkRecord) -> None:
    """Detach *link* in the kernel; a link already gone there is not an error.

    A tc link's clsact qdisc goes with the last bpfman filter on the interface
    when bpfman created it (the flag is handed on to the siblings by the caller).
    """
    from bpfman.link import Link

    if link.kind == BpfmanType.TC and link.net is not None and link.net.filter is not None:
        from bpfman.attach import tc

        if netns_gone(link.net.hook.netns):
            return  # the filter went with its namespace
        filt = filter_of(link.net)
        last = filt.qdisc_created and not tc_siblings(mgr, link)
        with in_netns(link.net.hook.netns):
            tc.remove(dataclasses.replace(filt, qdisc_created=last))
        return
    if not link.pin_path or not os.path.exists(link.pin_path):
        return
    try:
        kernel_link = Link.from_pin(link.pin_path)
    except BpfError:
        os.unlink(link.pin_path)
        return
    kernel_link.detach()
