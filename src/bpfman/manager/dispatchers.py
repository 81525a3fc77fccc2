"""The manager's side of dispatchers: xdp and tc links as members of a hook's dispatcher.

Used where the kernel loads extension programs (``enabled()``); elsewhere
xdp and tc attach one program per hook directly (``attacher``).

A member link's ``NetAttach`` keeps what the next revision needs: its
priority, proceed_on and position, and the hook's running revision (its
``DispatcherRecord``: the dispatcher id; xdp: the mode; tc: the handle of the
filter at priority 50 and whether bpfman created the qdisc). Its
``kernel_link_id`` is its freplace link, which changes with every revision;
it has no pin of its own (the revision's directory holds them, see
``bpfman.dispatch.revision``).

The program a user loads stays loaded as xdp / sched_cls (listed, pinned,
reported as such); the dispatcher runs an extension copy of it, loaded from
the same object file with the same globals and sharing its maps, once per
link and reattached to every later revision.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import TYPE_CHECKING

from bpfman.dispatch import MAX_PROGRAMS, Hook, Member, Slot, State, revision
from bpfman.manager import crash
from bpfman.manager.errors import PreconditionError
from bpfman.manager.hooks import AttachResult, Updates, in_netns, tc_siblings
from bpfman.manager.models import (
    BpfmanType,
    DispatcherRecord,
    LinkRecord,
    NetAttach,
    NetHook,
    ProgramRecord,
)
from bpfman.manager.typetable import TYPES

if TYPE_CHECKING:
    from bpfman.manager.core import Manager
    from bpfman.manager.lock import WriterScope
    from bpfman.manager.undo import Undo
    from bpfman.program import Program

def enabled() -> bool:
    from bpfman import features

    return features.available("freplace")


def is_member(link: LinkRecord) -> bool:
    return (
        TYPES[link.kind].dispatcher is not None
        and link.net is not None
        and link.net.dispatcher is not None
    )


def hook_of(mgr: Manager, kind: BpfmanType, hook: NetHook) -> Hook:
    dispatcher = TYPES[kind].dispatcher
    assert dispatcher is not None, kind
    return Hook(
        dispatcher,
        int(hook.ifindex or 0),
        mgr.paths.fs,
        netns_ino=hook.netns_ino,
        direction=hook.direction or "",
    )


def members_of(mgr: Manager, kind: BpfmanType, hook: NetHook, exclude: int = 0) -> list[LinkRecord]:
    """The member links of *hook* (but *exclude*)."""
    return [
        link
        for link in mgr.store.links()
        if link.kind == kind
        and is_member(link)
        and link.id != exclude
        and link.net is not None
        and link.net.hook.ifindex == hook.ifindex
        and link.net.hook.netns_ino == hook.netns_ino
        and link.net.hook.direction == hook.direction
    ]


def _net(link: LinkRecord) -> NetAttach:
    """A member link's record (members are net links)."""
    if link.net is None:
        raise TypeError(f"link {link.id} is not attached to a network hook")
    return link.net


def current_state(links: list[LinkRecord]) -> State | None:
    """The running revision, as the member links recorded it."""
    if not links:
        return None
    nets = [_net(link) for link in links]
    disp = nets[0].dispatcher or DispatcherRecord(0)
    return State(
        dispatcher_id=disp.dispatcher_id,
        positions={link.id: int(net.position or 0) for link, net in zip(links, nets, strict=True)},
        link_ids={link.id: link.kernel_link_id for link in links if link.kernel_link_id},
        tc_handle=disp.tc_handle,
        qdisc_created=any(net.qdisc_created for net in nets),
        mode=disp.xdp_mode,
    )


def _loader(mgr: Manager, rec: ProgramRecord, disp: Program, stub: str) -> Program:
    """Load *rec*'s program as an extension of *stub*, sharing the loaded program's maps."""
    from bpfman.dispatch.extension import load_extension

    path = rec.path
    if not path and rec.image_url and rec.image_digest:
        from bpfman import images

        path = images.object_of(mgr.paths.root, rec.image_url, rec.image_digest)
    if not path:
        raise PreconditionError(
            f"program {rec.id} has no bytecode file to load into a dispatcher (image: reload it)"
        )
    with mgr.open_program(rec) as loaded:
        return load_extension(
            path,
            rec.name,
            disp,
            stub,
            share_maps_of=loaded,
            maps_dir=rec.map_pin_path,
            globals=rec.globals,
        )


def _member(mgr: Manager, rec: ProgramRecord, link_id: int, net: NetAttach) -> Member:
    position = net.position if net.dispatcher is not None else None
    slot = Slot(link_id, net.priority, rec.name, net.proceed_on or (), position)
    return Member(slot, functools.partial(_loader, mgr, rec))


def _members(mgr: Manager, links: list[LinkRecord]) -> list[Member]:
    out = []
    for link in links:
        rec = mgr.program_record(link.program_id)
        out.append(_member(mgr, rec, link.id, _net(link)))
    return out


