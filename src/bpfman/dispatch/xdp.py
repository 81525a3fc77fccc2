"""Swap an XDP dispatcher revision in: one stable XDP link per interface, updated in place.

The first revision attaches the dispatcher (driver mode by default, falling
back to generic/skb mode where the driver has no native XDP) and pins the
link; later revisions replace the link's program with ``BPF_LINK_UPDATE``,
which is atomic: every packet runs either the old chain or the new one.
"""

from __future__ import annotations

import os

from bpfman.dispatch.hook import Hook, State
from bpfman.errors import BpfError
from bpfman.link import Link
from bpfman.program import Program


def swap(hook: Hook, disp: Program, current: State | None, mode: str) -> State:
    pin = hook.xdp_link_pin
    if not os.path.exists(pin):
        link = disp.attach_xdp(hook.ifindex, mode=mode, fallback=True)
        with link:
            link.pin(pin)
            got = link.mode
        return State(disp.id, mode=got)
    with Link.from_pin(pin) as pinned:
        old: Program | None = None
        if current is not None:
            try:
                old = Program.from_id(current.dispatcher_id)
            except BpfError:
                old = None  # the recorded dispatcher is gone: replace whatever runs
        try:
            pinned.update(disp, old=old)  # with old: fails (EPERM) if someone swapped meanwhile
        finally:
            if old is not None:
                old.close()
    return State(disp.id, mode=current.mode if current else mode)


def detach(hook: Hook) -> None:
    """Detach the interface's XDP link (the dispatcher goes with its last reference)."""
    pin = hook.xdp_link_pin
    if not os.path.exists(pin):
        return
    try:
        link = Link.from_pin(pin)
    except BpfError:
        os.unlink(pin)
        return
    link.detach()
