"""Dispatchers: up to 10 XDP or TC programs sharing one hook, in priority order.

A dispatcher is a small program whose stubs ``prog0``..``prog9`` the user
programs replace as extension programs (freplace); after each slot it goes on
to the next one only for the verdicts in that slot's proceed-on set. Every
change builds a new revision and swaps it in (``revision.apply``). Needs a
kernel that loads extension programs (``features.available("freplace")``).

    verdicts   the verdicts a slot proceeds on: --proceed-on words, numbers (pure data)
    config     slot order and the dispatcher config (pure)
    hook       a hook, its members, its running revision (pure data)
    extension  load a program of an object as an extension of a stub
    revision   build, swap, tear down; pins
    xdp, tc    the swap for each hook

The names below are imported on first use, so that ``bpfman.dispatch.verdicts``
comes without the rest (the CLI shows and parses the words).
"""

from __future__ import annotations

_LAZY = {
    "MAX_PROGRAMS": "bpfman.dispatch.config",
    "Slot": "bpfman.dispatch.config",
    "Hook": "bpfman.dispatch.hook",
    "Member": "bpfman.dispatch.hook",
    "State": "bpfman.dispatch.hook",
    "apply": "bpfman.dispatch.revision",
    "teardown": "bpfman.dispatch.revision",
}

__all__ = ["MAX_PROGRAMS", "Hook", "Member", "Slot", "State", "apply", "teardown"]

TYPE_CHECKING = False  # mypy reads the name as True
if TYPE_CHECKING:
    from bpfman.dispatch.config import MAX_PROGRAMS as MAX_PROGRAMS
    from bpfman.dispatch.config import Slot as Slot
    from bpfman.dispatch.hook import Hook as Hook
    from bpfman.dispatch.hook import Member as Member
    from bpfman.dispatch.hook import State as State
    from bpfman.dispatch.revision import apply as apply
    from bpfman.dispatch.revision import teardown as teardown


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:  # (also how ``from bpfman.dispatch import verdicts`` finds a submodule)
        raise AttributeError(f"module 'bpfman.dispatch' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