def _in_revision(kind: BpfmanType, state: State, link_id: int, net: NetAttach) -> NetAttach:
    """*net* as a member of the revision *state* (its slot, the hook's dispatcher)."""
    if kind == BpfmanType.XDP:
        disp = DispatcherRecord(state.dispatcher_id, xdp_mode=state.mode)
    else:
        disp = DispatcherRecord(
            state.dispatcher_id, tc_handle=state.tc_handle, qdisc_created=state.qdisc_created
        )
    return dataclasses.replace(net, position=state.positions[link_id], dispatcher=disp)


def _updates(kind: BpfmanType, state: State | None, links: list[LinkRecord]) -> Updates:
    if state is None:
        return {}
    return {
        link.id: (state.link_ids[link.id], _in_revision(kind, state, link.id, _net(link)))
        for link in links
    }


def attach(
    mgr: Manager,
    scope: WriterScope,
    rec: ProgramRecord,
    net: NetAttach,
    link_id: int,
    undo: Undo,
) -> AttachResult:
    """Add link *link_id* of *rec* to its hook's dispatcher (inside the hook's netns)."""
    from bpfman import netns

    iface = net.hook.iface
    net = dataclasses.replace(net, hook=dataclasses.replace(net.hook, ifindex=netns.ifindex(iface)))
    links = members_of(mgr, rec.kind, net.hook)
    if len(links) >= MAX_PROGRAMS:
        raise PreconditionError(
            f"the {rec.type_word} hook of {iface} already runs {len(links)} programs "
            f"(links {', '.join(str(link.id) for link in links)}): "
            f"a dispatcher runs at most {MAX_PROGRAMS}"
        )
    hook = hook_of(mgr, rec.kind, net.hook)
    current = current_state(links)
    members = [*_members(mgr, links), _member(mgr, rec, link_id, net)]
    state = revision.apply(hook, members, current, xdp_mode=mgr.xdp_mode(iface))
    assert state is not None
    crash.point("attach:after-kernel")
    undo.push(
        "restore the hook's previous dispatcher",
        functools.partial(_restore, mgr, scope, rec.kind, hook, links, state, net.hook.netns),
    )
    attached = _in_revision(rec.kind, state, link_id, net)
    return AttachResult(state.link_ids[link_id], None, attached, _updates(rec.kind, state, links))


def _restore(
    mgr: Manager,
    scope: WriterScope,
    kind: BpfmanType,
    hook: Hook,
    links: list[LinkRecord],
    state: State,
    netns: str | None,
) -> None:
    """Undo an attach: the hook runs *links* again, as a fresh revision."""
    moved = [
        LinkRecord(
            link.id,
            link.program_id,
            link.kind,
            state.link_ids.get(link.id),
            None,
            dataclasses.replace(_net(link), position=state.positions[link.id]),
        )
        for link in links
    ]
    with in_netns(netns):
        restored = revision.apply(hook, _members(mgr, moved), state, xdp_mode=state.mode or "drv")
    with mgr.store.transaction():
        mgr.store.update_links(_updates(kind, restored, moved))


def _hook_gone(hook: NetHook) -> bool:
    """Whether the hook's interface (or its network namespace) no longer exists."""
    import socket

    path = hook.netns
    if path and not os.path.exists(path):
        return True
    with in_netns(path):
        try:
            socket.if_indextoname(int(hook.ifindex or 0))
        except OSError:
            return True
    return False


def detach(mgr: Manager, scope: WriterScope, link: LinkRecord) -> Updates:
    """Take *link* off its hook's dispatcher; the hook's other links' new records."""
    fresh = mgr.store.link(link.id) or link  # an earlier detach may have moved it
    net = _net(fresh)
    if _hook_gone(net.hook):  # the kernel dropped the hook with the interface: only pins left
        disp = net.dispatcher or DispatcherRecord(0)
        revision.forget(hook_of(mgr, fresh.kind, net.hook), disp.dispatcher_id)
        return {}
    keeps_qdisc = fresh.kind == BpfmanType.TC and any(
        not is_member(s) or _net(s).hook.direction != net.hook.direction
        for s in tc_siblings(mgr, fresh)
    )
    others = members_of(mgr, fresh.kind, net.hook, exclude=fresh.id)
    return _reapply(mgr, scope, fresh, others, [fresh, *others], remove_qdisc=not keeps_qdisc)


def rebuild(mgr: Manager, scope: WriterScope, link: LinkRecord) -> Updates:
    """Swap in a fresh revision of *link*'s hook from the database (gc's repair)."""
    links = [link, *members_of(mgr, link.kind, _net(link).hook, exclude=link.id)]
    return _reapply(mgr, scope, link, links, links)


def _reapply(
    mgr: Manager,
    scope: WriterScope,
    link: LinkRecord,
    links: list[LinkRecord],
    running: list[LinkRecord],
    *,
    remove_qdisc: bool = True,
) -> Updates:
    """Make *links* what *link*'s hook runs, replacing the revision *running* records."""
    net = _net(link)
    with in_netns(net.hook.netns):
        state = revision.apply(
            hook_of(mgr, link.kind, net.hook),
            _members(mgr, links),
            current_state(running),
            xdp_mode=(net.dispatcher.xdp_mode if net.dispatcher else "") or "drv",
            remove_qdisc=remove_qdisc,
        )
    return _updates(link.kind, state, links)
