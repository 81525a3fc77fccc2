"""The kernel probes behind ``bpfman.features``: one function per feature, their messages.

Each returns ``(available, detail)`` and does the real thing where that is
cheap: load a two-instruction program of the kind with a raw ``bpf()`` call,
attach it where attaching is what can fail, look for the PMU, query the hook.
``bpfman.features`` runs each once per process.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import errno as _errno
import os
import re
import struct
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple

from bpfman import _libbpf, _sys
from bpfman._libbpf import lib
from bpfman.errors import ENOTSUPP, BpfError
from bpfman.kinds import AttachType, MapType, ProgramType

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
    """One probe's result: ``detail`` says why when the feature is not ``available``."""

    name: str
    available: bool
    detail: str


# kernel functions a probe can safely hang a trampoline or LSM program on
FENTRY_TARGETS = ("bpf_fentry_test1", "do_unlinkat", "vfs_read")
LSM_TARGETS = ("bpf_lsm_file_open", "bpf_lsm_bpf")
BTF_KIND_TYPEDEF = 8
BTF_KIND_FUNC = 12

PROBES: dict[str, Callable[[], tuple[bool, str]]] = {}  # by feature name, in display order


def _probe(name: str) -> Callable[[Callable[[], tuple[bool, str]]], Callable[[], tuple[bool, str]]]:
    def register(fn: Callable[[], tuple[bool, str]]) -> Callable[[], tuple[bool, str]]:
        PROBES[name] = fn
        return fn

    return register


@cache
def probe(name: str) -> Feature:
    """The probe result of feature *name*, run once per process (a probe may use another's)."""
    if name in PROBES:
        return Feature(name, *PROBES[name]())
    kind, _, type_name = name.partition(":")
    if kind in ("prog_type", "map_type") and type_name:
        return Feature(name, *type_probe(kind, type_name))
    raise ValueError(
        f"unknown feature {name!r} (known: {', '.join(PROBES)}, prog_type:*, map_type:*)"
    )


def available(name: str) -> bool:
    return probe(name).available


# --------------------------------------------------------------------------- host facts


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


# --------------------------------------------------------------------------- helpers


def _denied(e: BpfError) -> bool:
    return e.errno == _errno.EPERM and os.geteuid() != 0


def _load(prog_type: int, **kw: Any) -> int:
    return _sys.prog_load(prog_type, **kw)


@cache
def _vmlinux_ids() -> dict[str, int]:
    """BTF ids in vmlinux of the functions and typedefs the probes attach to."""

    wanted = [(n, BTF_KIND_FUNC) for n in (*FENTRY_TARGETS, *LSM_TARGETS)]
    wanted.append(("btf_trace_sys_enter", BTF_KIND_TYPEDEF))
    if not os.path.exists(VMLINUX_BTF):
        return {}
    btf = lib.btf__load_vmlinux_btf()
    if not btf:
        return {}
    try:
        out = {}
        for name, kind in wanted:
            tid = int(lib.btf__find_by_name_kind(btf, name.encode(), kind))
            if tid > 0:
                out[name] = tid
        return out
    finally:
        lib.btf__free(btf)


def _load_and_attach(prog_type: int, attach_type: int, target: str) -> tuple[bool, str, int]:
    """Load a trampoline-style program on vmlinux BTF id of *target* and attach it.

    (ok, what failed, errno).
    """

    try:
        fd = _load(
            prog_type, expected_attach_type=attach_type, attach_btf_id=_vmlinux_ids()[target]
        )
    except BpfError as e:
        return False, "load", e.errno
    try:
        link = int(lib.bpf_raw_tracepoint_open(None, fd))
        if link < 0:
            return False, "attach", ctypes.get_errno() or -link
        os.close(link)
        return True, "", 0
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- probes


@_probe("kernel")
def _kernel() -> tuple[bool, str]:
    return True, os.uname().release


@_probe("btf")
def _btf() -> tuple[bool, str]:
    try:
        return True, f"{VMLINUX_BTF} ({os.path.getsize(VMLINUX_BTF)} bytes)"
    except OSError:
        return False, BTF_MISSING


@_probe("tracefs")
def _tracefs() -> tuple[bool, str]:
    for root in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.isdir(os.path.join(root, "events")):
            return True, root
    return False, TRACEFS_MISSING


@_probe("tracepoint")
def _tracepoint() -> tuple[bool, str]:
    tfs = probe("tracefs")
    if not tfs.available:
        return False, tfs.detail
    return _loads_detail(ProgramType.TRACEPOINT, "tracepoint programs")


