"""What the kernel holds, by id: every program, map and link id, and a light program read.

    bpfman.program_ids()          -> [12, 40, 41, ...]
    bpfman.program_brief(40)      -> ProgramBrief(id=40, name="xdp_pass", type=6, tag="...")

``program_brief`` is the cheap read behind long listings: one syscall for the
fd, one for the info, no map ids and no ``bpfman.program`` import. Open the
program with ``Program.from_id`` for everything else.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpfman import _sys


def program_ids() -> list[int]:
    """The ids of every program loaded in the kernel, in id order."""
    return _sys.ids("prog")


def map_ids() -> list[int]:
    """The ids of every map in the kernel, in id order."""
    return _sys.ids("map")


def link_ids() -> list[int]:
    """The ids of every link in the kernel, in id order."""
    return _sys.ids("link")


@dataclass(frozen=True)
class ProgramBrief:
    """A program's identity: ``id`` (the kernel's), ``name`` (15 characters at most),
    ``type`` (the program type's number) and ``tag`` (hex)."""

    id: int
    name: str
    type: int
    tag: str  # hex: tells a program from another one that got the same id later


def program_brief(prog_id: int) -> ProgramBrief | None:
    """The brief of the program with kernel id *prog_id*; None if there is none (any more)."""
    brief = _sys.prog_brief(prog_id)
    return ProgramBrief(*brief) if brief else None
