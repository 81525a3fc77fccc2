"""What the running kernel can do: one cached probe per feature.

    features.all()                -> [Feature(name, available, detail), ...]
    features.available("kprobe")  -> False
    features.require("kprobe")    -> raises KernelFeatureError(KPROBES_MISSING, feature="kprobe")

Probes do the real thing where it is cheap (load a two-instruction program of
the kind, open the PMU, query the hook) and fall back to libbpf's probes for
plain program and map types. Each runs once per process. A feature that is
not available has a one-line ``detail`` saying why: the message
``require()`` raises.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

from bpfman.errors import BpfError, KernelFeatureError
from bpfman.kinds import AttachType, MapType, ProgramType

if TYPE_CHECKING:
    from bpfman.object import ObjectSpec

KPROBES_MISSING = "kprobes are not available: this kernel was built without CONFIG_KPROBES"
UPROBES_MISSING = "uprobes are not available: this kernel was built without CONFIG_UPROBE_EVENTS"
TRAMPOLINES_REFUSED = "this kernel refuses trampoline programs (fentry/fexit/freplace)"
LSM_REFUSED = "this kernel refuses BPF LSM programs"
LSM_INACTIVE = "BPF LSM programs load but the bpf LSM is off (add bpf to the lsm= boot option)"
TP_BTF_REFUSED = "this kernel refuses BTF tracepoint programs (tp_btf)"
BTF_MISSING = "the kernel has no BTF (/sys/kernel/btf/vmlinux): built without CONFIG_DEBUG_INFO_BTF"
TRACEFS_MISSING = "tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)"
CGROUP2_MISSING = "no cgroup v2 hierarchy is mounted"
TCX_MISSING = "tcx is not available: it needs Linux 6.6 or newer"
NEEDS_ROOT = "cannot be probed without root (CAP_BPF and CAP_PERFMON)"

PMU_ROOT = "/sys/bus/event_source/devices"
VMLINUX_BTF = "/sys/kernel/btf/vmlinux"


class Feature(NamedTuple):
    name: str
    available: bool
    detail: str


def _probes() -> dict[str, Callable[[], tuple[bool, str]]]:
    """The kernel probes, by feature name, in display order (``bpfman._probes``)."""
    from bpfman import _probes

    return _probes.PROBES


@cache
def _run(name: str) -> Feature:
    ok, detail = _probes()[name]()
    return Feature(name, ok, detail)


@cache
def _run_type(kind: str, type_name: str) -> Feature:
    from bpfman import _probes

    ok, detail = _probes.type_probe(kind, type_name)
    return Feature(f"{kind}:{type_name}", ok, detail)


# --------------------------------------------------------------------------- public API


def names() -> list[str]:
    """Every feature name, attach kinds first, then ``prog_type:*`` and ``map_type:*``."""
    progs = [f"prog_type:{t.name.lower()}" for t in ProgramType if t]
    maps = [f"map_type:{t.name.lower()}" for t in MapType if t]
    return [*_probes(), *progs, *maps]


def probe(name: str) -> Feature:
    """The (cached) probe result of feature *name*."""
    if name in _probes():
        return _run(name)
    kind, _, type_name = name.partition(":")
    if kind in ("prog_type", "map_type") and type_name:
        return _run_type(kind, type_name)
    raise ValueError(
        f"unknown feature {name!r} (known: {', '.join(_probes())}, prog_type:*, map_type:*)"
    )


def available(name: str) -> bool:
    return probe(name).available


def require(name: str) -> None:
    """Raise ``KernelFeatureError`` (with the probe's one-line reason) unless *name* works."""
    f = probe(name)
    if not f.available:
        raise KernelFeatureError(f.detail, feature=name)


def all() -> list[Feature]:
    """Every probe, run now (each runs once per process)."""
    return [probe(n) for n in names()]


def dispatcher_unavailable_reason() -> str:
    """Why several XDP/TC programs cannot share one hook through a dispatcher here."""
    f = probe("freplace")
    if not f.available:
        return f"a multi-program dispatcher needs freplace programs and {f.detail}"
    return "freplace works here, so XDP/TC hooks are shared through dispatchers"


@cache
def kernel_version() -> tuple[int, int, int]:
    """(major, minor, patch) of the running kernel."""
    return parse_kernel_release(os.uname().release)


def parse_kernel_release(release: str) -> tuple[int, int, int]:
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", release)
    if not m:
        return (0, 0, 0)
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


@cache
def cgroup2_mount() -> str | None:
    """Where the cgroup v2 hierarchy is mounted (``/sys/fs/cgroup`` or ``.../unified``)."""
    with contextlib.suppress(OSError), builtins.open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 2 and parts[2] == "cgroup2":
                return parts[1]
    return None


def pmu_type(pmu: str) -> int | None:
    """The perf PMU type number of *pmu* ("kprobe", "uprobe"), None if the kernel has none."""
    try:
        with builtins.open(f"{PMU_ROOT}/{pmu}/type") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def feature_of_section(section: str) -> str | None:
    """The feature a program of ELF *section* needs to load and attach (None if unknown)."""
    from bpfman.attach.by_section import parse_section

    try:
        return parse_section(section).feature
    except BpfError:
        return None


def feature_of_program(prog_type: int, expected_attach_type: int, section: str) -> str | None:
    """The feature a program needs: from its section, else from its type."""
    by_section = feature_of_section(section)
    if by_section:
        return by_section
    if prog_type == ProgramType.TRACING:
        return _TRACING_FEATURES.get(expected_attach_type)
    return _TYPE_FEATURES.get(prog_type)


_TRACING_FEATURES: dict[int, str] = {
    AttachType.TRACE_RAW_TP: "tp_btf",
    AttachType.TRACE_FENTRY: "trampolines",
    AttachType.TRACE_FEXIT: "trampolines",
    AttachType.MODIFY_RETURN: "trampolines",
}
_TYPE_FEATURES: dict[int, str] = {
    ProgramType.TRACEPOINT: "tracepoint",
    ProgramType.RAW_TRACEPOINT: "raw_tp",
    ProgramType.PERF_EVENT: "perf_event",
    ProgramType.EXT: "freplace",
    ProgramType.LSM: "lsm",
    ProgramType.XDP: "xdp",
    ProgramType.SCHED_CLS: "tc",
    ProgramType.CGROUP_SKB: "cgroup",
    ProgramType.CGROUP_SOCK: "cgroup",
    ProgramType.CGROUP_SOCK_ADDR: "cgroup",
}


# features whose programs the kernel may refuse at load (not only at attach)
LOAD_TIME_FEATURES = frozenset({"trampolines", "freplace", "lsm", "tp_btf"})


def explain_load_failure(spec: ObjectSpec, error: BpfError) -> BpfError:
    """Turn a load failure into a KernelFeatureError when a probe says why.

    Only the failing program's section is used (the spec is already closed).
    """
    if isinstance(error, KernelFeatureError):
        return error
    failed = failed_program(error.log)
    if not failed or failed not in spec.programs:
        return error
    target = re.search(r"failed to find kernel BTF type ID of '([^']+)'", error.log)
    if target:  # fentry/fexit/lsm on a function the kernel does not have
        return BpfError(
            f"program {failed}: no kernel function {target.group(1)!r} to attach to"
            " (not in the kernel's BTF)",
            errno=error.errno,
            log=error.log,
        )
    feature = feature_of_section(spec.programs[failed].section)
    if feature in LOAD_TIME_FEATURES and not available(feature):
        return KernelFeatureError(probe(feature).detail, feature, errno=error.errno, log=error.log)
    return error


def failed_program(log: str) -> str | None:
    """The program libbpf says failed to load ("prog 'x': failed to load")."""
    m = re.search(r"prog '([^']+)': (?:failed to load|BPF program load failed)", log)
    return m.group(1) if m else None