@_probe("raw_tp")
def _raw_tp() -> tuple[bool, str]:
    return _loads_detail(ProgramType.RAW_TRACEPOINT, "raw tracepoint programs")


def _loads_detail(prog_type: int, what: str, **kw: Any) -> tuple[bool, str]:
    try:
        os.close(_load(prog_type, **kw))
    except BpfError as e:
        if _denied(e):
            return False, f"{what} {NEEDS_ROOT}"
        return False, f"this kernel refuses {what} ({os.strerror(e.errno)})"
    return True, f"{what} load"


@_probe("tp_btf")
def _tp_btf() -> tuple[bool, str]:
    if not available("btf"):
        return False, BTF_MISSING
    if "btf_trace_sys_enter" not in _vmlinux_ids():
        return False, "no btf_trace_sys_enter in the kernel BTF"
    ok, step, err = _load_and_attach(
        ProgramType.TRACING, AttachType.TRACE_RAW_TP, "btf_trace_sys_enter"
    )
    if ok:
        return True, "tp_btf program on sys_enter loads and attaches"
    if err == _errno.EPERM and os.geteuid() != 0:
        return False, f"tp_btf {NEEDS_ROOT}"
    if step == "load":
        return False, TP_BTF_REFUSED
    return False, f"tp_btf programs load but do not attach ({os.strerror(err)})"


@_probe("kprobe")
def _kprobe() -> tuple[bool, str]:
    t = pmu_type("kprobe")
    if t is not None:
        return True, f"kprobe PMU (perf type {t})"
    tfs = probe("tracefs")
    if tfs.available and os.path.exists(os.path.join(tfs.detail, "kprobe_events")):
        return False, "the kernel has only legacy kprobe_events, no kprobe PMU (Linux < 4.17)"
    return False, KPROBES_MISSING


@_probe("uprobe")
def _uprobe() -> tuple[bool, str]:
    t = pmu_type("uprobe")
    if t is not None:
        return True, f"uprobe PMU (perf type {t})"
    return False, UPROBES_MISSING


@_probe("perf_event")
def _perf_event() -> tuple[bool, str]:
    return _loads_detail(ProgramType.PERF_EVENT, "perf_event programs")


@_probe("perf_link")
def _perf_link() -> tuple[bool, str]:
    """BPF_LINK_CREATE for perf events: EBADF on a non-perf fd means the kernel knows it."""
    try:
        fd = _load(ProgramType.TRACEPOINT)
    except BpfError as e:
        return False, NEEDS_ROOT if _denied(e) else f"no tracepoint programs ({e})"
    try:
        o = _libbpf.opts(_libbpf.bpf_link_create_opts)
        link = int(lib.bpf_link_create(fd, fd, int(AttachType.PERF_EVENT), ctypes.byref(o)))
        if link >= 0:  # cannot happen: fd is not a perf event
            os.close(link)
            return True, "perf event links (BPF_LINK_CREATE)"
        err = -link
    finally:
        os.close(fd)
    if err == _errno.EBADF:
        return True, "perf event links (BPF_LINK_CREATE)"
    return False, f"no perf event links: Linux 5.15 or newer needed ({os.strerror(err)})"


@_probe("trampolines")
def _trampolines() -> tuple[bool, str]:
    if not available("btf"):
        return False, BTF_MISSING
    target = next((n for n in FENTRY_TARGETS if n in _vmlinux_ids()), None)
    if target is None:
        return False, f"none of {', '.join(FENTRY_TARGETS)} in the kernel BTF"
    ok, step, err = _load_and_attach(ProgramType.TRACING, AttachType.TRACE_FENTRY, target)
    if ok:
        return True, f"fentry on {target} loads and attaches"
    if err == _errno.EPERM and os.geteuid() != 0:
        return False, f"fentry {NEEDS_ROOT}"
    if step == "load" and err == _errno.EPERM:
        return False, TRAMPOLINES_REFUSED
    if err in (_errno.EOPNOTSUPP, ENOTSUPP):
        return False, "this kernel has no BPF trampoline for this architecture"
    return False, f"fentry programs do not {step} on this kernel ({os.strerror(err)})"


# An XDP program whose main calls a global function "probe" (insn 2), to replace it with
# an extension. BTF types: 1 int, 2 int(void), 3 func "main", 4 global func "probe".
_TARGET_INSNS = bytes.fromhex(
    "8510000001000000"  # call pc+1 (BPF_PSEUDO_CALL: the subprogram at insn 2)
    "9500000000000000"  # exit
    "b700000000000000"  # r0 = 0
    "9500000000000000"  # exit
)
_PROBE_FUNC_ID = 4


