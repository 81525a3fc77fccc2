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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bpfman.attach.sections import CGROUP_SECTIONS, SectionDef, prefix_of, section_def
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

def load_types(section: str) -> tuple[ProgramType, AttachType] | None:
    """What to load a program of *section* as, when libbpf cannot tell (None: libbpf can)."""
    row = section_def(section)
    return row.load_as if row else None

_METHODS = ", ".join(f"{fn}()" for _m, fn in KINDS.values())

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
    """What ``attach()`` does for a program of ELF section *section* (its row's syntax)."""
    row = section_def(section)
    if row is None or not row.kind:
        raise _unknown(section)
    _, slash, rest = section.partition("/")
    return _SYNTAX[row.syntax](row, prefix_of(section), slash + rest, section)


def _target(
    row: SectionDef, args: dict[str, Any] | None = None, needs: tuple[str, ...] = ()
) -> SectionTarget:
    """The row's target; its return-probe flag is an argument of its attach function."""
    fixed = {"retprobe": row.retprobe} if row.kind in _RETPROBE_KINDS else {}
    return SectionTarget(row.kind, row.feature, {**fixed, **(args or {})}, needs)


_RETPROBE_KINDS = ("kprobe", "uprobe", "uprobe_multi", "kprobe_multi")


def _tracepoint(row: SectionDef, base: str, tail: str, section: str) -> SectionTarget:
    if not tail:
        return _target(row, needs=("group", "name"))
    group, _, name = tail[1:].partition("/")
    if not group or not name or "/" in name:
        raise _unknown(section, "expected tracepoint/GROUP/NAME")
    return _target(row, {"group": group, "name": name})


def _name(row: SectionDef, base: str, tail: str, section: str) -> SectionTarget:
    rest = tail[1:]
    return _target(row, {"name": rest}) if rest else _target(row, needs=("name",))


def _function(row: SectionDef, base: str, tail: str, section: str) -> SectionTarget:
    rest = tail[1:]
    if not rest:
        return _target(row, needs=("fn",))
    fn, off = _fn_offset(rest, section)
    return _target(row, {"fn": fn, "offset": off})


def _syscall(row: SectionDef, base: str, tail: str, section: str) -> SectionTarget:
    rest = tail[1:]
    if not rest:
        raise _unknown(section, "expected ksyscall/NAME")
    return _target(row, {"fn": _SYSCALL_PREFIX.get(platform.machine(), "__x64_sys_") + rest})


def _binary(row: SectionDef, base: str, tail: str, section: str) -> SectionTarget:
    rest = tail[1:]
    if not rest:
        return _target(row, needs=("target",))
    return _target(row, _uprobe_target(rest, section))


def _none(row: SectionDef, base: str, tail: str, section: str) -> SectionTarget:
    return _target(row)


def _function_name(row: SectionDef, base: str, tail: str, section: str) -> SectionTarget:
    rest = tail[1:]
    if rest:
        return _target(row, {"func_name": rest}, needs=("target_prog",))
    return _target(row, needs=("target_prog", "func_name"))


def _xdp(row: SectionDef, base: str, tail: str, section: str) -> SectionTarget:
    rest = tail[1:]
    if rest in ("devmap", "cpumap"):
        raise _unknown(section, f"an XDP program for a {rest} entry, not an interface")
    return _target(row, needs=("iface",))


def _direction(row: SectionDef, base: str, tail: str, section: str) -> SectionTarget:
    rest = tail[1:]
    args = {"direction": rest} if rest in ("ingress", "egress") else {}
    return _target(row, args, needs=("iface",))


def _cgroup(row: SectionDef, base: str, tail: str, section: str) -> SectionTarget:
    return _cgroup_target(section, base, tail[1:])


def _perf_fd(row: SectionDef, base: str, tail: str, section: str) -> SectionTarget:
    return _target(row, needs=("perf_fd",))


def _pattern(row: SectionDef, base: str, tail: str, section: str) -> SectionTarget:
    rest = tail[1:]
    if not rest:
        return _target(row, needs=("target",))
    target, colon, pattern = rest.partition(":")
    if not colon or not target or not pattern:
        raise _unknown(section, "expected uprobe.multi/BINARY:PATTERN")
    return _target(row, {"target": target, "functions": [pattern]})


def _glob(row: SectionDef, base: str, tail: str, section: str) -> SectionTarget:
    rest = tail[1:]
    return _target(row, {"pattern": rest}) if rest else _target(row, needs=("pattern",))


def _usdt(row: SectionDef, base: str, tail: str, section: str) -> SectionTarget:
    rest = tail[1:]
    if not rest:
        return _target(row, needs=("target", "provider", "name"))
    binary_provider, _, name = rest.rpartition(":")
    binary, colon, provider = binary_provider.rpartition(":")
    if not colon or not binary or not provider or not name:
        raise _unknown(section, "expected usdt/BINARY:PROVIDER:NAME")
    return _target(row, {"target": binary, "provider": provider, "name": name})


# a row's syntax -> how the part after its prefix reads
_SYNTAX: dict[str, Callable[[SectionDef, str, str, str], SectionTarget]] = {
    "tracepoint": _tracepoint,
    "name": _name,
    "function": _function,
    "syscall": _syscall,
    "binary": _binary,
    "": _none,
    "function_name": _function_name,
    "xdp": _xdp,
    "direction": _direction,
    "cgroup": _cgroup,
    "perf_fd": _perf_fd,
    "pattern": _pattern,
    "glob": _glob,
    "usdt": _usdt,
}


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
