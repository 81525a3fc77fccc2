"""Programs attached to perf events (tracepoints, kprobes, uprobes, software events)."""

from __future__ import annotations

import ctypes
import errno
import os
from typing import TYPE_CHECKING

from bpfman import _libbpf
from bpfman._libbpf import lib
from bpfman.attach.types import require_type
from bpfman.errors import BpfError, from_errno
from bpfman.kinds import AttachType
from bpfman.link import Link

if TYPE_CHECKING:
    from bpfman.program import Program


def link_perf_event(
    prog: Program, perf_fd: int, description: str, close_perf_fd: bool, cookie: int = 0
) -> Link:
    """A BPF_PERF_EVENT link from *prog* to the perf event *perf_fd*.

    The link holds the event; with *close_perf_fd* our fd is closed either way.
    *cookie* is what the program reads with ``bpf_get_attach_cookie``.
    """
    try:
        o = _libbpf.opts(_libbpf.bpf_link_create_opts, perf_event_cookie=cookie)
        with _libbpf.capture() as log:
            fd = lib.bpf_link_create(prog.fd, perf_fd, int(AttachType.PERF_EVENT), ctypes.byref(o))
        if fd == -errno.EEXIST:  # the kernel runs a program at most once per perf event
            raise BpfError(
                f"cannot attach {prog.name} to {description}: it is already attached there",
                errno=errno.EEXIST,
            )
        if fd < 0:
            raise from_errno(f"cannot attach {prog.name} to {description}", fd, log)
        return Link(fd, description=description)
    finally:
        if close_perf_fd:
            os.close(perf_fd)


def attach_perf_event(prog: Program, perf_fd: int, cookie: int = 0) -> Link:
    """Attach to a perf event the caller opened (the caller keeps its fd)."""
    require_type(prog, "perf_event", f"perf event fd {perf_fd}")
    return link_perf_event(
        prog, perf_fd, f"perf event fd {perf_fd}", close_perf_fd=False, cookie=cookie
    )
