"""The ELF section table (pure data, no kernel I/O): one row per libbpf section prefix.

From it come ``by_section.parse_section`` (what ``attach()`` does), the
feature a section's programs need, the image label of a program libbpf gives
no type, what to load a program as where libbpf 1.1 cannot tell, and which
kprobes and uprobes are return probes.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpfman.kinds import AttachType, ProgramType

# libbpf's section suffixes (``cgroup/<name>``, ``cgroup_skb/<name>``) -> attach type
CGROUP_SECTIONS: dict[str, AttachType] = {
    "ingress": AttachType.CGROUP_INET_INGRESS,
    "egress": AttachType.CGROUP_INET_EGRESS,
    "sock_create": AttachType.CGROUP_INET_SOCK_CREATE,
    "sock": AttachType.CGROUP_INET_SOCK_CREATE,
    "sock_release": AttachType.CGROUP_INET_SOCK_RELEASE,
    "sock_ops": AttachType.CGROUP_SOCK_OPS,
    "post_bind4": AttachType.CGROUP_INET4_POST_BIND,
    "post_bind6": AttachType.CGROUP_INET6_POST_BIND,
    "bind4": AttachType.CGROUP_INET4_BIND,
    "bind6": AttachType.CGROUP_INET6_BIND,
    "connect4": AttachType.CGROUP_INET4_CONNECT,
    "connect6": AttachType.CGROUP_INET6_CONNECT,
    "sendmsg4": AttachType.CGROUP_UDP4_SENDMSG,
    "sendmsg6": AttachType.CGROUP_UDP6_SENDMSG,
    "recvmsg4": AttachType.CGROUP_UDP4_RECVMSG,
    "recvmsg6": AttachType.CGROUP_UDP6_RECVMSG,
    "getpeername4": AttachType.CGROUP_INET4_GETPEERNAME,
    "getpeername6": AttachType.CGROUP_INET6_GETPEERNAME,
    "getsockname4": AttachType.CGROUP_INET4_GETSOCKNAME,
    "getsockname6": AttachType.CGROUP_INET6_GETSOCKNAME,
    "sysctl": AttachType.CGROUP_SYSCTL,
    "getsockopt": AttachType.CGROUP_GETSOCKOPT,
    "setsockopt": AttachType.CGROUP_SETSOCKOPT,
    "dev": AttachType.CGROUP_DEVICE,
}


@dataclass(frozen=True)
class SectionDef:
    """One row of the section table (libbpf's ``section_defs[]``, for what pybpfman needs).

    ``syntax`` names how the part after the prefix reads (``by_section`` parses
    it); ``kind`` is the attach kind (a key of ``by_section.KINDS``; "" where
    ``attach()`` cannot attach); ``label`` is upstream's image label word for a
    program libbpf gives no type; ``load_as`` the types to load a program
    with where libbpf 1.1 does not know the section.
    """

    prefixes: tuple[str, ...]  # a sleepable ".s" suffix is stripped before the lookup
    kind: str
    feature: str
    syntax: str = ""
    label: str = ""
    retprobe: bool = False
    load_as: tuple[ProgramType, AttachType] | None = None


_RAW_TP = ("raw_tracepoint", "raw_tp", "raw_tracepoint.w", "raw_tp.w")
_UPROBE_MULTI = (ProgramType.KPROBE, AttachType.TRACE_UPROBE_MULTI)

SECTION_DEFS: tuple[SectionDef, ...] = (
    SectionDef(("tracepoint", "tp"), "tracepoint", "tracepoint", "tracepoint", "tracepoint"),
    SectionDef(_RAW_TP, "raw_tracepoint", "raw_tp", "name"),
    SectionDef(("kprobe",), "kprobe", "kprobe", "function", "probe"),
    SectionDef(("kretprobe",), "kprobe", "kprobe", "function", "probe", retprobe=True),
    SectionDef(("ksyscall",), "kprobe", "kprobe", "syscall", "probe"),
    SectionDef(("kretsyscall",), "kprobe", "kprobe", "syscall", "probe", retprobe=True),
    SectionDef(("uprobe",), "uprobe", "uprobe", "binary", "probe"),
    SectionDef(("uretprobe",), "uprobe", "uprobe", "binary", "probe", retprobe=True),
    SectionDef(("fentry", "fexit"), "trace", "trampolines", label="tracing"),
    SectionDef(("fmod_ret",), "trace", "trampolines"),
    SectionDef(("tp_btf",), "trace", "tp_btf"),
    SectionDef(("lsm",), "trace", "lsm"),
    SectionDef(("freplace",), "freplace", "freplace", "function_name"),
    SectionDef(("xdp", "xdp.frags"), "xdp", "xdp", "xdp", "xdp"),
    SectionDef(("tc", "classifier"), "tc", "tc", "direction", "tc"),
    SectionDef(("action",), "", "tc", label="tc"),
    SectionDef(("tcx",), "tcx", "tcx", "direction", "tc"),
    SectionDef(("cgroup_skb", "cgroup", "sockops"), "cgroup", "cgroup", "cgroup"),
    SectionDef(("perf_event",), "perf_event", "perf_event", "perf_fd"),
    SectionDef(("uprobe.multi",), "uprobe_multi", "uprobe_multi", "pattern", load_as=_UPROBE_MULTI),
    SectionDef(
        ("uretprobe.multi",),
        "uprobe_multi",
        "uprobe_multi",
        "pattern",
        retprobe=True,
        load_as=_UPROBE_MULTI,
    ),
    SectionDef(("kprobe.multi",), "kprobe_multi", "kprobe_multi", "glob"),
    SectionDef(("kretprobe.multi",), "kprobe_multi", "kprobe_multi", "glob", retprobe=True),
    SectionDef(("usdt",), "usdt", "uprobe", "usdt"),
)

_BY_PREFIX: dict[str, SectionDef] = {p: d for d in SECTION_DEFS for p in d.prefixes}


def prefix_of(section: str) -> str:
    """``kprobe.s/do_x`` -> ``kprobe``: the table's key of *section*."""
    return section.partition("/")[0].removesuffix(".s")


def section_def(section: str) -> SectionDef | None:
    """The row of ELF *section* (None: a section pybpfman has no row for)."""
    return _BY_PREFIX.get(prefix_of(section))
