"""The data of a dispatcher hook (pure, no kernel I/O): where it is, its members, its revision.

``revision`` builds and swaps revisions from these; ``xdp`` and ``tc`` swap them
onto their hook; the manager keeps a ``State`` per hook.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from bpfman.dispatch import config
from bpfman.program import Program

# Loads a member as an extension replacing stub `func` of the dispatcher `target`.
Loader = Callable[[Program, str], Program]
DISPATCHER_NAME = {"xdp": "xdp_dispatcher", "tc": "tc_dispatcher"}


@dataclass(frozen=True)
class Hook:
    """Where a dispatcher runs: an interface's XDP hook or one direction of its tc hook."""

    kind: str  # "xdp" or "tc"
    ifindex: int
    bpffs: str
    netns_ino: int = 0
    direction: str = ""  # tc: "ingress" or "egress"

    @property
    def dir(self) -> str:
        return os.path.join(self.bpffs, "xdp" if self.kind == "xdp" else f"tc-{self.direction}")

    def revision_dir(self, dispatcher_id: int) -> str:
        return os.path.join(self.dir, f"dispatch-{self.ifindex}-{dispatcher_id}")

    @property
    def xdp_link_pin(self) -> str:
        return os.path.join(self.dir, f"link-{self.netns_ino}-{self.ifindex}")


@dataclass(frozen=True)
class Member:
    slot: config.Slot
    load: Loader | None = None  # needed when the member has no extension to reuse


@dataclass(frozen=True)
class State:
    """What the caller keeps about a hook's running revision."""

    dispatcher_id: int
    positions: dict[int, int] = field(default_factory=dict)  # member key -> slot
    link_ids: dict[int, int] = field(default_factory=dict)  # member key -> freplace link id
    tc_handle: int = 0  # tc: the dispatcher filter's handle (at priority dispatch.tc.PRIORITY)
    qdisc_created: bool = False  # tc: the clsact qdisc was created for a dispatcher
    mode: str = ""  # xdp: the mode the interface's link got
