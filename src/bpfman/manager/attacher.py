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
    filter_from,
    filter_params,
    in_netns,
    netns_gone,
    netns_ino,
    tc_siblings,
)
from bpfman.manager.models import BpfmanType, LinkRecord, ProgramRecord
from bpfman.manager.typetable import TYPES

if TYPE_CHECKING:
    from bpfman.link import Link
    from bpfman.manager.core import AttachSpec, Manager
    from bpfman.manager.lock import WriterScope
    from bpfman.manager.undo import Undo
    from bpfman.program import Program

# the types that attach to a network hook (xdp, tc, tcx)
NET_KINDS = tuple(BpfmanType(n) for n, row in TYPES.items() if row.hook is not None)


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
    kind = rec.kind
    if kind in NET_KINDS:
        return _attach_net(mgr, scope, rec, prog, p, link_id, undo)
    link: Link
    if kind == BpfmanType.TRACEPOINT:
        group, name = parse.tracepoint(str(p.get("tracepoint", "")))
        link = prog.attach_tracepoint(group, name)
        params: dict[str, Any] = {"tracepoint": f"{group}/{name}"}
    elif kind == BpfmanType.KPROBE:
        fn = p.get("fn_name")
        if not fn:
            raise InputError("kprobe attach needs --fn-name")
        offset = int(p.get("offset") or 0)
        if rec.retprobe and offset:
            raise InputError("--offset is not allowed for a kretprobe")
        link = prog.attach_kprobe(fn, offset=offset, retprobe=rec.retprobe)
        params = {"fn_name": fn, "offset": offset, "container_pid": p.get("container_pid")}
    elif kind == BpfmanType.UPROBE:
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
        params = {
            "target": target,
            "fn_name": p.get("fn_name"),
            "offset": int(p.get("offset") or 0),
            "pid": pid,
            "container_pid": cpid,
        }
    elif kind in (BpfmanType.FENTRY, BpfmanType.FEXIT):
        link = prog.attach_trace()
        params = {"fn_name": rec.attach_fn}
    else:  # pragma: no cover - every BpfmanType is handled above
        raise InputError(f"cannot attach a {rec.type_word} program")
    return _pin_link(mgr, link, link_id, params, undo)


def _pin_link(
    mgr: Manager, link: Link, link_id: int, params: dict[str, Any], undo: Undo
) -> AttachResult:
    from bpfman.manager import crash

    crash.point("attach:after-kernel")
    pin = mgr.paths.link_pin(link_id)
    with link:
        kernel_id = link.info().id
        link.pin(pin)
        undo.push(f"unpin {pin}", lambda: os.unlink(pin))
    return AttachResult(kernel_id, pin, params)


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
    params: dict[str, Any] = {"iface": iface, "priority": priority, "netns": netns}
    hook_ns = netns_ino(netns)
    fields = TYPES[rec.kind].attach_fields
    if "direction" in fields:  # tc, tcx
        params["direction"] = parse.direction(str(p.get("direction") or ""))
    if "proceed_on" in fields:  # xdp, tc
        params["proceed_on"] = parse.proceed_on(
            rec.kind, [str(x) for x in p.get("proceed_on") or []]
        )
    same_hook = [
        link
        for link in mgr.store.links()
        if link.kind == rec.kind
        and link.params.get("iface") == iface
        and link.params.get("direction") == params.get("direction")
        and link.params.get("netns_ino") == hook_ns
    ]
    params["netns_ino"] = hook_ns
    with in_netns(netns):
        if rec.kind == BpfmanType.TCX:
            return _attach_tcx(mgr, prog, params, same_hook, link_id, undo)
        from bpfman.manager import dispatchers

        if dispatchers.enabled():
            return dispatchers.attach(mgr, scope, rec, params, link_id, undo)
        if same_hook:
            from bpfman import features

            reason = features.dispatcher_unavailable_reason()
            raise PreconditionError(
                f"the {rec.type_word} hook of {iface} already runs bpfman link {same_hook[0].id}"
                f" (program {same_hook[0].program_id}): {reason}"
            )
        if rec.kind == BpfmanType.XDP:
            link = prog.attach_xdp(iface, mode=mgr.xdp_mode(iface))
            params["position"] = 0
            return _pin_link(mgr, link, link_id, params, undo)
        return _attach_tc(prog, params, undo)


def _attach_tcx(
    mgr: Manager,
    prog: Program,
    params: dict[str, Any],
    same_hook: list[LinkRecord],
    link_id: int,
    undo: Undo,
) -> AttachResult:
    from bpfman.link import Link

    existing = [(link.id, int(link.params.get("priority", 0))) for link in same_hook]
    existing = [(i, pr) for i in placement.order(existing) for j, pr in existing if j == i]
    where, relative = placement.tcx_insert(existing, int(params["priority"]))
    anchor = None
    if relative is not None:
        rel = mgr.link_record(relative)
        anchor = Link.from_pin(rel.pin_path or "")
    try:
        if where == "before":
            link = prog.attach_tcx(params["iface"], params["direction"], before=anchor)
        elif where == "after":
            link = prog.attach_tcx(params["iface"], params["direction"], after=anchor)
        else:
            link = prog.attach_tcx(params["iface"], params["direction"])
    finally:
        if anchor is not None:
            anchor.close()
    return _pin_link(mgr, link, link_id, params, undo)


def _attach_tc(prog: Program, params: dict[str, Any], undo: Undo) -> AttachResult:
    from bpfman.attach import tc

    link = prog.attach_tc(params["iface"], params["direction"])
    filt = tc.filter_of(link)
    params.update(filter_params(filt))
    params["position"] = 0
    link.disown()  # the filter stays after this process; the DB remembers it
    from bpfman.manager import crash

    crash.point("attach:after-kernel")
    undo.push("remove tc filter", lambda: tc.remove(filt))
    return AttachResult(None, None, params)


def detach(mgr: Manager, scope: WriterScope, link: LinkRecord) -> Updates:
    """Detach *link* in the kernel; returns the other links that changed (as ``updates``)."""
    if "dispatcher_id" in link.params:  # only then is it worth importing the dispatchers
        from bpfman.manager import dispatchers

        if dispatchers.is_member(link):
            return dispatchers.detach(mgr, scope, link)
    _detach_direct(mgr, link)
    return {}


def _detach_direct(mgr: Manager, link: LinkRecord) -> None:
    """Detach *link* in the kernel; a link already gone there is not an error.

    A tc link's clsact qdisc goes with the last bpfman filter on the interface
    when bpfman created it (the flag is handed on to the siblings by the caller).
    """
    from bpfman.link import Link

    if link.kind == BpfmanType.TC:
        from bpfman.attach import tc

        if netns_gone(link.params.get("netns")):
            return  # the filter went with its namespace
        filt = filter_from(link.params)
        last = filt.qdisc_created and not tc_siblings(mgr, link)
        with in_netns(link.params.get("netns")):
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
