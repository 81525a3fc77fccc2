"""``Program.attach()``: attach as the program's ELF section says.

``parse_section`` is a pure function from a section name (libbpf's
conventions: ``tp/syscalls/sys_enter_kill``, ``kprobe/do_unlinkat+0x10``,
``uprobe/libc.so.6:getpid``, ``cgroup_skb/egress``, ...) to the attach
function, the arguments the section fixes, and the ones the caller must give
(``iface=`` for ``xdp``, ``path=`` for cgroups, ...).
"""

from __future__ import annotations

import errno as _errno
import platform
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bpfman.attach.sections import CGROUP_SECTIONS
from bpfman.errors import BpfError
from bpfman.kinds import AttachType, ProgramType

if TYPE_CHECKING:
    from bpfman.link import Link
    from bpfman.program import Program

# kind -> (module under bpfman.attach, its function = the Program method of that name)
KINDS: dict[str, tuple[str, str]] = {
    "tracepoint": ("tracepoint", "attach_tracepoint"),
    "raw_tracepoint": ("tracepoint", "attach_raw_tracepoint"),
    "kprobe": ("kprobe", "attach_kprobe"),
    "uprobe": ("uprobe", "attach_uprobe"),
    "trace": ("trampoline", "attach_trace"),
    "freplace": ("trampoline", "attach_freplace"),
    "xdp": ("xdp", "attach_xdp"),
    "tc": ("tc", "attach_tc"),
    "tcx": ("tcx", "attach_tcx"),
    "cgroup": ("cgroup", "attach_cgroup"),
    "perf_event": ("perf_event", "attach_perf_event"),
    "uprobe_multi": ("uprobe_multi", "attach_uprobe_multi"),
    "kprobe_multi": ("kprobe_multi", "attach_kprobe_multi"),
    "usdt": ("usdt", "attach_usdt"),
}

# sections libbpf 1.1 does not know: program type and expected attach type, set before load
LOAD_TYPES: dict[str, tuple[ProgramType, AttachType]] = {
    "uprobe.multi": (ProgramType.KPROBE, AttachType.TRACE_UPROBE_MULTI),
    "uretprobe.multi": (ProgramType.KPROBE, AttachType.TRACE_UPROBE_MULTI),
}


def load_types(section: str) -> tuple[ProgramType, AttachType] | None:
    """What to load a program of *section* as, when libbpf cannot tell (None: libbpf can)."""
    prefix = section.partition("/")[0]
    return LOAD_TYPES.get(prefix.removesuffix(".s"))

_METHODS = ", ".join(f"{fn}()" for _m, fn in KINDS.values())

# the prefix of a fentry-like section names the feature its programs need
_TRACE_FEATURES = {
    "fentry": "trampolines",
    "fexit": "trampolines",
    "fmod_ret": "trampolines",
    "tp_btf": "tp_btf",
    "lsm": "lsm",
}

_SYSCALL_PREFIX = {
    "x86_64": "__x64_sys_",
    "aarch64": "__arm64_sys_",
    "s390x": "__s390x_sys_",
    "riscv64": "__riscv_sys_",
}


@dataclass(frozen=True)
class SectionTarget:
    kind: str  # a key of KINDS
    feature: str  # the bpfman.features name this kind needs
    args: dict[str, Any] = field(default_factory=dict)  # fixed by the section
    needs: tuple[str, ...] = ()  # keyword arguments attach() must be given

    @property
    def method(self) -> str:
        return KINDS[self.kind][1]


def _unknown(section: str, why: str = "") -> BpfError:
    reason = f" ({why})" if why else ""
    return BpfError(
        f"attach() cannot attach section {section!r} by itself{reason}: call one of {_METHODS}",
        errno=_errno.EINVAL,
    )


