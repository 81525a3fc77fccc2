"""Tracepoints (perf event based) and raw tracepoints."""

from __future__ import annotations

import errno as _errno
import os
from typing import TYPE_CHECKING

from bpfman import _sys
from bpfman._libbpf import lib
from bpfman.attach.perf_event import link_perf_event
from bpfman.attach.types import require_type
from bpfman.errors import BpfError, from_errno
from bpfman.link import Link

if TYPE_CHECKING:
    from bpfman.program import Program

TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


def tracefs() -> str:
    """The mounted tracefs root; a clear error if none is."""
    for root in TRACEFS_ROOTS:
        if os.path.isdir(os.path.join(root, "events")):
            return root
    raise BpfError("tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)")


def tracepoint_id(group: str, name: str) -> int:
    if not group or not name or "/" in group or "/" in name:
        raise BpfError(f"tracepoint must be GROUP/NAME, got {group}/{name}", errno=_errno.EINVAL)
    path = os.path.join(tracefs(), "events", group, name, "id")
    try:
        with open(path) as f:
            return int(f.read())
    except FileNotFoundError:
        raise BpfError(
            f"no tracepoint {group}/{name} in this kernel", errno=_errno.ENOENT
        ) from None


def attach_tracepoint(prog: Program, group: str, name: str, cookie: int = 0) -> Link:
    """Attach *prog* (a tracepoint program) to the tracepoint *group*/*name*."""
    require_type(prog, "tracepoint", f"tracepoint {group}/{name}")
    tp_id = tracepoint_id(group, name)
    attr = _sys.perf_event_attr(
        type=_sys.PERF_TYPE_TRACEPOINT, config=tp_id, sample_period=1, wakeup_events=1
    )
    pfd = _sys.perf_event_open(attr, pid=-1, cpu=0)
    return link_perf_event(
        prog, pfd, f"tracepoint {group}/{name}", close_perf_fd=True, cookie=cookie
    )


def attach_raw_tracepoint(prog: Program, name: str, cookie: int = 0) -> Link:
    """Attach *prog* (a raw_tracepoint program) to the raw tracepoint *name*.

    A *cookie* (``bpf_get_attach_cookie``) needs Linux 6.10.
    """
    require_type(prog, "raw_tracepoint", f"raw tracepoint {name}")
    if cookie:
        try:
            fd = _sys.raw_tracepoint_open(prog.fd, name.encode(), cookie)
        except BpfError as e:
            why = os.strerror(e.errno)
            if e.errno == _errno.EINVAL:
                why += " (a raw tracepoint cookie needs Linux 6.10)"
            raise BpfError(
                f"cannot attach {prog.name} to raw tracepoint {name}: {why}", errno=e.errno
            ) from None
    else:
        fd = lib.bpf_raw_tracepoint_open(name.encode(), prog.fd)
        if fd < 0:
            raise from_errno(f"cannot attach {prog.name} to raw tracepoint {name}", fd)
    return Link(fd, description=f"raw_tracepoint {name}")
