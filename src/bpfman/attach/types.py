"""Which program types each attach kind takes: one table, one check, one message."""

from __future__ import annotations

import errno as _errno
from typing import TYPE_CHECKING

from bpfman.errors import BpfError
from bpfman.kinds import ProgramType, name_of

if TYPE_CHECKING:
    from bpfman.program import Program

# attach kind (bpfman.attach.by_section.KINDS) -> the program types the kernel takes there
ACCEPTS: dict[str, tuple[ProgramType, ...]] = {
    "tracepoint": (ProgramType.TRACEPOINT,),
    "raw_tracepoint": (ProgramType.RAW_TRACEPOINT, ProgramType.RAW_TRACEPOINT_WRITABLE),
    "kprobe": (ProgramType.KPROBE,),
    "trace": (ProgramType.TRACING, ProgramType.LSM),
    "freplace": (ProgramType.EXT,),
    "uprobe": (ProgramType.KPROBE,),
    "uprobe_multi": (ProgramType.KPROBE,),
    "kprobe_multi": (ProgramType.KPROBE,),
    "usdt": (ProgramType.KPROBE,),
    "perf_event": (ProgramType.PERF_EVENT, ProgramType.KPROBE, ProgramType.TRACEPOINT),
    "xdp": (ProgramType.XDP,),
    "tc": (ProgramType.SCHED_CLS,),
    "tcx": (ProgramType.SCHED_CLS,),
    "cgroup": (
        ProgramType.CGROUP_SKB,
        ProgramType.CGROUP_SOCK,
        ProgramType.CGROUP_SOCK_ADDR,
        ProgramType.SOCK_OPS,
        ProgramType.CGROUP_DEVICE,
        ProgramType.CGROUP_SYSCTL,
        ProgramType.CGROUP_SOCKOPT,
        ProgramType.LSM,
    ),
}


def require_type(prog: Program, kind: str, where: str) -> None:
    """Refuse, naming both types, a program of a type the attach *kind* cannot take."""
    accepted = ACCEPTS[kind]
    if prog.type in accepted:
        return
    have = name_of(ProgramType, int(prog.type))
    want = " or ".join(t.name.lower() for t in accepted[:3])
    if len(accepted) > 3:
        want = "a cgroup program type"
    raise BpfError(
        f"cannot attach {prog.name} to {where}: it is a {have} program, not {want}",
        errno=_errno.EINVAL,
    )