def _target_btf() -> bytes:
    strings = b"\0int\0main\0probe\0"
    types = struct.pack("<IIII", 1, 1 << 24, 4, (1 << 24) | 32)  # int: signed, 32 bits
    types += struct.pack("<III", 0, 13 << 24, 1)  # func_proto: int (void)
    types += struct.pack("<III", 5, 12 << 24, 2)  # func "main" (static linkage)
    types += struct.pack("<III", 10, (12 << 24) | 1, 2)  # func "probe" (global linkage)
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings


@_probe("freplace")
def _freplace() -> tuple[bool, str]:
    """Load an XDP program with BTF, then an extension replacing its global function."""
    try:
        btf_fd = _sys.btf_load(_target_btf())
    except BpfError as e:
        return False, NEEDS_ROOT if _denied(e) else f"cannot load BTF ({e})"
    try:
        target_finfo = struct.pack("<IIII", 0, 3, 2, _PROBE_FUNC_ID)
        try:
            target = _load(
                ProgramType.XDP, insns=_TARGET_INSNS, btf_fd=btf_fd, func_info=target_finfo
            )
        except BpfError as e:
            return False, f"cannot load the probe's target program ({e}: {_last_line(e.log)})"
        try:
            ext = _load(
                ProgramType.EXT,
                btf_fd=btf_fd,
                func_info=struct.pack("<II", 0, _PROBE_FUNC_ID),
                attach_btf_id=_PROBE_FUNC_ID,
                attach_prog_fd=target,
            )
            os.close(ext)
        finally:
            os.close(target)
    except BpfError as e:
        if _denied(e):
            return False, f"freplace {NEEDS_ROOT}"
        if e.errno == _errno.EPERM:
            return False, TRAMPOLINES_REFUSED
        why = f"{os.strerror(e.errno)}: {_last_line(e.log)}" if e.log else os.strerror(e.errno)
        return False, f"freplace programs do not load on this kernel ({why})"
    finally:
        os.close(btf_fd)
    return True, "an extension program replaces a function of an XDP program"