def _offset(text: str, section: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise _unknown(section, f"bad offset {text!r}") from None


def _fn_offset(spec: str, section: str) -> tuple[str, int]:
    """``fn+0x10`` -> ("fn", 16)."""
    fn, plus, off = spec.partition("+")
    return fn, _offset(off, section) if plus else 0


def parse_section(section: str) -> SectionTarget:
    """What ``attach()`` does for a program of ELF section *section*."""
    prefix, slash, rest = section.partition("/")
    base = prefix.removesuffix(".s")  # sleepable variants attach the same way
    if base in ("tracepoint", "tp"):
        if not slash:
            return SectionTarget("tracepoint", "tracepoint", needs=("group", "name"))
        group, _, name = rest.partition("/")
        if not group or not name or "/" in name:
            raise _unknown(section, "expected tracepoint/GROUP/NAME")
        return SectionTarget("tracepoint", "tracepoint", {"group": group, "name": name})
    if base in ("raw_tracepoint", "raw_tp", "raw_tracepoint.w", "raw_tp.w"):
        if not rest:
            return SectionTarget("raw_tracepoint", "raw_tp", needs=("name",))
        return SectionTarget("raw_tracepoint", "raw_tp", {"name": rest})
    if base in ("kprobe", "kretprobe"):
        args: dict[str, Any] = {"retprobe": base == "kretprobe"}
        if not rest:
            return SectionTarget("kprobe", "kprobe", args, needs=("fn",))
        fn, off = _fn_offset(rest, section)
        return SectionTarget("kprobe", "kprobe", {**args, "fn": fn, "offset": off})
    if base in ("ksyscall", "kretsyscall"):
        prefix_fn = _SYSCALL_PREFIX.get(platform.machine(), "__x64_sys_")
        args = {"retprobe": base == "kretsyscall"}
        if not rest:
            raise _unknown(section, "expected ksyscall/NAME")
        return SectionTarget("kprobe", "kprobe", {**args, "fn": prefix_fn + rest})
    if base in ("uprobe", "uretprobe"):
        args = {"retprobe": base == "uretprobe"}
        if not rest:
            return SectionTarget("uprobe", "uprobe", args, needs=("target",))
        return SectionTarget("uprobe", "uprobe", {**args, **_uprobe_target(rest, section)})
    if base in _TRACE_FEATURES:
        return SectionTarget("trace", _TRACE_FEATURES[base])
    if base == "freplace":
        args = {"func_name": rest} if rest else {}
        needs = ("target_prog",) if rest else ("target_prog", "func_name")
        return SectionTarget("freplace", "freplace", args, needs=needs)
    if base in ("xdp", "xdp.frags"):
        if rest in ("devmap", "cpumap"):
            raise _unknown(section, f"an XDP program for a {rest} entry, not an interface")
        return SectionTarget("xdp", "xdp", needs=("iface",))
    if base in ("tc", "classifier"):
        args = {"direction": rest} if rest in ("ingress", "egress") else {}
        return SectionTarget("tc", "tc", args, needs=("iface",))
    if base == "tcx":
        args = {"direction": rest} if rest in ("ingress", "egress") else {}
        return SectionTarget("tcx", "tcx", args, needs=("iface",))
    if base in ("cgroup_skb", "cgroup", "sockops"):
        return _cgroup_target(section, base, rest)
    if base == "perf_event":
        return SectionTarget("perf_event", "perf_event", needs=("perf_fd",))
    if base in ("uprobe.multi", "uretprobe.multi"):
        args = {"retprobe": base == "uretprobe.multi"}
        if not rest:
            return SectionTarget("uprobe_multi", "uprobe_multi", args, needs=("target",))
        target, colon, pattern = rest.partition(":")
        if not colon or not target or not pattern:
            raise _unknown(section, "expected uprobe.multi/BINARY:PATTERN")
        args |= {"target": target, "functions": [pattern]}
        return SectionTarget("uprobe_multi", "uprobe_multi", args)
    if base in ("kprobe.multi", "kretprobe.multi"):
        args = {"retprobe": base == "kretprobe.multi"}
        if not rest:
            return SectionTarget("kprobe_multi", "kprobe_multi", args, needs=("pattern",))
        return SectionTarget("kprobe_multi", "kprobe_multi", {**args, "pattern": rest})
    if base == "usdt":
        if not rest:
            return SectionTarget("usdt", "uprobe", needs=("target", "provider", "name"))
        binary_provider, _, name = rest.rpartition(":")
        binary, colon, provider = binary_provider.rpartition(":")
        if not colon or not binary or not provider or not name:
            raise _unknown(section, "expected usdt/BINARY:PROVIDER:NAME")
        args = {"target": binary, "provider": provider, "name": name}
        return SectionTarget("usdt", "uprobe", args)
    raise _unknown(section)


def _uprobe_target(rest: str, section: str) -> dict[str, Any]:
    """``/path/to/bin:fn+0x4``, ``libc.so.6:getpid``, ``/bin/x:0x1234`` -> attach_uprobe args."""
    target, colon, where = rest.partition(":")
    if not colon or not target or not where:
        raise _unknown(section, "expected uprobe/BINARY:FUNCTION[+OFFSET] or BINARY:OFFSET")
    if where[0].isdigit():
        return {"target": target, "offset": _offset(where, section)}
    fn, off = _fn_offset(where, section)
    return {"target": target, "fn": fn, "offset": off}


def _cgroup_target(section: str, base: str, rest: str) -> SectionTarget:
    if base == "sockops":
        return SectionTarget("cgroup", "cgroup", {"attach_type": "sock_ops"}, needs=("path",))
    if base == "cgroup" and rest == "skb":  # ingress or egress: the caller says which
        return SectionTarget("cgroup", "cgroup", needs=("path", "attach_type"))
    if base == "cgroup_skb" and rest not in ("ingress", "egress"):
        raise _unknown(section, "expected cgroup_skb/ingress or cgroup_skb/egress")
    if rest not in CGROUP_SECTIONS:
        raise _unknown(section, "unknown cgroup hook")
    return SectionTarget("cgroup", "cgroup", {"attach_type": rest}, needs=("path",))


def attach(prog: Program, **kw: Any) -> Link:
    """Attach *prog* as its section says; *kw* gives what the section leaves open."""
    import importlib
    import inspect

    if not prog.section:
        raise BpfError(
            f"program {prog.name} has no ELF section (reopened from a pin or an id?): "
            f"call one of {_METHODS}"
        )
    target = parse_section(prog.section)
    missing = [n for n in target.needs if n not in kw]
    if missing:
        given = ", ".join(f"{n}=..." for n in missing)
        raise BpfError(
            f"attach() of {prog.name} (section {prog.section!r}) needs {given}: "
            f"it calls {target.method}()",
            errno=_errno.EINVAL,
        )
    module_name, fn_name = KINDS[target.kind]
    fn = getattr(importlib.import_module(f"bpfman.attach.{module_name}"), fn_name)
    args = {**target.args, **kw}
    try:
        inspect.signature(fn).bind(prog, **args)
    except TypeError as e:
        raise BpfError(
            f"attach() of {prog.name} (section {prog.section!r}) calls {target.method}(): {e}",
            errno=_errno.EINVAL,
        ) from None
    link: Link = fn(prog, **args)
    return link
