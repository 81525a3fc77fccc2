"""Uprobes and uretprobes through the uprobe PMU, on a file offset found in the ELF."""

from __future__ import annotations

import errno as _errno
import os
from typing import TYPE_CHECKING

from bpfman import elf, features
from bpfman.attach.kprobe import open_probe_event
from bpfman.attach.perf_event import link_perf_event
from bpfman.attach.types import require_type
from bpfman.errors import BpfError
from bpfman.link import Link

if TYPE_CHECKING:
    from bpfman.program import Program


def attach_uprobe(
    prog: Program,
    target: str,
    fn: str | None = None,
    offset: int = 0,
    pid: int = -1,
    retprobe: bool = False,
    cookie: int = 0,
) -> Link:
    """Probe *fn* (+ *offset*) in *target* (a path or a library name like "libc" or "c").

    Without *fn*, *offset* is a file offset in *target*. A *pid* >= 0 limits
    the probe to that process.
    """
    features.require("uprobe")
    kind = "uretprobe" if retprobe else "uprobe"
    if fn is None and not offset:
        raise BpfError(
            f"cannot attach {prog.name} to {kind} in {target}: give the function (fn=...) or"
            " a file offset (offset=...)",
            errno=_errno.EINVAL,
        )
    require_type(prog, "uprobe", f"{kind} in {target}")
    try:
        path = os.path.realpath(elf.resolve_library(target))
        file_offset = offset + (elf.function_offset(path, fn) if fn else 0)
    except BpfError as e:
        raise BpfError(f"cannot attach {prog.name} to {kind}: {e}", errno=e.errno) from None
    where = f"{path}:{fn}" if fn else path
    if offset:
        where += f"+{offset:#x}"
    try:
        pfd = open_probe_event("uprobe", os.fsencode(path), file_offset, retprobe, pid=pid)
    except BpfError as e:
        raise refused(prog, kind, where, pid, e) from None
    if pid >= 0:
        where += f" pid {pid}"
    return link_perf_event(prog, pfd, f"{kind} {where}", close_perf_fd=True, cookie=cookie)


def refused(prog: Program, kind: str, where: str, pid: int, e: BpfError) -> BpfError:
    """The error of a uprobe attach the kernel refused: which program, where, for which
    process, and the kernel's reason."""
    extra = f" (pid {pid})" if pid >= 0 else ""
    return BpfError(
        f"cannot attach {prog.name} to {kind} {where}{extra}: {os.strerror(e.errno)}",
        errno=e.errno,
    )
