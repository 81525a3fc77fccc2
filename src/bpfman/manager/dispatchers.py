"""The manager's side of dispatchers: xdp and tc links as members of a hook's dispatcher.

Used where the kernel loads extension programs (``enabled()``); elsewhere
xdp and tc attach one program per hook directly (``attacher``).

A member link's params keep what the next revision needs: its priority,
proceed_on and position, and the hook's running revision (``dispatcher_id``;
xdp: ``xdp_mode``; tc: ``dispatcher_handle`` of the filter at priority 50 and
``tc_qdisc_created``). Its ``kernel_link_id`` is its freplace link, which
changes with every revision; it has no pin of its own (the revision's
directory holds them, see ``bpfman.dispatch.revision``).

The program a user loads stays loaded as xdp / sched_cls (listed, pinned,
reported as such); the dispatcher runs an extension copy of it, loaded from
the same object file with the same globals and sharing its maps, once per
link and reattached to every later revision.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from bpfman.dispatch import MAX_PROGRAMS, Hook, Member, Slot, State, revision
from bpfman.manager import crash
from bpfman.manager.errors import PreconditionError
from bpfman.manager.hooks import AttachResult, Updates, in_netns, tc_siblings
from bpfman.manager.models import BpfmanType, LinkRecord, ProgramRecord
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
    return TYPES[link.kind].dispatcher is not None and "dispatcher_id" in link.params


def hook_of(mgr: Manager, kind: BpfmanType, params: dict[str, Any]) -> Hook:
    dispatcher = TYPES[kind].dispatcher
    assert dispatcher is not None, kind
    return Hook(
        dispatcher,
        int(params["ifindex"]),
        mgr.paths.fs,
        netns_ino=int(params.get("netns_ino") or 0),
        direction=str(params.get("direction") or ""),
    )


def members_of(
    mgr: Manager, kind: BpfmanType, params: dict[str, Any], exclude: int = 0
) -> list[LinkRecord]:
    """The member links of the hook *params* names (but *exclude*)."""
    return [
        link
        for link in mgr.store.links()
        if link.kind == kind
        and is_member(link)
        and link.id != exclude
        and link.params.get("ifindex") == params.get("ifindex")
        and link.params.get("netns_ino") == params.get("netns_ino")
        and link.params.get("direction") == params.get("direction")
    ]


def current_state(links: list[LinkRecord]) -> State | None:
    """The running revision, as the member links recorded it."""
    if not links:
        return None
    p = links[0].params
    return State(
        dispatcher_id=int(p["dispatcher_id"]),
        positions={link.id: int(link.params.get("position") or 0) for link in links},
        link_ids={link.id: link.kernel_link_id for link in links if link.kernel_link_id},
        tc_handle=int(p.get("dispatcher_handle") or 0),
        qdisc_created=any(bool(link.params.get("tc_qdisc_created")) for link in links),
        mode=str(p.get("xdp_mode") or ""),
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


def _member(mgr: Manager, rec: ProgramRecord, link_id: int, params: dict[str, Any]) -> Member:
    position = params.get("position") if "dispatcher_id" in params else None
    slot = Slot(
        link_id,
        int(params["priority"]),
        rec.name,
        tuple(int(v) for v in params.get("proceed_on") or ()),
        None if position is None else int(position),
    )
    return Member(slot, functools.partial(_loader, mgr, rec))


def _members(mgr: Manager, links: list[LinkRecord]) -> list[Member]:
    out = []
    for link in links:
        rec = mgr.program_record(link.program_id)
        out.append(_member(mgr, rec, link.id, link.params))
    return out


def _hook_params(kind: BpfmanType, state: State, link_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "position": state.positions[link_id],
        "dispatcher_id": state.dispatcher_id,
    }
    if kind == BpfmanType.XDP:
        out["xdp_mode"] = state.mode
    else:
        out["dispatcher_handle"] = state.tc_handle
        out["tc_qdisc_created"] = state.qdisc_created
    return out


def _updates(kind: BpfmanType, state: State | None, links: list[LinkRecord]) -> Updates:
    if state is None:
        return {}
    return {
        link.id: (state.link_ids[link.id], {**link.params, **_hook_params(kind, state, link.id)})
        for link in links
    }


def attach(
    mgr: Manager,
    scope: WriterScope,
    rec: ProgramRecord,
    params: dict[str, Any],
    link_id: int,
    undo: Undo,
) -> AttachResult:
    """Add link *link_id* of *rec* to its hook's dispatcher (inside the hook's netns)."""
    from bpfman import netns

    params["ifindex"] = netns.ifindex(str(params["iface"]))
    links = members_of(mgr, rec.kind, params)
    if len(links) >= MAX_PROGRAMS:
        raise PreconditionError(
            f"the {rec.type_word} hook of {params['iface']} already runs {len(links)} programs "
            f"(links {', '.join(str(link.id) for link in links)}): "
            f"a dispatcher runs at most {MAX_PROGRAMS}"
        )
    hook = hook_of(mgr, rec.kind, params)
    current = current_state(links)
    members = [*_members(mgr, links), _member(mgr, rec, link_id, params)]
    state = revision.apply(hook, members, current, xdp_mode=mgr.xdp_mode(str(params["iface"])))
    assert state is not None
    crash.point("attach:after-kernel")
    undo.push(
        "restore the hook's previous dispatcher",
        functools.partial(_restore, mgr, scope, rec.kind, hook, links, state, params.get("netns")),
    )
    params.update(_hook_params(rec.kind, state, link_id))
    return AttachResult(state.link_ids[link_id], None, params, _updates(rec.kind, state, links))


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
            {**link.params, "position": state.positions[link.id]},
        )
        for link in links
    ]
    with in_netns(netns):
        restored = revision.apply(hook, _members(mgr, moved), state, xdp_mode=state.mode or "drv")
    with mgr.store.transaction():
        mgr.store.update_links(_updates(kind, restored, moved))


def _hook_gone(params: dict[str, Any]) -> bool:
    """Whether the hook's interface (or its network namespace) no longer exists."""
    import socket

    path = params.get("netns")
    if path and not os.path.exists(path):
        return True
    with in_netns(path):
        try:
            socket.if_indextoname(int(params["ifindex"]))
        except OSError:
            return True
    return False


