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

import re
from typing import TYPE_CHECKING

from bpfman import _libbpf
from bpfman._probes import (
    BTF_MISSING,
    CGROUP2_MISSING,
    KPROBES_MISSING,
    LSM_INACTIVE,
    LSM_REFUSED,
    NEEDS_ROOT,
    PMU_ROOT,
    PROBES,
    TCX_MISSING,
    TP_BTF_REFUSED,
    TRACEFS_MISSING,
    TRAMPOLINES_REFUSED,
    UPROBES_MISSING,
    VMLINUX_BTF,
    Feature,
    available,
    cgroup2_mount,
    kernel_version,
    parse_kernel_release,
    pmu_type,
    probe,
)
from bpfman.errors import BpfError, KernelFeatureError
from bpfman.kinds import AttachType, MapType, ProgramType

if TYPE_CHECKING:
    from bpfman.object import ObjectSpec

__all__ = [  # the probes' messages and host helpers live in bpfman._probes
    "BTF_MISSING",
    "CGROUP2_MISSING",
    "KPROBES_MISSING",
    "LOAD_TIME_FEATURES",
    "LSM_INACTIVE",
    "LSM_REFUSED",
    "NEEDS_ROOT",
    "PMU_ROOT",
    "TCX_MISSING",
    "TP_BTF_REFUSED",
    "TRACEFS_MISSING",
    "TRAMPOLINES_REFUSED",
    "UPROBES_MISSING",
    "VMLINUX_BTF",
    "Feature",
    "all",
    "available",
    "cgroup2_mount",
    "dispatcher_unavailable_reason",
    "explain_load_failure",
    "failed_program",
    "feature_of_program",
    "feature_of_section",
    "kernel_version",
    "libbpf_version",
    "names",
    "parse_kernel_release",
    "pmu_type",
    "probe",
    "require",
]

# --------------------------------------------------------------------------- public API


def names() -> list[str]:
    """Every feature name, attach kinds first, then ``prog_type:*`` and ``map_type:*``."""
    progs = [f"prog_type:{t.name.lower()}" for t in ProgramType if t]
    maps = [f"map_type:{t.name.lower()}" for t in MapType if t]
    return [*PROBES, *progs, *maps]


def require(name: str) -> None:
    """Raise ``KernelFeatureError`` (with the probe's one-line reason) unless *name* works."""
    f = probe(name)
    if not f.available:
        raise KernelFeatureError(f.detail, feature=name)


def all() -> list[Feature]:
    """Every probe, run now (each runs once per process)."""
    return [probe(n) for n in names()]


def libbpf_version() -> tuple[int, int]:
    """(major, minor) of the libbpf this process uses."""
    return _libbpf.version()


def dispatcher_unavailable_reason() -> str:
    """Why several XDP/TC programs cannot share one hook through a dispatcher here."""
    f = probe("freplace")
    if not f.available:
        return f"a multi-program dispatcher needs freplace programs and {f.detail}"
    return "freplace works here, so XDP/TC hooks are shared through dispatchers"


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
