"""Swap a TC dispatcher revision in: a new filter at the dispatcher priority, then the old out.

The dispatcher is a direct-action bpf filter at priority ``PRIORITY`` on the
interface's clsact qdisc (created if missing; a classic ``ingress`` qdisc is
refused, not touched). The new revision's filter is added next to the old
one, then the old one is deleted, so the hook is never empty.
"""

from __future__ import annotations

import errno as _errno
from typing import TYPE_CHECKING

from bpfman.attach import tc
from bpfman.dispatch.hook import Hook, State
from bpfman.errors import BpfError

if TYPE_CHECKING:
    from bpfman.program import Program

PRIORITY = 50


def swap(hook: Hook, disp: Program, current: State | None) -> State:
    if tc.qdisc_kind(hook.ifindex) == "ingress":
        raise BpfError(
            f"interface {hook.ifindex} has a classic 'ingress' qdisc, not clsact: "
            "bpfman does not touch it (remove it to attach tc programs)",
            errno=_errno.EEXIST,
        )
    link = tc.attach_tc(disp, hook.ifindex, hook.direction, priority=PRIORITY)
    filt = tc.filter_of(link)
    link.disown()
    created = filt.qdisc_created or bool(current and current.qdisc_created)
    # the old filter may be gone already (a crash, gc's rebuild) and its handle reused by the
    # kernel for the new one: never delete what was just added
    if current is not None and current.tc_handle and current.tc_handle != filt.handle:
        try:
            tc.remove_filter(hook.ifindex, hook.direction, PRIORITY, current.tc_handle)
        except BaseException:
            tc.remove(filt)
            raise
    return State(disp.id, tc_handle=filt.handle, qdisc_created=created)


def detach(hook: Hook, current: State, *, remove_qdisc: bool) -> None:
    """Delete the dispatcher's filter; with *remove_qdisc* also a clsact qdisc made for it."""
    tc.remove_filter(
        hook.ifindex,
        hook.direction,
        PRIORITY,
        current.tc_handle,
        qdisc_created=remove_qdisc and current.qdisc_created,
    )