def detach(mgr: Manager, scope: WriterScope, link: LinkRecord) -> Updates:
    """Take *link* off its hook's dispatcher; the hook's other links' new params."""
    fresh = mgr.store.link(link.id) or link  # an earlier detach may have moved it
    if _hook_gone(fresh.params):  # the kernel dropped the hook with the interface: only pins left
        revision.forget(hook_of(mgr, fresh.kind, fresh.params), int(fresh.params["dispatcher_id"]))
        return {}
    keeps_qdisc = fresh.kind == BpfmanType.TC and any(
        not is_member(s) or s.params.get("direction") != fresh.params.get("direction")
        for s in tc_siblings(mgr, fresh)
    )
    others = members_of(mgr, fresh.kind, fresh.params, exclude=fresh.id)
    return _reapply(mgr, scope, fresh, others, [fresh, *others], remove_qdisc=not keeps_qdisc)


def rebuild(mgr: Manager, scope: WriterScope, link: LinkRecord) -> Updates:
    """Swap in a fresh revision of *link*'s hook from the database (gc's repair)."""
    links = [link, *members_of(mgr, link.kind, link.params, exclude=link.id)]
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
    with in_netns(link.params.get("netns")):
        state = revision.apply(
            hook_of(mgr, link.kind, link.params),
            _members(mgr, links),
            current_state(running),
            xdp_mode=str(link.params.get("xdp_mode") or "drv"),
            remove_qdisc=remove_qdisc,
        )
    return _updates(link.kind, state, links)
