"""Dispatchers: up to 10 XDP or TC programs sharing one hook, in priority order.

A dispatcher is a small program whose stubs ``prog0``..``prog9`` the user
programs replace as extension programs (freplace); after each slot it goes on
to the next one only for the verdicts in that slot's proceed-on set. Every
change builds a new revision and swaps it in (``revision.apply``). Needs a
kernel that loads extension programs (``features.available("freplace")``).

    config     slot order and the dispatcher config (pure)
    hook       a hook, its members, its running revision (pure data)
    extension  load a program of an object as an extension of a stub
    revision   build, swap, tear down; pins
    xdp, tc    the swap for each hook
"""

from __future__ import annotations

from bpfman.dispatch.config import MAX_PROGRAMS, Slot
from bpfman.dispatch.hook import Hook, Member, State
from bpfman.dispatch.revision import apply, teardown

__all__ = ["MAX_PROGRAMS", "Hook", "Member", "Slot", "State", "apply", "teardown"]