def _last_line(log: str) -> str:
    lines = [line for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else "no verifier log"


@_probe("lsm")
def _lsm() -> tuple[bool, str]:
    if not available("btf"):
        return False, BTF_MISSING
    target = next((n for n in LSM_TARGETS if n in _vmlinux_ids()), None)
    if target is None:
        return False, "the kernel has no BPF LSM hooks (built without CONFIG_BPF_LSM)"
    try:
        os.close(
            _load(
                ProgramType.LSM,
                expected_attach_type=AttachType.LSM_MAC,
                attach_btf_id=_vmlinux_ids()[target],
            )
        )
    except BpfError as e:
        if _denied(e):
            return False, f"lsm {NEEDS_ROOT}"
        return False, LSM_REFUSED
    try:
        with builtins.open("/sys/kernel/security/lsm") as f:
            active = f.read().strip().split(",")
    except OSError:
        return True, "lsm programs load (active LSMs unknown: securityfs not mounted)"
    if "bpf" not in active:
        return False, LSM_INACTIVE
    return True, f"bpf LSM active ({','.join(active)})"


@_probe("cgroup")
def _cgroup() -> tuple[bool, str]:
    root = cgroup2_mount()
    if root is None:
        return False, CGROUP2_MISSING
    ok, detail = _loads_detail(ProgramType.CGROUP_SKB, "cgroup_skb programs")
    return ok, f"cgroup v2 at {root}" if ok else detail


@_probe("xdp")
def _xdp() -> tuple[bool, str]:
    return _loads_detail(ProgramType.XDP, "xdp programs")


@_probe("xdp_link")
def _xdp_link() -> tuple[bool, str]:
    if kernel_version() >= (5, 9, 0):
        return True, "XDP bpf_links (Linux >= 5.9)"
    return False, "XDP bpf_links need Linux 5.9 or newer"


@_probe("tc")
def _tc() -> tuple[bool, str]:
    return _loads_detail(ProgramType.SCHED_CLS, "tc (sched_cls) programs")


@_probe("tcx")
def _tcx() -> tuple[bool, str]:
    """BPF_PROG_QUERY on lo's tcx ingress hook: older kernels do not know the attach type."""

    try:
        _sys.prog_query(1, int(AttachType.TCX_INGRESS))
    except BpfError as e:
        if _denied(e):
            return False, f"tcx {NEEDS_ROOT}"
        return False, TCX_MISSING
    return True, "tcx hooks (BPF_PROG_QUERY on lo answers)"


UPROBE_MULTI_MISSING = "uprobe_multi is not available: it needs Linux 6.6 or newer"
KPROBE_MULTI_MISSING = "kprobe_multi is not available: this kernel was built without CONFIG_FPROBE"


@_probe("uprobe_multi")
def _uprobe_multi() -> tuple[bool, str]:
    """A uprobe_multi link on "/" (a directory): EBADF where the kernel has the link type."""
    try:
        fd = _load(ProgramType.KPROBE, expected_attach_type=AttachType.TRACE_UPROBE_MULTI)
    except BpfError as e:
        return False, NEEDS_ROOT if _denied(e) else UPROBE_MULTI_MISSING
    try:
        os.close(_sys.link_create_uprobe_multi(fd, b"/", [0]))
        err = 0
    except BpfError as e:
        err = e.errno
    finally:
        os.close(fd)
    if err in (0, _errno.EBADF):
        return True, "uprobe_multi links (BPF_LINK_CREATE)"
    return False, UPROBE_MULTI_MISSING


@_probe("kprobe_multi")
def _kprobe_multi() -> tuple[bool, str]:
    """A real kprobe_multi link on one kernel function, closed at once."""
    try:
        fd = _load(ProgramType.KPROBE, expected_attach_type=AttachType.TRACE_KPROBE_MULTI)
    except BpfError as e:
        return False, NEEDS_ROOT if _denied(e) else "kprobe_multi needs Linux 5.18 or newer"
    try:
        syms = (ctypes.c_char_p * 1)(FENTRY_TARGETS[1].encode())  # do_unlinkat
        o = _libbpf.opts(_libbpf.bpf_link_create_opts)
        o.kprobe_multi.cnt = 1
        o.kprobe_multi.syms = ctypes.cast(syms, ctypes.c_void_p)
        link = int(lib.bpf_link_create(fd, 0, int(AttachType.TRACE_KPROBE_MULTI), ctypes.byref(o)))
    finally:
        os.close(fd)
    if link >= 0:
        os.close(link)
        return True, "kprobe_multi links (fprobe)"
    if -link in (_errno.EOPNOTSUPP, ENOTSUPP):
        return False, KPROBE_MULTI_MISSING
    return False, f"kprobe_multi is not available: {os.strerror(-link)}"


@_probe("ringbuf")
def _ringbuf() -> tuple[bool, str]:
    f = probe("map_type:ringbuf")
    return f.available, "ring buffer maps" if f.available else f.detail


@_probe("batch_ops")
def _batch_ops() -> tuple[bool, str]:
    """A batch lookup on an empty hash map: ENOENT when the kernel has batch operations."""

    fd = int(lib.bpf_map_create(1, None, 4, 4, 4, None))  # BPF_MAP_TYPE_HASH
    if fd < 0:
        return False, f"cannot create a map ({os.strerror(ctypes.get_errno())})"
    try:
        keys = ctypes.create_string_buffer(16)
        vals = ctypes.create_string_buffer(16)
        out = ctypes.c_uint32()
        count = ctypes.c_uint32(4)
        o = _libbpf.opts(_libbpf.bpf_map_batch_opts)
        err = int(
            lib.bpf_map_lookup_batch(
                fd, None, ctypes.byref(out), keys, vals, ctypes.byref(count), ctypes.byref(o)
            )
        )
    finally:
        os.close(fd)
    if err == 0 or -err == _errno.ENOENT:
        return True, "map batch lookup/update/delete"
    return False, f"no map batch operations: Linux 5.6 or newer needed ({os.strerror(-err)})"


# --------------------------------------------------------------------------- type probes

_RAW_PROBE_ATTACH = {"netfilter": 45}  # types libbpf 1.1 cannot probe: expected attach type


def type_probe(kind: str, type_name: str) -> tuple[bool, str]:
    """``kind`` is "prog_type" or "map_type": libbpf's probe, raw where libbpf has none."""

    enum_cls = ProgramType if kind == "prog_type" else MapType
    try:
        value = enum_cls[type_name.upper()]
    except KeyError:
        raise ValueError(f"unknown {kind.replace('_', ' ')} {type_name!r}") from None
    if kind == "prog_type":
        ret = int(lib.libbpf_probe_bpf_prog_type(int(value), None))
        if ret < 0 and type_name in _RAW_PROBE_ATTACH:
            attach_type = _RAW_PROBE_ATTACH[type_name]
            return _loads_detail(value, f"{type_name} programs", expected_attach_type=attach_type)
    else:
        ret = int(lib.libbpf_probe_bpf_map_type(int(value), None))
    if ret == 1:
        return True, "supported"
    if ret == 0:
        return False, f"this kernel does not support {type_name} {kind[:-5]}s"
    major, minor = _libbpf.version()
    return False, f"libbpf {major}.{minor} cannot probe it ({os.strerror(-ret)})"
