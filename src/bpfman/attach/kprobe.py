"""Kprobes and kretprobes through the kprobe PMU, and the probe-event opener uprobes share."""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import re
from typing import TYPE_CHECKING

from bpfman import _sys, features
from bpfman.attach.perf_event import link_perf_event
from bpfman.attach.types import require_type
from bpfman.errors import BpfError
from bpfman.link import Link

if TYPE_CHECKING:
    from bpfman.program import Program


def parse_format_bit(text: str) -> int:
    """The bit of ``config`` a PMU format file names ("config:0" -> 0)."""
    m = re.fullmatch(r"\s*config:(\d+)\s*", text)
    if not m:
        raise BpfError(f"unexpected PMU format {text.strip()!r}")
    return int(m.group(1))


def retprobe_bit(pmu: str) -> int:
    """The ``config`` bit that turns a probe of *pmu* into a return probe."""
    try:
        with open(f"{features.PMU_ROOT}/{pmu}/format/retprobe") as f:
            return parse_format_bit(f.read())
    except FileNotFoundError:
        raise BpfError(f"the {pmu} PMU has no retprobe format bit") from None


def open_probe_event(pmu: str, target: bytes, offset: int, retprobe: bool, pid: int = -1) -> int:
    """perf_event_open on the *pmu* ("kprobe"/"uprobe") PMU: the perf event fd.

    *target* is the kernel function (kprobe) or the file path (uprobe); a
    *pid* >= 0 limits a uprobe to that process.
    """
    pmu_type = features.pmu_type(pmu)
    if pmu_type is None:
        features.require(pmu)
        raise BpfError(f"no {pmu} PMU")
    name = ctypes.create_string_buffer(target)
    attr = _sys.perf_event_attr(
        type=pmu_type,
        config=(1 << retprobe_bit(pmu)) if retprobe else 0,
        config1=ctypes.addressof(name),
        config2=offset,
    )
    return _sys.perf_event_open(attr, pid=pid if pid >= 0 else -1, cpu=0 if pid < 0 else -1)


def attach_kprobe(
    prog: Program, fn: str, offset: int = 0, retprobe: bool = False, cookie: int = 0
) -> Link:
    features.require("kprobe")
    kind = "kretprobe" if retprobe else "kprobe"
    where = f"{fn}+{offset:#x}" if offset else fn
    require_type(prog, "kprobe", f"{kind} {where}")
    try:
        pfd = open_probe_event("kprobe", fn.encode(), offset, retprobe)
    except BpfError as e:
        if e.errno in (_errno.ENOENT, _errno.EINVAL):
            raise BpfError(
                f"cannot attach {prog.name} to {kind} {where}: no such kernel function "
                "or it cannot be probed (see /sys/kernel/tracing/available_filter_functions)",
                errno=e.errno,
            ) from None
        raise BpfError(
            f"cannot attach {prog.name} to {kind} {where}: {os.strerror(e.errno)}", errno=e.errno
        ) from None
    return link_perf_event(prog, pfd, f"{kind} {where}", close_perf_fd=True, cookie=cookie)
